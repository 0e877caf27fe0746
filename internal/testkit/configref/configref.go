// Package configref checks docs/configuration.md, the configuration reference,
// against what a program reads: each program's tests hand it the variables the
// program's envvar.Reader recorded (the ones -h lists), and it fails the test unless
// the program's section of the reference lists exactly those, with the same
// defaults. Only tests use it.
package configref

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streampipe/streampipe/internal/envvar"
)

// row is a table row of the reference: | `NAME` | default | meaning |.
var row = regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]*)` \\| (.*?) \\| (.+) \\|$")

// Unset is how the reference writes an empty default.
const Unset = "unset"

// Check fails t unless the section "## program" of docs/configuration.md lists
// every variable of vars, each with its default, each with a meaning, and nothing
// else.
func Check(t testing.TB, program string, vars []envvar.Var) {
	t.Helper()
	doc := Section(t, program)
	read := map[string]bool{}
	for _, v := range vars {
		read[v.Name] = true
		def, ok := doc[v.Name]
		if !ok {
			t.Errorf("%s reads %s, which docs/configuration.md does not list under ## %s", program, v.Name, program)
			continue
		}
		if want := v.Default; def != want && !(want == "" && def == Unset) {
			t.Errorf("docs/configuration.md gives %s of %s the default %q; the program's is %q", v.Name, program, def, want)
		}
	}
	for name := range doc {
		if !read[name] {
			t.Errorf("docs/configuration.md lists %s under ## %s, which the program does not read", name, program)
		}
	}
}

// Section returns the variables of the section "## program" of
// docs/configuration.md with their defaults as written (backticks removed).
func Section(t testing.TB, program string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root(t), "docs", "configuration.md"))
	if err != nil {
		t.Fatalf("the configuration reference: %v", err)
	}
	defer f.Close()
	vars := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == program
			continue
		}
		if m := row.FindStringSubmatch(line); in && m != nil {
			if strings.TrimSpace(m[3]) == "" {
				t.Errorf("docs/configuration.md: %s under ## %s has no meaning", m[1], program)
			}
			vars[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vars) == 0 {
		t.Fatalf("docs/configuration.md has no section ## %s with a table of variables", program)
	}
	return vars
}

// root is the repository's root: the folder of go.mod above the working directory.
func root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
