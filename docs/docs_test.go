// Package docs_test keeps docs/ true: every fenced block of its pages is run against
// the local stack, checked against the programs, or marked as not run here with the
// reason; and the metric names, dead-letter reasons, defaults and /healthz texts the
// pages quote are checked against the code.
package docs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/testkit/configref"
	"github.com/streampipe/streampipe/internal/testkit/progtest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

// block is a fenced block of a page of docs/ and the marker on the line before it:
// <!-- run: KIND -->, <!-- checked: KIND --> or <!-- not run: REASON -->.
type block struct {
	page   string // its path under the repository
	line   int    // the line of its opening fence
	marker string // "run", "checked" or "not run"; "" without a marker
	kind   string // what follows the marker's colon
	text   string // its content, the fence's indentation removed
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.page, b.line) }

var (
	markerRE = regexp.MustCompile(`^\s*<!-- (run|checked|not run): (.+?) -->$`)
	fenceRE  = regexp.MustCompile("^(\\s*)```")
)

// pages are the Markdown pages of docs/.
func pages(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			out = append(out, path)
		}
		return err
	}))
	return out
}

// blocks are the fenced blocks of every page of docs/.
func blocks(t *testing.T) []block {
	t.Helper()
	var out []block
	for _, page := range pages(t) {
		data, err := os.ReadFile(page)
		require.NoError(t, err)
		lines := strings.Split(string(data), "\n")
		for i := 0; i < len(lines); i++ {
			m := fenceRE.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			b := block{page: "docs/" + page, line: i + 1}
			if i > 0 {
				if mm := markerRE.FindStringSubmatch(lines[i-1]); mm != nil {
					b.marker, b.kind = mm[1], mm[2]
				}
			}
			var body []string
			for i++; i < len(lines) && !fenceRE.MatchString(lines[i]); i++ {
				body = append(body, strings.TrimPrefix(lines[i], m[1]))
			}
			b.text = strings.Join(body, "\n") + "\n"
			out = append(out, b)
		}
	}
	return out
}

// Every fenced block of docs/ is run, checked or marked as not run with a reason;
// the runnable ones are run against the local stack, their output compared where
// the page quotes it.
func TestEveryBlockIsRunOrMarked(t *testing.T) {
	all := blocks(t)
	count := map[string]int{}
	var previous block
	for _, b := range all {
		count[b.marker]++
		t.Run(b.String(), func(t *testing.T) {
			switch b.marker {
			case "":
				t.Fatalf("%s: a block without a marker on the line before: <!-- run: … -->, <!-- checked: … --> or <!-- not run: reason -->", b)
			case "not run":
				require.NotEmpty(t, strings.TrimSpace(b.kind), "a reason")
				if strings.Contains(b.kind, "benchmarks they name are checked") {
					checkTestsExist(t, b.text)
				}
			default:
				check := checkFor(b.kind)
				require.NotNil(t, check, "%s: no check or run is known as %q", b, b.kind)
				check(t, b, previous)
			}
		})
		previous = b
	}
	t.Logf("%d fenced blocks in docs/: %d run, %d checked, %d not run here (reasons in the pages), %d unmarked",
		len(all), count["run"], count["checked"], count["not run"], count[""])
}

// checkFor is the check of a marker's kind: the one whose name is the longest that
// kind starts with; nil if none.
func checkFor(kind string) func(t *testing.T, b, previous block) {
	var best string
	for name := range checks {
		if strings.HasPrefix(kind, name) && len(name) > len(best) {
			best = name
		}
	}
	return checks[best]
}

