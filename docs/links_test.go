package docs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/devstack/benchreport"
)

// readmeMaxBytes is the README's budget: a newcomer reads it in five minutes, and
// everything else is a page of docs/.
const readmeMaxBytes = 12 * 1024

// markdownFiles are README.md and the Markdown pages of docs/ (docs/bench/ included),
// as paths from this folder.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	return append([]string{"../README.md"}, pages(t)...)
}

var (
	// A Markdown link or image, its text possibly over lines: [text](target) or
	// ![alt](target), target without spaces.
	linkRE     = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)
	codeSpanRE = regexp.MustCompile("`[^`]*`")
	headingRE  = regexp.MustCompile(`^#{1,6} (.+)$`)
)

// prose is a Markdown file's lines outside its fenced blocks, code spans blanked.
func prose(text string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		if fenceRE.MatchString(line) {
			in = !in
			out = append(out, "")
			continue
		}
		if in {
			out = append(out, "")
			continue
		}
		out = append(out, codeSpanRE.ReplaceAllString(line, "``"))
	}
	return out
}

// anchors are the ids GitHub gives the headings of a Markdown file: lower case,
// every character but letters, digits, spaces, hyphens and underscores dropped,
// spaces made hyphens; a repeated id gets -1, -2, ….
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	in := false
	for _, line := range strings.Split(text, "\n") {
		if fenceRE.MatchString(line) {
			in = !in
			continue
		}
		m := headingRE.FindStringSubmatch(line)
		if in || m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		id := b.String()
		if n := seen[id]; n > 0 {
			out[fmt.Sprintf("%s-%d", id, n)] = true
		} else {
			out[id] = true
		}
		seen[id]++
	}
	return out
}

// Every relative link of README.md and docs/ leads somewhere: to a file or folder of
// the repository, and to a heading of it when it names an #anchor.
func TestRelativeLinksResolve(t *testing.T) {
	checked := 0
	for _, file := range markdownFiles(t) {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		text := strings.Join(prose(string(data)), "\n")
		for _, loc := range linkRE.FindAllStringSubmatchIndex(text, -1) {
			target, line := text[loc[2]:loc[3]], 1+strings.Count(text[:loc[0]], "\n")
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			path, anchor, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
			}
			info, err := os.Stat(dest)
			if !assert.NoError(t, err, "%s:%d links %s, which does not exist", file, line, target) || anchor == "" {
				continue
			}
			require.False(t, info.IsDir(), "%s:%d links an anchor of a folder: %s", file, line, target)
			page, err := os.ReadFile(dest)
			require.NoError(t, err)
			assert.True(t, anchors(string(page))[anchor], "%s:%d links %s: %s has no heading #%s", file, line, target, dest, anchor)
		}
	}
	assert.Positive(t, checked)
	t.Logf("%d relative links checked", checked)
}

// The README stays within its budget.
func TestReadmeIsShort(t *testing.T) {
	info, err := os.Stat("../README.md")
	require.NoError(t, err)
	assert.LessOrEqual(t, info.Size(), int64(readmeMaxBytes), "README.md: move a topic to a page of docs/ and link it")
}

// make bench writes its table into docs/performance.md, between the markers there,
// and never into the README.
func TestBenchWritesDocsNotTheReadme(t *testing.T) {
	makefile, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	assert.Contains(t, string(makefile), "BENCH_PAGE=$(CURDIR)/docs/performance.md")
	assert.NotContains(t, string(makefile), "README.md \\")
	page, err := os.ReadFile("performance.md")
	require.NoError(t, err)
	_, err = benchreport.Splice(string(page), "a table")
	assert.NoError(t, err, "docs/performance.md has each marker once, in order")
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	assert.NotContains(t, string(readme), benchreport.BeginMarker)
}
