// Package templates embeds every HTML template and static asset of Fenxiao: the H5 pages
// followers see in WeChat, the merchant console and the shared error page.
//
// Pages render inside a layout per audience (layouts/h5, layouts/console) where the layout
// says {{embed}}. The engine keeps one namespace of {{define}} names, so no two pages
// may define the same name. Static files are served from /static/ with a content hash in the
// query string, so a deploy never leaves a phone with a stale script.
package templates

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
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

// Views is the view engine Fiber renders with. Every file is parsed once into a master set
// that is never executed; a render runs a clone of it made for its (page, layout) pair, in
// which the layout's {{embed}} is the page itself ({{template "page" $}}). So a broken page
// fails the render like any other template error, and renders run in parallel: each clone is
// built once, under a lock, and then only executed, which html/template allows from many
// goroutines at once (it escapes a template on its first execution under its own lock).
//
// It replaces gofiber's html engine, which set the layout's "embed" func on a shared copy of
// the template set at every render, so renders had to be serialised (a render without a
// layout could swap the page of one with a layout) and a page's error was printed into the
// layout as text with a 200.
type Views struct {
	fsys   fs.FS
	funcs  template.FuncMap
	master *template.Template
	layout map[string]string // the source of each layout (layouts/…), by name

	mu    sync.Mutex
	built sync.Map // pair → *template.Template
}

type pair struct{ page, layout string }

// Load parses every template. Names are paths without ".html" (h5/landing, layouts/h5).
func (v *Views) Load() error {
	master := template.New("").Funcs(v.funcs).Funcs(template.FuncMap{
		"embed": func() (string, error) { return "", errors.New("templates: embed outside a layout") },
	})
	layouts := map[string]string{}
	err := fs.WalkDir(v.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		b, err := fs.ReadFile(v.fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(p, ".html")
		if strings.HasPrefix(name, "layouts/") {
			layouts[name] = string(b) // parsed into each page's clone, with its {{embed}}
			return nil
		}
		_, err = master.New(name).Parse(string(b))
		return err
	})
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	v.mu.Lock()
	v.master, v.layout = master, layouts
	v.built = sync.Map{}
	v.mu.Unlock()
	return nil
}

// Render renders page name, inside layout when one is given.
func (v *Views) Render(out io.Writer, name string, binding any, layout ...string) error {
	k := pair{page: name}
	if len(layout) > 0 {
		k.layout = layout[0]
	}
	t, err := v.template(k)
	if err != nil {
		return err
	}
	entry := k.page
	if k.layout != "" {
		entry = k.layout
	}
	return t.ExecuteTemplate(out, entry, binding)
}

// template returns the set a pair renders with, building it on first use.
func (v *Views) template(k pair) (*template.Template, error) {
	if t, ok := v.built.Load(k); ok {
		return t.(*template.Template), nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if t, ok := v.built.Load(k); ok {
		return t.(*template.Template), nil
	}
	if v.master == nil {
		return nil, errors.New("templates: not loaded")
	}
	if v.master.Lookup(k.page) == nil {
		return nil, fmt.Errorf("templates: no page %s", k.page)
	}
	t, err := v.master.Clone()
	if err != nil {
		return nil, err
	}
	if k.layout != "" {
		src, ok := v.layout[k.layout]
		if !ok {
			return nil, fmt.Errorf("templates: no layout %s", k.layout)
		}
		src = strings.ReplaceAll(src, "{{embed}}", fmt.Sprintf("{{template %q $}}", k.page))
		if _, err := t.New(k.layout).Parse(src); err != nil {
			return nil, fmt.Errorf("templates: layout %s: %w", k.layout, err)
		}
	}
	v.built.Store(k, t)
	return t, nil
}

// Engine builds the view engine with the template functions every page may use.
func Engine(funcs template.FuncMap) *Views {
	return newViews(views, funcs)
}

func newViews(fsys fs.FS, funcs template.FuncMap) *Views {
	hashes := assetHashes()
	all := template.FuncMap{"asset": func(name string) string {
		return "/static/" + name + "?v=" + hashes[name]
	}}
	for name, fn := range funcs {
		all[name] = fn
	}
	return &Views{fsys: fsys, funcs: all}
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
