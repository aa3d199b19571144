// Package templates embeds every HTML template and static asset of Fenxiao: the H5 pages
// followers see in WeChat, the merchant console and the shared error page.
//
// Pages render inside a layout per audience (layouts/h5, layouts/console) through the
// engine's {{embed}}. The engine keeps one namespace of {{define}} names, so no two pages
// may define the same name. Static files are served from /static/ with a content hash in the
// query string, so a deploy never leaves a phone with a stale script.
package templates

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sync"

	"github.com/gofiber/template/html/v2"
)

//go:embed layouts pages h5 console
var views embed.FS

//go:embed static
var static embed.FS

// Static is the file system served under /static/.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// Views is the view engine Fiber renders with: gofiber's html engine with two repairs.
//
//   - A page inside a layout is rendered through the layout's {{embed}}, a func returning
//     only an error, which text/template prints instead of failing: a broken page would be
//     answered 200 with the error text in it. Render first executes the page alone, so its
//     error fails the request (and the error handler answers 500).
//   - Every render sets the shared "embed" function of the whole template set (to the page
//     for a layout render, to nil otherwise), and the engine locks only layout renders, so a
//     render without a layout could swap the page of a layout render running at that moment.
//     And html/template escapes a template on its first execution, writing to it while the
//     engine copies templates without a lock. Views serialises every render and Load
//     executes every template once, so that writing is over before requests come.
//
// Serialising costs little here (a render is tens of microseconds; pages wait on PostgreSQL),
// but the engine is the first thing to replace when it does.
type Views struct {
	*html.Engine
	mu sync.Mutex
}

// Load parses the templates and escapes them all once.
func (v *Views) Load() error {
	if err := v.Engine.Load(); err != nil {
		return err
	}
	for _, t := range v.Engine.Templates.Templates() {
		t.Execute(io.Discard, nil) //nolint:errcheck // only the escaping matters here
	}
	return nil
}

// Render renders page name, inside layout when one is given.
func (v *Views) Render(out io.Writer, name string, binding any, layout ...string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(layout) > 0 && layout[0] != "" {
		if err := v.Engine.Render(io.Discard, name, binding); err != nil {
			return err
		}
	}
	return v.Engine.Render(out, name, binding, layout...)
}

// Engine builds the view engine with the template functions every page may use.
func Engine(funcs template.FuncMap) *Views {
	sub, err := fs.Sub(views, ".")
	if err != nil {
		panic(err)
	}
	e := html.NewFileSystem(http.FS(sub), ".html")
	hashes := assetHashes()
	e.AddFunc("asset", func(name string) string {
		return "/static/" + name + "?v=" + hashes[name]
	})
	for name, fn := range funcs {
		e.AddFunc(name, fn)
	}
	return &Views{Engine: e}
}

// assetHashes maps each static file to a short hash of its content, computed once.
func assetHashes() map[string]string {
	hashes := map[string]string{}
	fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error { //nolint:errcheck
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Static(), p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		hashes[path.Clean(p)] = hex.EncodeToString(sum[:6])
		return nil
	})
	return hashes
}