// checks run or check a block by its marker's kind, which starts with the check's
// name (and may go on: its arguments, or why it is not run too); previous is the
// block before it.
var checks = map[string]func(t *testing.T, b, previous block){
	"a datasets file": func(t *testing.T, b, _ block) {
		file := filepath.Join(t.TempDir(), "datasets.yaml")
		require.NoError(t, os.WriteFile(file, []byte(b.text), 0o644))
		_, err := datasets.LoadFile(file)
		if strings.Contains(b.kind, "run by the next block") {
			require.Error(t, err, "a file of mistakes, for the next block")
			return
		}
		require.NoError(t, err)
	},
	"temporal profiles": func(t *testing.T, b, _ block) {
		file := filepath.Join(t.TempDir(), "temporal.toml")
		require.NoError(t, os.WriteFile(file, []byte(b.text), 0o644))
		env := map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud"}
		lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
		cfg, err := config.LoadProducer(lookup)
		require.NoError(t, err)
		assert.Equal(t, "my-ns.a1b2c.tmprl.cloud:7233", cfg.TemporalAddress)
		assert.Equal(t, "my-ns.a1b2c", cfg.TemporalNamespace)
		// The mTLS profile's files are the page's examples: loading it names them.
		env["TEMPORAL_PROFILE"] = "mtls"
		_, err = config.LoadProducer(lookup)
		assert.ErrorContains(t, err, "/etc/streampipe/temporal/client.pem")
	},
	"variables the streaming worker reads": func(t *testing.T, b, _ block) {
		read := configref.Listed(t, "streaming")
		for _, line := range strings.Split(strings.TrimSpace(b.text), "\n") {
			name, _, ok := strings.Cut(strings.TrimSpace(line), "=")
			require.True(t, ok, "%s: %q is no NAME=value", b, line)
			_, reads := read[name]
			assert.True(t, reads, "%s: the streaming worker does not read %s", b, name)
		}
	},
	"sets GOTOOLCHAIN=auto": func(t *testing.T, b, _ block) {
		// With GOTOOLCHAIN=local and an older Go, govulncheck would check that Go's
		// standard library instead of the one go.mod's toolchain line names.
		for _, line := range strings.Split(b.text, "\n") {
			if strings.Contains(line, "govulncheck") {
				assert.Contains(t, line, "GOTOOLCHAIN=auto ", "%s: %s", b, line)
			}
		}
	},
	"serves": runServes,
	// A Python block whose print lines end with "# what it prints", here the derived
	// id of a record's coordinates: the printed id is the worker's for them.
	"python, prints the derived id of its coordinates": func(t *testing.T, b, _ block) {
		out, err := exec.Command("python3", "-c", b.text).CombinedOutput()
		require.NoError(t, err, "%s: %s", b, out)
		var want []string
		for _, line := range strings.Split(b.text, "\n") {
			if _, comment, ok := strings.Cut(line, "# "); ok && strings.HasPrefix(strings.TrimSpace(line), "print(") {
				want = append(want, comment)
			}
		}
		assert.Equal(t, strings.Join(want, "\n")+"\n", string(out), "%s prints what its comments say", b)
		m := regexp.MustCompile(`"([a-z0-9_.-]+)/(\d+)/(\d+)"`).FindStringSubmatch(b.text)
		require.NotNil(t, m, "%s: the coordinates topic/partition/offset", b)
		partition, _ := strconv.Atoi(m[2])
		offset, _ := strconv.ParseInt(m[3], 10, 64)
		id := uuid.UUID(rows.RecordID(kafka.Message{Topic: m[1], Partition: partition, Offset: offset}))
		assert.Equal(t, id.String()+"\n", string(out), "%s: the worker's derived id of %s", b, m[0])
	},
	// "by DIR TestName": that test, in DIR's package, reads this block of the page.
	"by ": func(t *testing.T, b, _ block) {
		dir, name, ok := strings.Cut(strings.TrimPrefix(b.kind, "by "), " ")
		require.True(t, ok, "%s: by DIR TestName", b)
		files, err := filepath.Glob(filepath.Join("..", dir, "*_test.go"))
		require.NoError(t, err)
		for _, f := range files {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			if bytes.Contains(src, []byte("func "+name+"(")) {
				assert.Contains(t, string(src), b.page, "%s reads %s", name, b.page)
				assert.Contains(t, string(src), "<!-- "+b.marker+": "+b.kind+" -->", "%s finds the block by its marker", name)
				return
			}
		}
		t.Errorf("%s: no %s in %s", b, name, dir)
	},
	"prints this, with the file above as ": func(t *testing.T, b, previous block) {
		name := strings.TrimPrefix(b.kind, "prints this, with the file above as ")
		require.Equal(t, b.page, previous.page, "%s: the file above is on the page", b)
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(previous.text), 0o644))
		command, want, _ := strings.Cut(b.text, "\n")
		args := strings.Fields(strings.TrimPrefix(command, "$ "))
		require.Equal(t, "bin/streaming", args[0], "%s: a command of bin/streaming", b)
		cmd := exec.Command(progtest.Program(t, "streaming"), args[1:]...)
		cmd.Dir, cmd.Env = dir, []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		assert.Equal(t, 2, exit.ExitCode())
		assert.Equal(t, want, string(out), "%s: the output as the page quotes it", b)
	},
}

