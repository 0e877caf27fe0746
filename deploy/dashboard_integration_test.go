// Package deploy holds what the compose stack runs beside the programs: Prometheus'
// configuration and Grafana's dashboard and provisioning. Its tests keep the
// dashboard honest: every metric a panel queries is one the programs expose.
package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/streampipe/streampipe/internal/testkit/progtest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/workflows"
)

const dashboardFile = "grafana/dashboards/streampipe.json"

// dashboard is the part of a Grafana dashboard that queries Prometheus.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// queries are the dashboard's PromQL expressions, by where they are (a panel's
// title, or a variable's name).
func queries(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(b, &d))
	out := map[string][]string{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q queries nothing", p.Title)
		for _, target := range p.Targets {
			out["panel "+p.Title] = append(out["panel "+p.Title], target.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			out["variable "+v.Name] = append(out["variable "+v.Name], v.Definition)
		}
	}
	return out
}

var (
	// What of a PromQL expression names no metric: strings, label matchers and
	// grouping lists, range and offset selectors, numbers.
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlNumbers  = regexp.MustCompile(`\b[0-9][0-9a-zA-Z_.]*`) // 0.99, 5m, 1e3
	promqlWord     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	// promqlKeywords are PromQL's operators and modifiers that read like names.
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
		"group_left", "group_right", "inf", "nan"}
)

