package templates

import (
	"bytes"
	"errors"
	"net/http"
	"testing/fstest"

	"github.com/gofiber/template/html/v2"

	"strings"
	"sync"
	"testing"
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

// A page that fails inside a layout fails the render, where gofiber's engine alone prints the
// error into the page and reports success.
func TestBrokenPageInLayoutFails(t *testing.T) {
	files := fstest.MapFS{
		"layouts/l.html": {Data: []byte("<main>{{embed}}</main>")},
		"pages/p.html":   {Data: []byte("before {{fail}} after")},
	}
	raw := html.NewFileSystem(http.FS(files), ".html")
	raw.AddFunc("fail", func() (string, error) { return "", errors.New("boom") })
	v := &Views{Engine: raw}
	if err := v.Load(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := raw.Render(&b, "pages/p", nil, "layouts/l"); err != nil || !strings.Contains(b.String(), "boom") {
		t.Fatalf("the engine alone: %v %q (expected it to swallow the error; if it no longer does, this wrapper can go)", err, b.String())
	}
	if err := v.Render(&bytes.Buffer{}, "pages/p", nil, "layouts/l"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Views.Render: %v, want the page's error", err)
	}
}
