package campaign_test

import (
	"path/filepath"
	"testing"
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
