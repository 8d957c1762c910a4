package coffer_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestFacesDoNotAuthorize keeps authorization in the service (STYLE.md habit
// 16): no face asks a caller's scopes itself (Caller.Allows, AllowsEvery) nor
// records a refusal of its own deciding (Refuser.Refuse); it calls a service
// method that decides (coffer.AccessChecker, OwnKeyService, ...) and
// translates the answer.
func TestFacesDoNotAuthorize(t *testing.T) {
	files, err := filepath.Glob("compat/*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "Allows", "AllowsEvery", "Refuse":
					t.Errorf("%s: %s calls %s: the service decides; call a service method and translate its error", fset.Position(call.Pos()), fn.Name.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
}
