// Package configref writes each program's table of docs/configuration.md, the
// configuration reference, from what the program declares where it reads its
// variables (envvar.Var: name, default, meaning; the list -h prints). Each program's
// tests call Check, which fails when the table is stale; `go generate ./...` runs
// those tests with -update, which rewrites the tables and leaves the prose around
// them as it is. Only tests use it.
package configref

import (
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

// unset is how the reference writes an empty default.
const unset = "unset"

// groups link each group of variables (envvar.Var.Group: a server's settings, read
// alike by every program that reaches it) to the section of the reference that
// holds its table, once for every program.
var groups = map[string]string{
	"Temporal":  "[Temporal connection](#temporal-connection)",
	"Kafka":     "[Kafka security](#kafka-security)",
	"Cassandra": "[Cassandra security](#cassandra-security-1)",
}

// table is the Markdown table of vars: | `NAME` | default | meaning |.
func table(vars []envvar.Var) string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range vars {
		def := unset
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Help, "|", `\|`))
	}
	return b.String()
}

// blocks are the generated parts of the reference for a program's vars, by name:
// the program's own variables, with links to the tables of the groups it reads,
// and each such group's table.
func blocks(t testing.TB, program string, vars []envvar.Var) map[string]string {
	t.Helper()
	var own []envvar.Var
	byGroup := map[string][]envvar.Var{}
	var links []string
	for _, v := range vars {
		if strings.TrimSpace(v.Help) == "" {
			t.Errorf("%s reads %s without a meaning: give it one where it is read", program, v.Name)
		}
		if v.Group == "" {
			own = append(own, v)
			continue
		}
		if _, ok := groups[v.Group]; !ok {
			t.Fatalf("%s reads %s of group %s, which configref.groups does not place in docs/configuration.md", program, v.Name, v.Group)
		}
		if byGroup[v.Group] == nil {
			links = append(links, groups[v.Group])
		}
		byGroup[v.Group] = append(byGroup[v.Group], v)
	}
	out := map[string]string{program: table(own)}
	if len(links) > 0 {
		last := len(links) - 1
		if last > 0 {
			links = append(links[:last-1], links[last-1]+" and "+links[last])
		}
		out[program] += "\nAnd the variables of " + strings.Join(links, ", ") + ".\n"
	}
	for g, vars := range byGroup {
		out[g] = table(vars)
	}
	return out
}

// markers are the comments around the generated block of name (a program or a
// group) in the reference.
func markers(name string) (begin, end string) {
	return "<!-- the variables of " + name + ", generated from their declarations by `go generate ./...`: do not edit -->\n",
		"<!-- end of the variables of " + name + " -->\n"
}

// block is the generated block of name in doc, and the text before and after it.
func block(t testing.TB, doc, name string) (before, text, after string) {
	t.Helper()
	begin, end := markers(name)
	before, rest, ok := strings.Cut(doc, begin)
	text, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("docs/configuration.md has no lines %q and %q around the variables of %s", begin, end, name)
	}
	return before + begin, text, end + after
}

// Check fails t unless docs/configuration.md holds the blocks of program's vars
// (its own variables; the tables of the groups it reads), each variable with a
// meaning; with -update it rewrites them.
func Check(t testing.TB, program string, vars []envvar.Var) {
	t.Helper()
	path := filepath.Join(root(t), "docs", "configuration.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the configuration reference: %v", err)
	}
	doc := string(data)
	for name, want := range blocks(t, program, vars) {
		before, got, after := block(t, doc, name)
		switch {
		case got == want:
		case *update:
			doc = before + want + after
		default:
			t.Errorf("docs/configuration.md: the variables of %s are stale (first difference: %q): run `go generate ./...`",
				name, firstDifference(got, want))
		}
	}
	if *update && doc != string(data) {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
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

// Listed returns the variables docs/configuration.md lists for program, its own
// and those of the groups it links to, with their defaults as written (backticks
// removed).
func Listed(t testing.TB, program string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), "docs", "configuration.md"))
	if err != nil {
		t.Fatalf("the configuration reference: %v", err)
	}
	_, own, _ := block(t, string(data), program)
	text := own
	for g, link := range groups {
		if strings.Contains(own, link) {
			_, table, _ := block(t, string(data), g)
			text += table
		}
	}
	vars := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			vars[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
		}
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