// runServes runs a block's command of bin/streaming from the repository's root, on
// the local stack with topics, groups and tables of the test's own, until /healthz
// answers 200 with the datasets the marker names on /metrics.
func runServes(t *testing.T, b, _ block) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	want := strings.Fields(strings.TrimPrefix(b.kind, "serves "))
	line := strings.TrimSpace(b.text)
	require.NotContains(t, line, "\n", "%s: one command", b)
	fields := strings.Fields(line)
	var env []string
	for len(fields) > 0 && strings.Contains(fields[0], "=") {
		env, fields = append(env, fields[0]), fields[1:]
	}
	require.Equal(t, "bin/streaming", fields[0], "%s: a command of bin/streaming", b)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ops := ln.Addr().String()
	require.NoError(t, ln.Close())
	suffix := fmt.Sprintf("docs_%d", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, progtest.Program(t, "streaming"), fields[1:]...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "STREAMING_METRICS_ADDR="+ops,
		"KAFKA_BROKERS="+strings.Join(stacktest.KafkaBrokers(t), ","),
		"CASSANDRA_HOSTS="+strings.Join(stacktest.CassandraHosts(t), ","),
		"STREAMING_GROUP="+suffix, "KAFKA_TOPIC="+suffix, "CASSANDRA_KEYSPACE="+suffix,
		"STREAMING_USERS_DECLARED_TOPIC="+suffix+"_declared", "STREAMING_USERS_DECLARED_KEYSPACE="+suffix)
	cmd.Env = append(cmd.Env, env...)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	defer func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("its log:\n%s", logs.String())
		}
	}()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, _ := get(ops, "/healthz")
		assert.Equal(c, http.StatusOK, code)
	}, 2*time.Minute, 200*time.Millisecond, "%s: the worker serves", b)
	_, metrics := get(ops, "/metrics")
	var served []string
	for _, m := range regexp.MustCompile(`streaming_rows_written_total\{dataset="([a-z_]+)"\}`).FindAllStringSubmatch(metrics, -1) {
		served = append(served, m[1])
	}
	slices.Sort(served)
	slices.Sort(want)
	assert.Equal(t, want, served, "%s: the datasets served", b)
}

