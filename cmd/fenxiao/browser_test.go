package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Browser tests drive the real server in headless Chromium. Without Chromium they skip on a
// laptop and fail under CI=true, like the database tests. Screenshots go to artifacts/ at the
// repository root (gitignored) so a person can look at them.
//
// Every step is bounded: a step that does not finish within stepTimeout fails the test with
// what it waited for, the page's URL and text, and a screenshot and the DOM saved under
// artifacts/failures/<test>/. No step sleeps for luck: waits poll for the page's own state,
// and pages with a script say they are ready with <html data-ready="1"> once it has run.

// stepTimeout bounds one browser step: a navigation, a wait, a tap. A loaded 2-core machine
// renders any page of ours in well under a second; 30 s is room, not a target.
const stepTimeout = 30 * time.Second

// browserTimeout bounds a whole browser test as a safety net behind the step bounds.
const browserTimeout = 8 * time.Minute

// pageReady holds once the document has loaded and, if it has a script of its own, that
// script has run to its end (h5.js and console.js set data-ready last).
const pageReady = `(document.readyState === 'complete' && (document.documentElement.dataset.ready === '1' || !document.querySelector('script[src]')))`

// newBrowser starts a headless Chromium with a phone-sized or desktop viewport and returns a
// context for chromedp actions, cancelled when the test ends.
//
// FENXIAO_BROWSER_SLOWDOWN=N slows the browser's CPU and network down N times (DevTools'
// throttling), which is how a loaded machine is reproduced on a quiet one (make flaketest
// SLOWDOWN=N).
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
	// the browser), so it is bounded by a timer that cancels it instead.
	start := time.AfterFunc(stepTimeout, cancelCtx)
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium (bounded by %s): %v", stepTimeout, err)
	}
	start.Stop()
	stop := time.AfterFunc(browserTimeout, func() {
		t.Errorf("browser test still running after %s: the browser is stopped, the step running now fails", browserTimeout)
		cancelCtx()
	})
	t.Cleanup(func() { stop.Stop() })
	throttle(t, ctx)
	return ctx
}

// newTab opens another tab of the browser of ctx, throttled like the first.
func newTab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	// As with the browser, the tab's first Run carries no timeout: a timer bounds it.
	open := time.AfterFunc(stepTimeout, cancel)
	if _, err := chromedp.Run(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a tab (bounded by %s): %v", stepTimeout, err)
	}
	open.Stop()
	throttle(t, tab)
	return tab
}

func throttle(t *testing.T, ctx context.Context) {
	t.Helper()
	v := os.Getenv("FENXIAO_BROWSER_SLOWDOWN")
	if v == "" {
		return
	}
	rate, err := strconv.ParseFloat(v, 64)
	if err != nil || rate < 1 {
		t.Fatalf("FENXIAO_BROWSER_SLOWDOWN=%q: want a number ≥ 1", v)
	}
	// A slow phone on a slow network: the CPU rate× slower, each request 40 ms × rate late and
	// downloads at 2 MB/s ÷ rate.
	do(t, ctx, "slow the browser down", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: rate}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Latency: 40 * rate, DownloadThroughput: 2e6 / rate, UploadThroughput: -1}}})
		return err
	}))
}

