package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// importRules are the walls between the rooms (docs/ARCHITECTURE.md): a package under from
// (its directory's module path, or any below it) must not import any of to, where "x/..." is
// x and every package below it, unless it is one of except (paths or "x/..." patterns too).
// Tests are not held to them.
var importRules = []struct {
	from, why string
	to        []string
	except    []string // packages under from the rule does not hold for
}{
	{from: "fenxiao/wallet", to: []string{"fenxiao/campaign/...", "fenxiao/cmd/..."}, why: "the ledger knows no campaign"},
	{from: "fenxiao/wechat", to: []string{"fenxiao/campaign/...", "fenxiao/wallet/...", "fenxiao/cmd/..."}, why: "the WeChat adapter knows no domain"},
	{from: "fenxiao/campaign/merchant", to: []string{"fenxiao/campaign", "fenxiao/cmd/..."}, why: "the merchant side never uses the engine"},
	{from: "fenxiao/campaign/region", to: []string{"fenxiao/campaign/...", "fenxiao/wallet/...", "fenxiao/wechat/..."}, why: "the region reader is self-contained"},
	{from: "fenxiao/campaign/poster", to: []string{"fenxiao/campaign/...", "fenxiao/wallet/...", "fenxiao/wechat/..."}, why: "the poster draws from plain inputs"},
	{from: "fenxiao/campaign", to: []string{"fenxiao/cmd/..."}, why: "the engine knows no HTTP handler"},
	{from: "fenxiao/cmd/fenxiao/web", to: []string{"fenxiao/cmd/fenxiao/h5", "fenxiao/cmd/fenxiao/console", "fenxiao/cmd/fenxiao/callback"},
		why: "the shared HTTP room serves both audiences, so it uses neither"},
	{from: "fenxiao/cmd/fenxiao/h5", to: []string{"fenxiao/cmd/fenxiao/console", "fenxiao/cmd/fenxiao/callback"},
		why: "the follower's pages share only package web with the rest"},
	{from: "fenxiao/cmd/fenxiao/console", to: []string{"fenxiao/cmd/fenxiao/h5", "fenxiao/cmd/fenxiao/callback"},
		why: "the console shares only package web with the rest"},
	{from: "fenxiao/cmd/fenxiao/callback", to: []string{"fenxiao/cmd/fenxiao/h5", "fenxiao/cmd/fenxiao/console"},
		why: "WeChat's callbacks share only package web with the rest"},
	{from: "fenxiao", to: []string{"fenxiao/campaign/merchant/merchanttest/..."}, why: "test support is for tests only",
		except: []string{"fenxiao/campaign/merchant/merchanttest/..."}},
	{from: "fenxiao", to: []string{"fenxiao/wechat/sim/..."}, why: "the simulator is for tests and dev wiring",
		except: []string{"fenxiao/wechat/sim/...", "fenxiao/cmd/wechatsim/...", "fenxiao/cmd/fenxiao"}},
}

// devWiring are the files of cmd/fenxiao that may start the simulator (make dev, tests).
var devWiring = map[string]bool{"dev.go": true, "wechat.go": true}

// under reports whether module path p is dir or below it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// matches reports whether import path imp is pattern: a path, or a path and all below it.
func matches(imp, pattern string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return under(imp, dir)
	}
	return imp == pattern
}

// forbidden is why pkg (the file's base name in file) may not import imp, or "".
func forbidden(pkg, file, imp string) string {
	if pkg == "fenxiao/cmd/fenxiao" && matches(imp, "fenxiao/wechat/sim/...") && !devWiring[file] {
		return "in cmd/fenxiao only the dev wiring (dev.go, wechat.go) may use the simulator"
	}
	for _, r := range importRules {
		if !under(pkg, r.from) || slices.ContainsFunc(r.except, func(e string) bool { return matches(pkg, e) }) {
			continue
		}
		for _, to := range r.to {
			if matches(imp, to) {
				return r.why
			}
		}
	}
	return ""
}

// TestImportRules fails on any import across a wall above, in any non-test file of the module.
func TestImportRules(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := "fenxiao"
		if rel != "." {
			pkg += "/" + filepath.ToSlash(rel)
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if why := forbidden(pkg, filepath.Base(path), imp); why != "" {
				t.Errorf("%s imports %s: %s", filepath.ToSlash(path), imp, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files: is the walk rooted at the module?", checked)
	}
}

// The rules themselves, on imports that must and must not pass: a rule that cannot fail is
// no wall.
func TestImportRulesRefuse(t *testing.T) {
	for _, c := range []struct {
		pkg, file, imp string
		refused        bool
	}{
		{"fenxiao/wallet", "ledger.go", "fenxiao/campaign", true},
		{"fenxiao/wallet", "ledger.go", "fenxiao/wechat", false},
		{"fenxiao/wechat", "pay.go", "fenxiao/wallet", true},
		{"fenxiao/wechat/sim", "sim.go", "fenxiao/campaign/region", true},
		{"fenxiao/campaign/merchant", "account.go", "fenxiao/campaign", true},
		{"fenxiao/campaign/merchant", "account.go", "fenxiao/wallet", false},
		{"fenxiao/campaign", "order.go", "fenxiao/campaign/merchant", false},
		{"fenxiao/campaign/poster", "poster.go", "fenxiao/campaign/region", true},
		{"fenxiao/campaign", "order.go", "fenxiao/wechat/sim", true},
		{"fenxiao/cmd/fenxiao", "server.go", "fenxiao/wechat/sim", true},
		{"fenxiao/cmd/fenxiao/h5", "wechat.go", "fenxiao/wechat/sim", true}, // the dev wiring's names hold only in main
		{"fenxiao/cmd/fenxiao/console", "server.go", "fenxiao/wechat/sim", true},
		{"fenxiao/cmd/fenxiao/h5", "server.go", "fenxiao/cmd/fenxiao/web", false},
		{"fenxiao/cmd/fenxiao/h5", "server.go", "fenxiao/cmd/fenxiao/console", true},
		{"fenxiao/cmd/fenxiao/web", "web.go", "fenxiao/cmd/fenxiao/h5", true},
		{"fenxiao/cmd/fenxiao/callback", "callback.go", "fenxiao/campaign", false},
		{"fenxiao/campaign", "order.go", "fenxiao/campaign/merchant/merchanttest", true},
		{"fenxiao/campaign/merchant", "account.go", "fenxiao/campaign/merchant/merchanttest", true},
		{"fenxiao/campaign/merchant", "image.go", "fenxiao/campaign/merchant/merchanttest/imagetest", true},
		{"fenxiao/cmd/fenxiao", "dev.go", "fenxiao/wechat/sim", false},
		{"fenxiao/cmd/wechatsim", "main.go", "fenxiao/wechat/sim", false},
	} {
		if got := forbidden(c.pkg, c.file, c.imp) != ""; got != c.refused {
			t.Errorf("%s (%s) importing %s: refused %v, want %v", c.pkg, c.file, c.imp, got, c.refused)
		}
	}
}
