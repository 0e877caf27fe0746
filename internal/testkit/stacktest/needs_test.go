package stacktest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every test or benchmark that reaches this package (directly, or through a helper
// of its own package) says at its first line what it needs: stacktest.Needs(t, …),
// or `if testing.Short() { t.Skip(…) }`, and sits in a file named
// *_integration_test.go, which holds at least one such test. So `go test -short ./...`
// touches no server, and a reader sees at once, by the file's name and the test's
// first line, what a test needs.
func TestIntegrationTestsSayWhatTheyNeed(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for dir := range dirs {
		if dir == "." { // this package's own tests
			continue
		}
		holds := map[string]bool{} // integration-named files of dir that hold an integration test
		for _, it := range integrationTests(t, dir) {
			checked++
			if !saysWhatItNeeds(it.fn) {
				t.Errorf("%s: %s reaches the local stack but its first line is not stacktest.Needs(t, …) "+
					"or a skip under testing.Short()", it.file, it.fn.Name.Name)
			}
			if !integrationFile(it.file) {
				t.Errorf("%s: %s reaches the local stack, so its file's name must end in _integration_test.go "+
					"(git mv it, or move the test to such a file)", it.file, it.fn.Name.Name)
			}
			holds[it.file] = true
		}
		files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if integrationFile(f) && !holds[f] {
				t.Errorf("%s: named as an integration test file, but no test in it reaches the local stack "+
					"(stacktest.Needs): rename it to a plain _test.go", f)
			}
		}
	}
	if checked < 20 {
		t.Errorf("found only %d integration tests: is the walk looking at the repository?", checked)
	}
}

// integrationFile reports whether a test file's name says it holds integration tests.
func integrationFile(path string) bool {
	name := filepath.Base(path)
	return name == "integration_test.go" || strings.HasSuffix(name, "_integration_test.go")
}

// integrationTest is a test function and the file it is in.
type integrationTest struct {
	fn   *ast.FuncDecl
	file string
}

// integrationTests are the Test and Benchmark functions of the package in dir that
// reach package stacktest, directly or through functions of their package.
func integrationTests(t *testing.T, dir string) []integrationTest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	funcs := map[string][]*ast.FuncDecl{} // by name; methods by their name too
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Body != nil {
				funcs[fn.Name.Name] = append(funcs[fn.Name.Name], fn)
			}
		}
	}
	// reaches[name]: the function (any of that name) uses stacktest, or calls one
	// that does.
	reaches := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for name, decls := range funcs {
			if reaches[name] {
				continue
			}
			for _, fn := range decls {
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.SelectorExpr:
						if x, ok := n.X.(*ast.Ident); ok && x.Name == "stacktest" {
							reaches[name] = true
						} else if reaches[n.Sel.Name] && n.Sel.Name != name {
							reaches[name] = true
						}
					case *ast.Ident:
						if reaches[n.Name] && n.Name != name {
							reaches[name] = true
						}
					}
					return !reaches[name]
				})
			}
			changed = changed || reaches[name]
		}
	}
	var out []integrationTest
	for name, decls := range funcs {
		if !reaches[name] || name == "TestMain" || !(strings.HasPrefix(name, "Test") || strings.HasPrefix(name, "Benchmark")) {
			continue
		}
		for _, fn := range decls {
			if fn.Recv == nil {
				out = append(out, integrationTest{fn, fset.Position(fn.Pos()).Filename})
			}
		}
	}
	return out
}

// saysWhatItNeeds reports whether fn's first statement is a stacktest.Needs call or
// an if on testing.Short().
func saysWhatItNeeds(fn *ast.FuncDecl) bool {
	if len(fn.Body.List) == 0 {
		return false
	}
	switch s := fn.Body.List[0].(type) {
	case *ast.ExprStmt:
		return isCall(s.X, "stacktest", "Needs")
	case *ast.IfStmt:
		return isCall(s.Cond, "testing", "Short")
	}
	return false
}

func isCall(e ast.Expr, pkg, name string) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == pkg && sel.Sel.Name == name
}