// metricNames are the metrics expr queries: its names that are neither a function
// (followed by "("), nor a label, nor a keyword.
func metricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	s = promqlRanges.ReplaceAllString(s, " ")
	s = promqlNumbers.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promqlWord.FindAllStringSubmatch(s, -1) {
		word := m[0]
		if m[1] != "" || slices.Contains(promqlKeywords, strings.ToLower(word)) {
			continue
		}
		if !slices.Contains(names, word) {
			names = append(names, word)
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (dataset, source) (rate(producer_users_published_total[$__rate_interval]))`:                              {"producer_users_published_total"},
		`histogram_quantile(0.99, sum by (le, dataset) (rate(streaming_batch_records_bucket{dataset=~"$dataset"}[5m])))`: {"streaming_batch_records_bucket"},
		`sum(rate(a_sum[1m])) / sum(rate(a_count[1m] offset 5m)) > bool 0`:                                               {"a_sum", "a_count"},
		`label_values(streaming_rows_written_total, dataset)`:                                                            {"streaming_rows_written_total", "dataset"},
		`max by (dataset) (x{reason="a{b}"}) or on (dataset) y`:                                                          {"x", "y"},
	} {
		assert.Equal(t, want, metricNames(expr), expr)
	}
}

// Every metric a panel or a variable of the dashboard queries is exposed by the
// programs, as scraped from a real run: the worker and the streaming worker, on
// the stack, through a run that publishes, consumes and writes, an activity that
// fails and a record the streaming worker dead-letters. Both programs log JSON
// lines meanwhile (LOG_FORMAT=json).
func TestDashboardQueriesWhatTheProgramsExpose(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	brokers := stacktest.KafkaBrokers(t)
	user, password := stacktest.CassandraCredentials()
	name := fmt.Sprintf("dashboard-%d", time.Now().UnixNano())
	topic := name

	// The streaming worker creates the topic (with replication factor 1) and its
	// dead-letter topic at start-up.
	streaming := start(t, progtest.Program(t, "streaming"), "STREAMING_METRICS_ADDR",
		"KAFKA_BROKERS="+strings.Join(brokers, ","), "CASSANDRA_HOSTS="+strings.Join(stacktest.CassandraHosts(t), ","),
		"CASSANDRA_USERNAME="+user, "CASSANDRA_PASSWORD="+password,
		"STREAMING_DATASETS=users", "KAFKA_TOPIC="+topic, "KAFKA_DLQ_TOPIC="+topic+".dlq",
		"STREAMING_GROUP="+name, "CASSANDRA_KEYSPACE=dashboard_test", "CASSANDRA_TABLE=created_users")
	streaming.waitReady(t, 3*time.Minute)

	// The worker asks for replication factor 2 of the topics it creates, which the
	// stack's single broker refuses: a run on the streaming worker's topic (it
	// exists) publishes, a run on a new topic fails its EnsureTopic activity.
	worker := start(t, progtest.Program(t, "worker"), "WORKER_METRICS_ADDR",
		"TEMPORAL_ADDRESS="+stacktest.TemporalAddress(t), "TEMPORAL_NAMESPACE="+stacktest.TemporalNamespace(),
		"KAFKA_BROKERS="+strings.Join(brokers, ","),
		"TEMPORAL_TASK_QUEUE="+name, "TEMPORAL_SCHEDULE_ID="+name, "KAFKA_TOPIC="+topic,
		"KAFKA_TOPIC_REPLICATION_FACTOR=2", "RANDOMUSER_URL=http://127.0.0.1:1/api/")
	c := temporalClient(t)
	t.Cleanup(func() { _ = c.ScheduleClient().GetHandle(context.Background(), name).Delete(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	good := startRun(t, ctx, c, name, name+"-good", workflows.UserAutomationInput{Duration: "3s", RecordsPerTick: 2, Topic: topic})
	failing := startRun(t, ctx, c, name, name+"-failing", workflows.UserAutomationInput{Duration: "3s", Topic: name + "-new"})
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), failing.GetID(), "", "test over") })
	require.NoError(t, good.Get(ctx, nil))

	deadLetter(t, ctx, brokers, topic)
	worker.waitFor(t, `temporal_activity_execution_failed_total{`)
	streaming.waitFor(t, `streaming_dlq_records_total{`)
	streaming.waitFor(t, `streaming_rows_written_total{dataset="users"} 6`)

	exposed := map[string]bool{}
	for _, p := range []*process{worker, streaming} {
		for n := range sampleNames(p.get(t, "/metrics")) {
			exposed[n] = true
		}
	}
	checked := 0
	for where, exprs := range queries(t) {
		for _, expr := range exprs {
			for _, metric := range metricNames(expr) {
				if strings.HasPrefix(where, "variable ") && metric == "dataset" {
					continue // label_values(metric, label): the label
				}
				checked++
				assert.True(t, exposed[metric], "%s queries %s, which neither program exposes: %s", where, metric, expr)
			}
		}
	}
	assert.GreaterOrEqual(t, checked, 20, "the dashboard's queries were read")
	worker.assertJSONLog(t)
	streaming.assertJSONLog(t)
}

// sampleNames are the names of the samples of a Prometheus text exposition: a
// histogram's are its _bucket, _sum and _count.
func sampleNames(exposition string) map[string]bool {
	names := map[string]bool{}
	s := bufio.NewScanner(strings.NewReader(exposition))
	for s.Scan() {
		line := s.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

func TestMain(m *testing.M) { progtest.Main(m) }

// process is a running program, logging JSON lines.
type process struct {
	cmd    *exec.Cmd
	logs   string        // the file of its stdout and stderr
	ops    string        // where it serves /metrics and /healthz
	exited chan struct{} // closed when it has exited
}

// start runs bin with env and LOG_FORMAT=json, serving /metrics on a free port
// named by opsVar; it is stopped with SIGTERM when the test ends, and its log shown
// if the test failed.
func start(t *testing.T, bin, opsVar string, env ...string) *process {
	t.Helper()
	logs, err := os.CreateTemp(t.TempDir(), filepath.Base(bin)+"-*.log")
	require.NoError(t, err)
	t.Cleanup(func() { _ = logs.Close() })
	p := &process{cmd: exec.Command(bin), logs: logs.Name(), ops: fmt.Sprintf("127.0.0.1:%d", stacktest.FreePort(t)),
		exited: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), "LOG_FORMAT=json", opsVar+"="+p.ops), env...)
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.exited
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), p.log(t))
		}
	})
	return p
}

// get returns the body of GET path from the process's ops endpoint, "" when it does
// not answer 200.
func (p *process) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + p.ops + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(body)
}

// waitUntil waits until ok, failing the test at once if the process exits.
func (p *process) waitUntil(t *testing.T, timeout time.Duration, ok func() bool, what string) {
	t.Helper()
	deadline := time.After(timeout)
	for !ok() {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before %s", filepath.Base(p.cmd.Path), what)
		case <-deadline:
			t.Fatalf("%s: no %s after %v", filepath.Base(p.cmd.Path), what, timeout)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (p *process) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.waitUntil(t, timeout, func() bool { return p.get(t, "/healthz") != "" }, "/healthz 200")
}

// waitFor waits until the process's /metrics holds text.
func (p *process) waitFor(t *testing.T, text string) {
	t.Helper()
	p.waitUntil(t, time.Minute, func() bool { return strings.Contains(p.get(t, "/metrics"), text) }, text+" on /metrics")
}

// log is what the process has written so far.
func (p *process) log(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.logs)
	require.NoError(t, err)
	return string(b)
}

// assertJSONLog checks that every line the process logged is a JSON object with a
// level and a message.
func (p *process) assertJSONLog(t *testing.T) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(p.log(t)), "\n")
	require.NotEmpty(t, lines)
	for _, line := range lines {
		var entry map[string]any
		if assert.NoError(t, json.Unmarshal([]byte(line), &entry), "a JSON line: %s", line) {
			assert.NotEmpty(t, entry["level"], line)
			assert.NotEmpty(t, entry["msg"], line)
		}
	}
}

func temporalClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  stacktest.TemporalAddress(t),
		Namespace: stacktest.TemporalNamespace(),
		Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func startRun(t *testing.T, ctx context.Context, c client.Client, taskQueue, id string, in workflows.UserAutomationInput) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, workflows.UserAutomation, in)
	require.NoError(t, err)
	return run
}

// deadLetter publishes a record that is not JSON to topic.
func deadLetter(t *testing.T, ctx context.Context, brokers []string, topic string) {
	t.Helper()
	// A transport of its own: kafka-go's shared default one answers metadata from a
	// cache that may not know the topic the worker made a moment ago.
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, Transport: transport}
	defer w.Close()
	require.NoError(t, w.WriteMessages(ctx, kafka.Message{Key: []byte("not-json"), Value: []byte("not json")}))
}
