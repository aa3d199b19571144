package templates

import (
	"bytes"
	"errors"
	"html/template"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// Pages rendered at once, in the same layout or without one, each get their own page, with no
// data race (run under -race), including the very first renders.
func TestConcurrentLayoutRenders(t *testing.T) {
	v := Engine(nil)
	if err := v.Load(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name, want := "pages/home", "商家后台"
			if i%2 == 1 {
				name, want = "pages/error", "请求编号 r1"
			}
			layout := "layouts/plain"
			if i%4 == 2 {
				layout = "" // renders without a layout used to swap the layout renders' pages
			}
			for range 200 {
				var b bytes.Buffer
				err := v.Render(&b, name, map[string]any{"Title": "t", "Status": 500, "Message": "m", "RequestID": "r1"}, layout)
				if err != nil || !strings.Contains(b.String(), want) {
					errs <- name + ": " + b.String()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// A page that fails inside a layout fails the render (gofiber's engine printed the error into
// the page and reported success); outside a layout too.
func TestBrokenPageInLayoutFails(t *testing.T) {
	files := fstest.MapFS{
		"layouts/l.html": {Data: []byte("<main>{{embed}}</main>")},
		"pages/p.html":   {Data: []byte("before {{fail}} after")},
		"pages/ok.html":  {Data: []byte("fine {{.}}")},
	}
	v := newViews(files, template.FuncMap{"fail": func() (string, error) { return "", errors.New("boom") }})
	if err := v.Load(); err != nil {
		t.Fatal(err)
	}
	for _, layout := range []string{"layouts/l", ""} {
		if err := v.Render(&bytes.Buffer{}, "pages/p", nil, layout); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("Render in %q: %v, want the page's error", layout, err)
		}
	}
	var b bytes.Buffer
	if err := v.Render(&b, "pages/ok", "<x>", "layouts/l"); err != nil || b.String() != "<main>fine &lt;x&gt;</main>" {
		t.Fatalf("the honest page: %v %q", err, b.String())
	}
	if err := v.Render(&bytes.Buffer{}, "pages/missing", nil, "layouts/l"); err == nil {
		t.Fatal("a missing page rendered")
	}
}

// Renders run in parallel: four renders, each waiting inside its page for the others to be
// inside theirs, all finish (a serialising engine would hold three of them outside).
func TestRendersRunInParallel(t *testing.T) {
	const n = 4
	var inside sync.WaitGroup
	inside.Add(n)
	met := make(chan struct{})
	go func() { inside.Wait(); close(met) }()
	files := fstest.MapFS{
		"layouts/l.html": {Data: []byte("<main>{{embed}}</main>")},
		"pages/p.html":   {Data: []byte("{{meet}}")},
	}
	v := newViews(files, template.FuncMap{"meet": func() (string, error) {
		inside.Done()
		select {
		case <-met:
			return "met", nil
		case <-time.After(5 * time.Second):
			return "", errors.New("waited 5 s for the other renders to run at the same time")
		}
	}})
	if err := v.Load(); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			var b bytes.Buffer
			layout := "layouts/l"
			if i%2 == 1 {
				layout = ""
			}
			errs <- v.Render(&b, "pages/p", nil, layout)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