// get asks the worker's operations endpoint for path.
func get(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// lockedBuffer is a buffer a process writes to while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestMain(m *testing.M) { progtest.Main(m) }

// checkTestsExist fails unless every Test or Benchmark function text names is one
// the repository has.
func checkTestsExist(t *testing.T, text string) {
	t.Helper()
	have := testFuncs(t)
	for _, name := range regexp.MustCompile(`\b(?:Test|Benchmark)[A-Z]\w*`).FindAllString(text, -1) {
		assert.True(t, have[name], "no test or benchmark %s in the repository", name)
	}
}

var (
	funcsOnce sync.Once
	funcs     map[string]bool
)

// testFuncs are the names of the Test and Benchmark functions of the repository.
func testFuncs(t *testing.T) map[string]bool {
	t.Helper()
	funcsOnce.Do(func() {
		funcs = map[string]bool{}
		def := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark)\w+)\(`)
		_ = filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
			if err != nil || (d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "..") {
				return filepath.SkipDir
			}
			if strings.HasSuffix(path, "_test.go") {
				data, _ := os.ReadFile(path)
				for _, m := range def.FindAllSubmatch(data, -1) {
					funcs[string(m[1])] = true
				}
			}
			return nil
		})
	})
	return funcs
}

// codeSpans are the `code spans` of every page of docs/, white space folded.
func codeSpans(t *testing.T) map[string][]string {
	t.Helper()
	spans := map[string][]string{}
	span := regexp.MustCompile("`([^`]+)`")
	for _, page := range pages(t) {
		data, err := os.ReadFile(page)
		require.NoError(t, err)
		var prose []string // the page without its fenced blocks, whose fences would pair with backticks
		in := false
		for _, line := range strings.Split(string(data), "\n") {
			if fenceRE.MatchString(line) {
				in = !in
			} else if !in {
				prose = append(prose, line)
			}
		}
		for _, m := range span.FindAllStringSubmatch(strings.Join(prose, "\n"), -1) {
			spans[page] = append(spans[page], strings.Join(strings.Fields(m[1]), " "))
		}
	}
	return spans
}

// Every Test and Benchmark function docs/ names exists.
func TestNamedTestsExist(t *testing.T) {
	for _, page := range pages(t) {
		data, err := os.ReadFile(page)
		require.NoError(t, err)
		checkTestsExist(t, string(data))
	}
}

// Every metric of the programs' own that docs/ names (streaming_*, producer_*) is
// one they register, with the labels it is quoted with.
func TestMetricNamesAreThePrograms(t *testing.T) {
	reg := &describer{labels: map[string][]string{}}
	streaming.NewMetrics(reg)
	activities.NewMetrics(reg)
	require.NotEmpty(t, reg.labels)
	metric := regexp.MustCompile(`^((?:streaming|producer)_[a-z_]+?)(?:_bucket|_count|_sum)?(?:\{([^}]*)\})?(?: .*)?$`)
	label := regexp.MustCompile(`([a-z_]+)(?:="[^"]*")?`)
	checked := 0
	for page, spans := range codeSpans(t) {
		for _, s := range spans {
			m := metric.FindStringSubmatch(s)
			if m == nil || strings.HasSuffix(m[1], "_") {
				continue // not a metric, or a family (streaming_*)
			}
			checked++
			labels, ok := reg.labels[m[1]]
			if !assert.True(t, ok, "docs/%s quotes %s, which no program registers", page, s) {
				continue
			}
			for _, l := range label.FindAllStringSubmatch(m[2], -1) {
				assert.Contains(t, labels, l[1], "docs/%s quotes %s: %s has no label %s", page, s, m[1], l[1])
			}
		}
	}
	t.Logf("%d quoted metrics checked", checked)
}

// describer is a prometheus.Registerer that records each metric's variable labels.
type describer struct{ labels map[string][]string }

var descRE = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)

func (d *describer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		m := descRE.FindStringSubmatch(desc.String())
		if m == nil {
			return fmt.Errorf("a description of another form: %s", desc)
		}
		d.labels[m[1]] = strings.Split(m[2], ",")
	}
	return nil
}

func (d *describer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

func (d *describer) Unregister(prometheus.Collector) bool { return false }

// reasons are the dead-letter reasons of the code: the Reason constants of package
// rows.
func reasons(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../rows/invalid.go", nil, 0)
	require.NoError(t, err)
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if v, ok := n.(*ast.ValueSpec); ok && strings.HasPrefix(v.Names[0].Name, "Reason") {
			if lit, ok := v.Values[0].(*ast.BasicLit); ok {
				out = append(out, strings.Trim(lit.Value, `"`))
			}
		}
		return true
	})
	slices.Sort(out)
	return out
}

// The lists of dead-letter reasons in docs/ name every reason of the code and no other.
func TestDeadLetterReasonsListed(t *testing.T) {
	want := reasons(t)
	require.Len(t, want, 11)
	for _, where := range []struct{ page, from, to string }{
		{"streaming.md", "`dlq.reason` (", "), `dlq.error`"},
		{"declared-datasets.md", "## Records that do not fit", "## Example: orders"},
	} {
		data, err := os.ReadFile(where.page)
		require.NoError(t, err)
		_, after, ok := strings.Cut(string(data), where.from)
		require.True(t, ok, "%s: %q", where.page, where.from)
		list, _, ok := strings.Cut(after, where.to)
		require.True(t, ok, "%s: %q", where.page, where.to)
		var got []string
		for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(list, -1) {
			if slices.Contains(want, m[1]) && !slices.Contains(got, m[1]) {
				got = append(got, m[1])
			}
		}
		slices.Sort(got)
		assert.Equal(t, want, got, "the reasons docs/%s lists", where.page)
	}
}

// A default docs/ quotes, as "`VAR` (default `value`)" or in a table row "| `VAR` |
// `value` |", is the program's, as the configuration reference (checked against the
// programs) gives it.
func TestQuotedDefaultsAreThePrograms(t *testing.T) {
	defaults := map[string]string{}
	for _, program := range []string{"worker", "starter", "streaming"} {
		for name, def := range configref.Listed(t, program) {
			defaults[name] = def
		}
	}
	quoted := regexp.MustCompile("`([A-Z][A-Z0-9_]+)` \\(default `([^`]+)`|^\\| `([A-Z][A-Z0-9_]+)` \\| `([^`]*)` \\|")
	checked := 0
	for _, page := range pages(t) {
		if page == "configuration.md" {
			continue // the reference itself, generated from the programs (configref)
		}
		data, err := os.ReadFile(page)
		require.NoError(t, err)
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			for _, m := range quoted.FindAllStringSubmatch(sc.Text(), -1) {
				name, value := m[1]+m[3], m[2]+m[4]
				def, ok := defaults[name]
				if !ok {
					continue // not a program's variable (make's, the stack's)
				}
				checked++
				if d, err := time.ParseDuration(def); err == nil {
					v, err := time.ParseDuration(value)
					assert.True(t, err == nil && v == d, "docs/%s gives %s the default %q; the programs' is %s", page, name, value, def)
					continue
				}
				assert.Equal(t, def, value, "docs/%s gives %s the default %q", page, name, value)
			}
		}
	}
	t.Logf("%d quoted defaults checked", checked)
}

