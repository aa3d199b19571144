package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser tests drive the real server in headless Chromium. Without Chromium they skip on a
// laptop and fail under CI=true, like the database tests. Screenshots go to artifacts/ at the
// repository root (gitignored) so a person can look at them.

// newBrowser starts a headless Chromium with a phone-sized or desktop viewport and returns a
// context for chromedp actions, cancelled when the test ends.
func newBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not installed (scripts/deps.sh installs it)")
		}
		t.Skip("chromium not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first Run starts the browser; its context must carry no timeout (that would stop
	// the browser), so bound the whole test with a timer that cancels it instead.
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	stop := time.AfterFunc(3*time.Minute, cancelCtx)
	t.Cleanup(func() { stop.Stop() })
	return ctx
}

// phone is a common phone in WeChat: a 390 × 844 mobile viewport with touch. The headless
// window cannot be narrower than 500 px, so the viewport is emulated.
func phone(t *testing.T) context.Context {
	ctx := newBrowser(t, 390, 844)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// desktop is a laptop-sized window for the console.
func desktop(t *testing.T) context.Context { return newBrowser(t, 1366, 900) }

// screenshot saves a full-page PNG under artifacts/<test>/<name>.png.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 gives PNG, less JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "artifacts", filepath.Base(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserSeesHome(t *testing.T) {
	base := startTestServer(t)
	ctx := phone(t)
	if _, err := chromedp.Run(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title == "" {
		t.Fatal("home page has no title")
	}
	screenshot(t, ctx, "home")
}
