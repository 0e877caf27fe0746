package streampipe_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/streampipe/streampipe/"

// harness are the packages of the test harness (and the benchmarks' reports): test
// files import them, the programs and their libraries never do.
var harness = []string{"internal/testkit", "internal/systemtest", "internal/devstack/benchreport"}

// importRules are the directions docs/development.md draws: a package (and the
// packages below it but its programs, in cmd/) must not import these, in its non-test
// files.
var importRules = []struct {
	pkg, why string
	not      []string
}{
	{"rows", "the dataset contract is a leaf both sides share",
		[]string{"streaming", "datasets", "activities", "workflows", "schedule", "worker", "starter", "internal"}},
	{"streaming", "the engine knows no Temporal code and no program's configuration",
		[]string{"datasets", "activities", "workflows", "schedule", "worker", "starter", "internal/config"}},
	{"datasets", "datasets are declared below both sides, and share only package rows with the engine",
		[]string{"streaming", "activities", "workflows", "schedule", "worker", "starter"}},
	{"activities", "the Temporal side does not import the consumer engine",
		[]string{"streaming", "workflows", "schedule", "worker", "starter"}},
	{"workflows", "the Temporal side does not import the consumer engine",
		[]string{"streaming", "schedule", "worker", "starter"}},
	{"schedule", "the Temporal side does not import the consumer engine", []string{"streaming", "worker", "starter"}},
	{"worker", "the Temporal side does not import the consumer engine", []string{"streaming"}},
}

// The packages import in the directions docs/development.md draws, and only tests
// import the test harness.
func TestImportDirections(t *testing.T) {
	imports := projectImports(t)
	if len(imports) < 20 {
		t.Fatalf("found only %d packages: is the walk looking at the repository?", len(imports))
	}
	for pkg, imps := range imports {
		for _, imp := range imps {
			for _, r := range importRules {
				if under(pkg, r.pkg) && !strings.Contains(pkg, "/cmd/") && slices.ContainsFunc(r.not, func(n string) bool { return under(imp, n) }) {
					t.Errorf("%s imports %s: %s (docs/development.md)", pkg, imp, r.why)
				}
			}
			if slices.ContainsFunc(harness, func(h string) bool { return under(imp, h) }) &&
				!slices.ContainsFunc(harness, func(h string) bool { return under(pkg, h) }) {
				t.Errorf("%s imports the test harness %s outside its tests", pkg, imp)
			}
		}
	}
}

// The Temporal side and the dataset contract link no Cassandra driver: only the
// engine writes to Cassandra.
func TestTemporalSideLinksNoCassandraDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./worker", "./workflows", "./rows").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, module+"datasets") {
		t.Fatalf("go list -deps ./worker names no package datasets: is it listing the right packages?\n%s", out)
	}
	for _, dep := range deps {
		if strings.Contains(dep, "gocql") {
			t.Errorf("./worker, ./workflows or ./rows links %s (docs/development.md)", dep)
		}
	}
}

// The programs link only production code: of internal/, the packages directly under
// it, never the test harness, the system tests or the local stack's helpers.
func TestProgramsLinkOnlyProductionCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./worker", "./starter", "./streaming/cmd/streaming").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, module+"internal/config") {
		t.Fatalf("go list -deps names no package internal/config: is it listing the programs?\n%s", out)
	}
	for _, dep := range deps {
		if rest, ok := strings.CutPrefix(dep, module+"internal/"); ok && strings.Contains(rest, "/") {
			t.Errorf("a program links %s: only the packages directly under internal/ are production code (docs/development.md)", dep)
		}
	}
}

// docs/development.md's map names every package.
func TestDevelopmentMapNamesEveryPackage(t *testing.T) {
	page, err := os.ReadFile("docs/development.md")
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range projectImports(t) {
		short, _ := strings.CutPrefix(pkg, "internal/")
		if !slices.ContainsFunc([]string{"`" + pkg + "`", "`" + pkg + "/`", "`" + short + "`"}, func(name string) bool {
			return strings.Contains(string(page), name)
		}) {
			t.Errorf("docs/development.md does not name package %s: add it to the map of the packages", pkg)
		}
	}
}

// The test files README.md and docs/ name exist (a file renamed, say to
// *_integration_test.go, is renamed in the pages too).
func TestDocsNameTestFilesThatExist(t *testing.T) {
	names := map[string]bool{} // every test file, by its path and by its name
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			names[filepath.ToSlash(path)], names[d.Name()] = true, true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`([A-Za-z0-9_./-]+_test\\.go)`")
	for _, page := range append(pages, "README.md") {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range named.FindAllStringSubmatch(string(text), -1) {
			if !names[m[1]] {
				t.Errorf("%s names %s, which does not exist", page, m[1])
			}
		}
	}
}

// under reports whether package pkg is dir or below it.
func under(pkg, dir string) bool {
	return pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

// projectImports returns, by package folder, the project's packages that its non-test
// files import, as folders.
func projectImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			if rel, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(out[pkg], rel) {
				out[pkg] = append(out[pkg], rel)
			}
		}
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