// What docs/ quotes of /healthz's waits has the programs' one grammar
// (opshttp.Waiting): "[dataset: ]waiting for server (VARIABLE) since <UTC time> (<how long>)".
func TestHealthzQuotesHaveTheOneGrammar(t *testing.T) {
	grammar := regexp.MustCompile(`^(?:[a-z_]+: )?waiting for [a-z -]+ \([A-Z_]+\)(?: \([a-z ,-]+\))? since (?:…|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+[hms0-9]*\))$`)
	checked := 0
	for page, spans := range codeSpans(t) {
		for _, s := range spans {
			if !strings.Contains(s, "waiting for ") || !strings.Contains(s, " since ") || strings.Contains(s, "<") {
				continue
			}
			checked++
			assert.Regexp(t, grammar, s, "docs/%s", page)
		}
	}
	assert.Positive(t, checked)
	t.Logf("%d quotes of /healthz checked", checked)
}

// A log message docs/ quotes whole (msg="…", or after WARN, INFO, ERROR or DEBUG) is
// one the programs log: a string literal of their code, or its head (up to ": ").
func TestQuotedLogMessagesAreThePrograms(t *testing.T) {
	literals := map[string]bool{}
	require.NoError(t, filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || (d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "..") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					head, _, _ := strings.Cut(s, ": ") // a message's head, which docs/ may quote alone
					literals[s], literals[head] = true, true
				}
			}
			return true
		})
		return nil
	}))
	quoted := regexp.MustCompile("(?:msg=\"([^\"`]+)\"|(?:WARN|INFO|ERROR|DEBUG) `([^`]+)`)")
	checked := 0
	for _, page := range pages(t) {
		data, err := os.ReadFile(page)
		require.NoError(t, err)
		for _, m := range quoted.FindAllStringSubmatch(string(data), -1) {
			msg := m[1] + m[2]
			if strings.ContainsAny(msg, "…<") {
				continue // a message with parts that vary: not quoted whole
			}
			checked++
			assert.True(t, literals[msg], "docs/%s quotes the log message %q, which no program logs", page, msg)
		}
	}
	assert.Positive(t, checked)
	t.Logf("%d quoted log messages checked", checked)
}

// Every example file of docs/examples is a good declared-datasets file (the
// streaming tests serve them on the stack: TestDeclaredUsersWriteTheBuiltInRows,
// TestDeclaredDatasetCreatesItsTableAndWritesAtTheValuesTime).
func TestExampleFilesLoad(t *testing.T) {
	files, err := filepath.Glob("examples/*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		ds, err := datasets.LoadFile(f)
		assert.NoError(t, err, f)
		assert.NotEmpty(t, ds, f)
	}
}