// phone is a common phone in WeChat: a 390 × 844 mobile viewport with touch. The headless
// window cannot be narrower than 500 px, so the viewport is emulated.
func phone(t *testing.T) context.Context {
	ctx := newBrowser(t, 390, 844)
	do(t, ctx, "emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch))
	return ctx
}

// desktop is a laptop-sized window for the console.
func desktop(t *testing.T) context.Context { return newBrowser(t, 1366, 900) }

// stale reports a node or JavaScript context that the page replaced between finding it and
// acting on it (a navigation or a re-render): the action had no effect and may be tried again.
func stale(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	for _, m := range []string{"No node with given id", "Node is detached", "Could not find node with given id",
		"Cannot find context with specified id", "Execution context was destroyed", "Node with given id does not belong to the document"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// runStep runs one action within stepTimeout, trying it again while it meets a stale node.
func runStep[T any](ctx context.Context, a chromedp.Action[T]) (T, error) {
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	for {
		v, err := chromedp.Run(sctx, a)
		if !stale(err) {
			if err != nil && sctx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("not done within %s: %w", stepTimeout, err)
			}
			return v, err
		}
		select {
		case <-sctx.Done():
			return v, fmt.Errorf("the page kept replacing the node for %s: %w", stepTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// do runs browser actions in order, each within stepTimeout; it fails the test with what was
// being done. Each action is retried on its own when the page replaced its node, so an action
// that already took effect is never repeated.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for _, a := range actions {
		if _, err := runStep(ctx, a); err != nil {
			failPage(t, ctx, what, err)
		}
	}
}

// get runs one browser action for its value, within stepTimeout.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := runStep(ctx, a)
	if err != nil {
		failPage(t, ctx, what, err)
	}
	return v
}

// eval evaluates a JavaScript expression in the page (awaiting a promise).
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return get(t, ctx, "evaluate "+expr, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// waitFor polls a JavaScript condition until it holds on a ready page, for at most
// stepTimeout.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	if err := poll(ctx, pageReady+" && !!("+cond+")"); err != nil {
		failPage(t, ctx, "waiting for "+what+" ("+cond+")", err)
	}
}

// poll evaluates a JavaScript condition until it holds, for at most stepTimeout. Errors while
// a page is loading (no body yet, a context torn down) mean "not yet".
func poll(ctx context.Context, cond string) error {
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	var last error
	for {
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-sctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if last != nil {
				return fmt.Errorf("not true after %s (last error: %v)", stepTimeout, last)
			}
			return fmt.Errorf("not true after %s", stepTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// visible is the JavaScript test that sel finds an element a person could tap.
func visible(sel string) string {
	return fmt.Sprintf(`(function(){var e = document.querySelector(%q); if (!e || e.disabled) return false;
		var r = e.getBoundingClientRect(), s = getComputedStyle(e);
		return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.pointerEvents !== 'none'})()`, sel)
}

// tap clicks the element sel finds, the way a person does: once the page is ready and the
// element is shown and enabled. A node the page replaced meanwhile is looked up again.
func tap(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	do(t, ctx, what, shown(sel), chromedp.Click(chromedp.CSS(sel)))
}

// skipSplash dismisses the landing page's splash ad with its skip button, unless the ad's own
// countdown already did (a busy machine may take longer than its three seconds to get here).
// The check and the tap happen in one turn of the page's event loop, so they cannot race the
// countdown: a tap never lands on the page under a fading ad.
func skipSplash(t *testing.T, ctx context.Context) {
	t.Helper()
	waitFor(t, ctx, "the landing page", `document.getElementById('buy')`)
	eval[string](t, ctx, `(function(){var s = document.getElementById('splash');
		if (!s || s.hidden || s.classList.contains('gone')) return 'gone';
		s.querySelector('.splash-skip').click(); return 'tapped'})()`)
	waitFor(t, ctx, "the splash ad to go", `!document.getElementById('splash') || document.getElementById('splash').hidden`)
}

// waitText is an action that waits until the element sel shows part, within stepTimeout. It
// polls, so it survives the navigation a click starts (a page that just loaded may also still
// show the previous page's message, hence the text).
func waitText(sel, part string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(function(){var e = document.querySelector(%q); return !!e && e.innerText.indexOf(%q) >= 0})()`, sel, part)
	return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		if err := poll(ctx, pageReady+" && "+js); err != nil {
			return chromedp.Void{}, fmt.Errorf("%s never showed %q: %w", sel, part, err)
		}
		return chromedp.Void{}, nil
	}
}

// shown is an action that waits until the page is ready and sel finds an element a person
// could tap, within stepTimeout.
func shown(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		if err := poll(ctx, pageReady+" && "+visible(sel)); err != nil {
			return chromedp.Void{}, fmt.Errorf("%s never shown: %w", sel, err)
		}
		return chromedp.Void{}, nil
	}
}

// void runs an action for its effect, dropping its value.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// imagesLoaded holds once every picture of the page has arrived (a screenshot before that
// shows empty frames).
const imagesLoaded = `Array.prototype.every.call(document.images, i => i.complete)`

// shot saves a full-page screenshot as artifacts/<test>/<name>.png, once the page's pictures
// have arrived; subtests share their parent's folder.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	waitFor(t, ctx, "the pictures", imagesLoaded)
	saveArtifact(t, name+".png", get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))) // 100: PNG
}

// viewShot saves what the phone's screen shows (overlays included) under artifacts/<test>/.
func viewShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	waitFor(t, ctx, "the pictures", imagesLoaded)
	saveArtifact(t, name+".png", get(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot()))
}

func saveArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := filepath.Join("..", "..", "artifacts", strings.SplitN(t.Name(), "/", 2)[0])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var failures struct {
	sync.Mutex
	n map[string]int
}

// failPage fails the test with what it was doing, the page's URL and text, and saves a
// screenshot and the DOM under artifacts/failures/<test>/ for whoever reads the failure.
func failPage(t *testing.T, ctx context.Context, what string, err error) {
	t.Helper()
	// The step's own context may be spent; the evidence gets a few seconds of its own.
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ectx, chromedp.Location())
	text, _ := chromedp.Run(ectx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 600) : ''`))
	dom, _ := chromedp.Run(ectx, chromedp.Evaluate[string](`document.documentElement ? document.documentElement.outerHTML : ''`))
	png, _ := chromedp.Run(ectx, chromedp.CaptureScreenshot())

	failures.Lock()
	if failures.n == nil {
		failures.n = map[string]int{}
	}
	failures.n[t.Name()]++
	n := failures.n[t.Name()]
	failures.Unlock()
	dir := filepath.Join("..", "..", "artifacts", "failures", regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_"))
	base := filepath.Join(dir, fmt.Sprintf("%d", n))
	saved := "nothing saved"
	if os.MkdirAll(dir, 0o755) == nil {
		os.WriteFile(base+".html", []byte("<!-- "+loc+" -->\n"+dom), 0o644) //nolint:errcheck
		if len(png) > 0 {
			os.WriteFile(base+".png", png, 0o644) //nolint:errcheck
		}
		saved = base + ".png, " + base + ".html"
	}
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w (the browser was stopped: see the error above)", err)
	}
	t.Fatalf("%s: %v\n  at %s\n  saved %s\n  page text: %q", what, err, loc, saved, text)
}

func TestBrowserSeesHome(t *testing.T) {
	base := startTestServer(t)
	ctx := phone(t)
	do(t, ctx, "open the home page", chromedp.Navigate(base+"/"))
	if title := get(t, ctx, "the title", chromedp.Title()); title == "" {
		t.Fatal("home page has no title")
	}
	shot(t, ctx, "home")
}
