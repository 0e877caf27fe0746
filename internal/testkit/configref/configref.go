// Package configref writes each program's table of docs/configuration.md, the
// configuration reference, from what the program declares where it reads its
// variables (envvar.Var: name, default, meaning; the list -h prints). Each program's
// tests call Check, which fails when the table is stale; `go generate ./...` runs
// those tests with -update, which rewrites the tables and leaves the prose around
// them as it is. Only tests use it.
package configref

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streampipe/streampipe/internal/envvar"
)

var update = flag.Bool("update", false, "rewrite the tables of docs/configuration.md from the programs' declarations")

// Unset is how the reference writes an empty default.
const Unset = "unset"

// Table is the Markdown table of vars: | `NAME` | default | meaning |.
func Table(vars []envvar.Var) string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range vars {
		def := Unset
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Help, "|", `\|`))
	}
	return b.String()
}

// markers are the comments around program's table in the reference.
func markers(program string) (begin, end string) {
	return "<!-- the variables of " + program + ", generated from its declarations by `go generate ./...`: do not edit -->\n",
		"<!-- end of the variables of " + program + " -->\n"
}

// Check fails t unless program's table in docs/configuration.md is Table(vars),
// and unless each variable has a meaning; with -update it rewrites the table.
func Check(t testing.TB, program string, vars []envvar.Var) {
	t.Helper()
	for _, v := range vars {
		if strings.TrimSpace(v.Help) == "" {
			t.Errorf("%s reads %s without a meaning: give it one where it is read", program, v.Name)
		}
	}
	path := filepath.Join(root(t), "docs", "configuration.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the configuration reference: %v", err)
	}
	begin, end := markers(program)
	before, rest, ok := strings.Cut(string(doc), begin)
	table, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("docs/configuration.md has no lines %q and %q around the table of %s", begin, end, program)
	}
	want := Table(vars)
	switch {
	case table == want:
	case *update:
		if err := os.WriteFile(path, []byte(before+begin+want+end+after), 0o644); err != nil {
			t.Fatal(err)
		}
	default:
		t.Errorf("docs/configuration.md: the table of the variables of %s is stale (first difference: %q): run `go generate ./...`",
			program, firstDifference(table, want))
	}
}

// firstDifference is the first line of want that is not the same line of got.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i, line := range w {
		if i >= len(g) || g[i] != line {
			return line
		}
	}
	return "(a line too many)"
}

// row is a table row of the reference: | `NAME` | default | meaning |.
var row = regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]*)` \\| (.*?) \\| (.+) \\|$")

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
