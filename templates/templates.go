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
	"io/fs"
	"net/http"
	"path"

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

// Engine builds the view engine with the template functions every page may use.
func Engine(funcs template.FuncMap) *html.Engine {
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
	return e
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
