package campaign_test

import (
	"path/filepath"
	"testing"
	"time"
)

// Each WeChat client keeps its merchant's client certificate in a private temporary file, for
// the SDK's refund call. Closing the merchant side removes those files: before, every process
// left one per merchant it had called WeChat Pay for in the temporary directory, private key
// included (425 of them on this machine after one morning of test runs).
func TestClosingTheMerchantSideRemovesCertificateFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newEnv(t, "")
	m := merchantsFor(t, e.db)
	files := func() []string {
		f, err := filepath.Glob(filepath.Join(tmp, "fenxiao-apiclient-*.p12"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if _, err := m.WeChatFor(ctx, e.merchant); err != nil {
		t.Fatal(err)
	}
	if f := files(); len(f) != 1 {
		t.Fatalf("certificate files after building one client: %v, want one", f)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if f := files(); len(f) != 0 {
		t.Fatalf("left after Close: %v", f)
	}
	if _, err := m.WeChatFor(ctx, e.merchant); err != nil {
		t.Fatalf("a client after Close: %v", err)
	}
}

// A client replaced by new credentials is not closed at once: a refund that took it a moment
// before reads its certificate file from disk. Before, the file went the moment the new client
// was built. It goes once no call can still be using it (retireAfter), or at Close.
func TestReplacedClientKeepsItsCertificateWhileInUse(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newEnv(t, "")
	m := merchantsFor(t, e.db)
	files := func() int {
		f, err := filepath.Glob(filepath.Join(tmp, "fenxiao-apiclient-*.p12"))
		if err != nil {
			t.Fatal(err)
		}
		return len(f)
	}
	if _, err := m.WeChatFor(ctx, e.merchant); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second) // the settings' updated_at must change
	defer clock.Advance(-time.Second)
	if err := m.SetWeChat(ctx, e.merchant, e.creds); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WeChatFor(ctx, e.merchant); err != nil {
		t.Fatal(err)
	}
	if n := files(); n != 2 {
		t.Fatalf("%d certificate files right after the client was replaced, want 2 (the old one may be in use)", n)
	}
	clock.Advance(3 * time.Minute)
	defer clock.Advance(-3 * time.Minute)
	if _, err := m.WeChatFor(ctx, e.merchant); err != nil {
		t.Fatal(err)
	}
	if n := files(); n != 1 {
		t.Fatalf("%d certificate files three minutes later, want 1", n)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := files(); n != 0 {
		t.Fatalf("%d certificate files after Close, want none", n)
	}
}
