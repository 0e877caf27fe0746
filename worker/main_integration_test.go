package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/progtest"
	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/workflows"
)

// stack is what an integration test of the worker program uses: the local stack's
// Temporal and Kafka, and names of its own so that tests do not meet.
type stack struct {
	brokers   []string
	client    client.Client
	taskQueue string
	schedule  string
	topic     string
	workerBin string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	addr, brokers := stacktest.TemporalAddress(t), stacktest.KafkaBrokers(t)
	c, err := client.Dial(client.Options{
		HostPort:  addr,
		Namespace: stacktest.TemporalNamespace(),
		Logger:    tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	name := fmt.Sprintf("test-%s-%d", t.Name(), time.Now().UnixNano())
	s := &stack{brokers: brokers, client: c, taskQueue: name, schedule: name, topic: name, workerBin: buildWorker(t)}
	t.Cleanup(func() {
		_ = c.ScheduleClient().GetHandle(context.Background(), s.schedule).Delete(context.Background())
	})
	return s
}

func TestMain(m *testing.M) { progtest.Main(m) }

// buildWorker builds this program, once per test run.
func buildWorker(t *testing.T) string {
	t.Helper()
	return progtest.Program(t, "worker")
}

// workerProcess is a running worker program.
type workerProcess struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	ops  string // where it serves /metrics and /healthz
}

// startWorker runs the worker program on the stack, with randomuserURL as the API.
// It is stopped with SIGTERM when the test ends, and its log shown if the test failed.
func (s *stack) startWorker(t *testing.T, randomuserURL string, env ...string) *workerProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for /metrics
	require.NoError(t, err)
	ops := ln.Addr().String()
	require.NoError(t, ln.Close())
	cmd := exec.Command(s.workerBin)
	cmd.Env = append(os.Environ(),
		"WORKER_METRICS_ADDR="+ops,
		"TEMPORAL_TASK_QUEUE="+s.taskQueue,
		"TEMPORAL_SCHEDULE_ID="+s.schedule,
		"KAFKA_TOPIC="+s.topic,
		"RANDOMUSER_URL="+randomuserURL,
	)
	cmd.Env = append(cmd.Env, env...)
	w := &workerProcess{cmd: cmd, logs: &lockedBuffer{}, ops: ops}
	cmd.Stdout, cmd.Stderr = w.logs, w.logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("worker %d log:\n%s", cmd.Process.Pid, w.logs)
		}
	})
	return w
}

// kill ends the worker at once, as a crash would.
func (w *workerProcess) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Kill())
	_ = w.cmd.Wait()
}

func (s *stack) start(t *testing.T, ctx context.Context, in workflows.UserAutomationInput) client.WorkflowRun {
	t.Helper()
	in.Topic = s.topic
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: s.taskQueue, TaskQueue: s.taskQueue},
		workflows.UserAutomation, in)
	require.NoError(t, err)
	return run
}

// userIDs are the ids a run must publish: users per tick for each tick.
func userIDs(run client.WorkflowRun, ticks, users int) map[string]bool {
	ids := map[string]bool{}
	for k := range ticks {
		for i := range users {
			ids[datasets.Users.RecordID(run.GetID(), run.GetRunID(), k, i)] = true
		}
	}
	return ids
}

// published reads the stack's topic and checks every message: a datasets.User, all
// fields filled in, keyed by its id. It returns the distinct ids.
func (s *stack) published(t *testing.T, ctx context.Context) (ids map[string]bool, messages int) {
	t.Helper()
	msgs, partitions := kafkatest.ReadAll(ctx, t, s.brokers, s.topic)
	assert.Equal(t, 3, partitions, "the run creates its topic with 3 partitions")
	ids = map[string]bool{}
	for _, m := range msgs {
		var fields map[string]any
		require.NoError(t, json.Unmarshal(m.Value, &fields), "value is JSON: %s", m.Value)
		for _, name := range []string{"id", "first_name", "last_name", "gender", "address", "post_code",
			"email", "username", "dob", "registered_date", "phone", "picture"} {
			v, ok := fields[name].(string)
			assert.True(t, ok && v != "", "field %s is a non-empty string in %s", name, m.Value)
		}
		var u datasets.User
		require.NoError(t, json.Unmarshal(m.Value, &u))
		assert.Equal(t, u.ID, string(m.Key), "key = id")
		ids[u.ID] = true
	}
	return ids, len(msgs)
}

func TestTenSecondRun(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	w := s.startWorker(t, randomusertest.NewServer(t).URL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run := s.start(t, ctx, workflows.UserAutomationInput{Duration: "10s", RecordsPerTick: 3})
	var res workflows.UserAutomationResult
	require.NoError(t, run.Get(ctx, &res))

	assert.Equal(t, 10, res.Ticks)
	assert.Equal(t, 30, res.UsersPublished)
	assert.Equal(t, workflows.SourceCounts{RandomUser: 30}, res.RecordsBySource)
	ids, messages := s.published(t, ctx)
	assert.Equal(t, 30, messages, "exactly ticks × users messages")
	assert.Equal(t, userIDs(run, 10, 3), ids)
	t.Logf("result: %+v", res)

	d, err := s.client.ScheduleClient().GetHandle(ctx, s.schedule).Describe(ctx)
	require.NoError(t, err, "the worker creates the schedule at start")
	assert.True(t, d.Schedule.State.Paused)

	assert.Equal(t, "ok\n", w.get(t, "/healthz"))
	metrics := w.get(t, "/metrics")
	assert.Contains(t, metrics, `producer_users_published_total{dataset="users",source="randomuser"} 30`)
	assert.Contains(t, metrics, "producer_ticks_published_total 10")
	assert.Contains(t, metrics, "producer_tick_lateness_seconds_count 10")
	// The Temporal SDK's own metrics, on the same /metrics.
	for _, series := range []string{
		`temporal_workflow_completed_total{`,
		`temporal_activity_execution_latency_seconds_bucket{`,
		`temporal_request_total{`,
		`temporal_workflow_task_queue_poll_succeed_total{`,
	} {
		assert.Contains(t, metrics, series)
	}
	assert.Regexp(t, `temporal_activity_execution_latency_seconds_count\{[^}]*activity_type="PublishTick"[^}]*task_queue="`+s.taskQueue+`"[^}]*\} 10\n`, metrics)
	// Every series docs/observability.md lists as there after a short run is.
	doc, err := os.ReadFile("../docs/observability.md")
	require.NoError(t, err)
	_, listed, _ := strings.Cut(string(doc), "<!-- checked: by worker TestTenSecondRun -->\n```text\n")
	listed, _, _ = strings.Cut(listed, "```")
	require.NotEmpty(t, listed, "docs/observability.md lists the Temporal SDK's series")
	for _, line := range strings.Split(strings.TrimSpace(listed), "\n") {
		name, _, _ := strings.Cut(line, "{")
		assert.Contains(t, metrics, "\n"+name+"{", "docs/observability.md lists %s", line)
	}
}

// What a run's input may not do on the real worker and server: carry a Resume (the
// run's own state, which it sets when it continues as new) or name a topic that is
// not its dataset's own. Either fails the run at once, for good, before anything is
// published or created; WORKER_ALLOWED_TOPICS opens a topic.
func TestRunRefusesForeignResumeAndTopic(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	allowed, foreign := s.topic+"-allowed", s.topic+"-foreign"
	s.startWorker(t, "http://127.0.0.1:1/api/", "WORKER_ALLOWED_TOPICS="+allowed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runToEnd := func(id string, in workflows.UserAutomationInput) error {
		run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: s.taskQueue + "-" + id, TaskQueue: s.taskQueue},
			workflows.UserAutomation, in)
		require.NoError(t, err)
		return run.Get(ctx, nil)
	}

	forged := &workflows.Progress{RunID: "someone-elses-run", Start: time.Now(), TicksTotal: 100, TicksDone: 99}
	err := runToEnd("resume", workflows.UserAutomationInput{Duration: "100s", Topic: s.topic, Resume: forged})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid input: resume: is the run's own state, which it sets when it continues as new; leave it out")
	assert.Contains(t, err.Error(), "retryable: false")

	err = runToEnd("topic", workflows.UserAutomationInput{Duration: "1s", Topic: foreign})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "topic "+foreign+" is not allowed: the worker publishes a dataset's records to its own topic")
	assert.Contains(t, err.Error(), "TopicNotAllowed")
	assert.ErrorIs(t, kafkasec.Metadata(ctx, nil, s.brokers, foreign), kafka.UnknownTopicOrPartition, "the topic was not created")

	require.NoError(t, runToEnd("allowed", workflows.UserAutomationInput{Duration: "1s", Topic: allowed}))
}

// get returns the body of a 200 answer to GET path from the worker's ops endpoint.
func (w *workerProcess) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + w.ops + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	return string(body)
}

// healthz asks /healthz, whatever it answers.
func (w *workerProcess) healthz(t *testing.T) {
	t.Helper()
	resp, err := http.Get("http://" + w.ops + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
}

func TestRunSurvivesWorkerKill(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	const deadAPI = "http://127.0.0.1:1/api/" // as offline as this machine: the faker serves every tick
	first := s.startWorker(t, deadAPI)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run := s.start(t, ctx, workflows.UserAutomationInput{Duration: "12s", RecordsPerTick: 2})
	require.Eventually(t, func() bool {
		v, err := s.client.QueryWorkflow(ctx, run.GetID(), "", workflows.ProgressQuery)
		var p workflows.Progress
		return err == nil && v.Get(&p) == nil && p.TicksDone >= 4
	}, 30*time.Second, 100*time.Millisecond, "the run makes progress")
	first.kill(t)
	s.startWorker(t, deadAPI)

	var res workflows.UserAutomationResult
	require.NoError(t, run.Get(ctx, &res))
	t.Logf("result: %+v", res)
	assert.Equal(t, 12, res.Ticks)
	assert.Equal(t, 24, res.UsersPublished)
	assert.Equal(t, workflows.SourceCounts{Faker: 24}, res.RecordsBySource)
	assert.Positive(t, res.LateTicks, "ticks fell due while no worker ran")
	ids, messages := s.published(t, ctx)
	assert.Equal(t, userIDs(run, 12, 2), ids, "the topic holds exactly the run's users")
	assert.GreaterOrEqual(t, messages, 24, "a tick in flight at the kill may have been sent twice")
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// The command line is answered before anything is read or dialled: -h and -version
// exit 0 even with a configuration that could not connect, a flag or argument it does
// not know exits 2, and every bad variable is reported at once, exit 2.
func TestCommandLine(t *testing.T) {
	unreachable := map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1", "KAFKA_BROKERS": "127.0.0.1:1"}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		wantStdout []string
		wantStderr []string
	}{
		{"-h", []string{"-h"}, unreachable, 0,
			[]string{"Usage: worker [flags]", "-version", "KAFKA_BROKERS", "(default localhost:9092)", "WORKER_METRICS_ADDR", "(default 127.0.0.1:9101)"}, nil},
		{"--help", []string{"--help"}, unreachable, 0, []string{"Usage: worker [flags]"}, nil},
		{"-h with a bad environment", []string{"-h"}, map[string]string{"LOG_LEVEL": "loud"}, 0, []string{"Usage: worker"}, nil},
		{"-version", []string{"-version"}, unreachable, 0, []string{"worker ", "built with go1."}, nil},
		{"unknown flag", []string{"-verbose"}, unreachable, 2, nil,
			[]string{"worker: flag provided but not defined: -verbose", "Usage: worker [flags]"}},
		{"argument", []string{"start"}, unreachable, 2, nil, []string{`worker: unexpected argument "start"`}},
		{"every bad variable at once", nil, map[string]string{"LOG_LEVEL": "loud", "LOG_FORMAT": "xml", "KAFKA_BATCH_SIZE": "-5",
			"WORKER_METRICS_ADDR": "localhost", "RANDOMUSER_TIMEOUT": "soon"}, 2, nil,
			[]string{"worker: bad configuration:", `LOG_LEVEL="loud": want debug, info, warn or error`, `LOG_FORMAT="xml": want text or json`,
				`KAFKA_BATCH_SIZE="-5": want a positive whole number`, `WORKER_METRICS_ADDR="localhost"`, "malformed",
				`RANDOMUSER_TIMEOUT="soon"`, "Run 'worker -h'"}},
		{"bad Kafka security", nil, map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CERT_FILE": "/nonexistent/client.pem",
			"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_PASSWORD": "Pa55-never-shown"}, 2, nil,
			[]string{"worker: bad configuration:", `KAFKA_TLS_CERT_FILE is set but KAFKA_TLS_KEY_FILE is not`,
				`KAFKA_SASL_USERNAME="": want the user to log in as with SCRAM-SHA-512`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := runMain(tt.args, func(name string) (string, bool) { v, ok := tt.env[name]; return v, ok }, &stdout, &stderr)
			assert.Equal(t, tt.code, code, "stderr: %s", stderr.String())
			assert.Less(t, time.Since(start), time.Second, "answered without connecting")
			for _, w := range tt.wantStdout {
				assert.Contains(t, stdout.String(), w)
			}
			for _, w := range tt.wantStderr {
				assert.Contains(t, stderr.String(), w)
			}
			assert.NotContains(t, stderr.String()+stdout.String(), "Pa55-never-shown")
		})
	}
}

// The built program answers -version with its build and the versions of its
// Temporal, Kafka and Cassandra clients.
func TestVersionOfTheBuiltProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	out, err := exec.Command(buildWorker(t), "-version").Output()
	require.NoError(t, err)
	assert.Regexp(t, `^worker \S+`, string(out))
	assert.Contains(t, string(out), "go.temporal.io/sdk v1.")
	assert.Contains(t, string(out), "github.com/segmentio/kafka-go v0.")
}

// SIGTERM stops the worker whenever it comes: also while it dials Temporal and creates
// its schedule, before its task queue is polled (a signal then used to be swallowed,
// and the worker ran on until SIGKILL).
func TestStopsOnSignalWhileStarting(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	for _, after := range []time.Duration{0, 100 * time.Millisecond, 250 * time.Millisecond,
		500 * time.Millisecond, time.Second, 2 * time.Second} {
		w := s.startWorker(t, "http://127.0.0.1:1/api/")
		time.Sleep(after)
		require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
		exited := make(chan error, 1)
		go func() { exited <- w.cmd.Wait() }()
		select {
		case err := <-exited: // exit 0, or killed by the signal before the program watched for it
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				assert.Equal(t, syscall.SIGTERM, exit.Sys().(syscall.WaitStatus).Signal(), "SIGTERM %v after start: %v\n%s", after, err, w.logs)
			} else {
				assert.NoError(t, err, "SIGTERM %v after start", after)
			}
		case <-time.After(30 * time.Second): // the worker's own stop timeout is 20 s
			_ = w.cmd.Process.Kill()
			t.Fatalf("SIGTERM %v after start: still running 30 s later; its log:\n%s", after, w.logs)
		}
	}
}

// /healthz answers 503 naming Kafka (by its variable, not its address) when the
// worker cannot reach it, in the one grammar of a wait; the log says why at the
// default level, once (docs/configuration.md, Operations endpoints).
func TestHealthzReportsKafkaUnreachable(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	w := s.startWorker(t, "http://127.0.0.1:1/api/", "KAFKA_BROKERS=127.0.0.1:1")
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + w.ops + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 20*time.Second, 200*time.Millisecond, "healthz: %s", body)
	assert.Regexp(t, `^not ready\nwaiting for kafka \(KAFKA_BROKERS\) since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s\)\n$`, body,
		"states only: no host, no error text")
	for range 3 {
		w.healthz(t)
	}
	logs := w.logs.String()
	assert.Equal(t, 1, strings.Count(logs, `level=INFO msg="/healthz answers 503" healthz="not ready\nwaiting for kafka (KAFKA_BROKERS) since `),
		"one line at the default level, however often /healthz is asked:\n%s", logs)
	assert.Contains(t, logs, "Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused", "the log has the details")
}

// Kafka settings that cannot work (TLS or SASL at a listener without them) stop the
// worker at start with exit 2, in the words the other programs use (kafkasec).
func TestKafkaMisconfigurationStopsTheWorker(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	for _, tt := range []struct {
		name string
		env  []string
		says string
	}{
		{"TLS at a plaintext listener", []string{"KAFKA_TLS=1"},
			"the broker does not speak TLS at this address: unset KAFKA_TLS, or point KAFKA_BROKERS at its TLS listener"},
		{"SASL at a listener without it", []string{"KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "KAFKA_SASL_USERNAME=app", "KAFKA_SASL_PASSWORD=x"},
			"the broker does not speak SASL at this address: unset KAFKA_SASL_MECHANISM, or point KAFKA_BROKERS at its SASL listener"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := s.startWorker(t, "http://127.0.0.1:1/api/", tt.env...)
			err := w.cmd.Wait()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the worker stops: %s", w.logs)
			assert.Equal(t, 2, exit.ExitCode())
			assert.Contains(t, w.logs.String(), "kafka at "+s.brokers[0]+" (KAFKA_BROKERS): "+tt.says)
		})
	}
}

// Kafka stopped for 30 s mid-run (a Kafka of the test's own): the ticks that fall
// due meanwhile wait, the run says why (its pending tick's last failure names Kafka
// and KAFKA_BROKERS, as the starter's progress shows it; /healthz says 503), and once
// Kafka is back they are published late; every tick's users reach the topic.
func TestRunSurvivesKafkaOutage(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsScript)
	k := stacktest.PrivateKafka(t, "../stack/stack.sh")
	s := newStack(t)
	s.brokers = k.Brokers
	w := s.startWorker(t, "http://127.0.0.1:1/api/", "KAFKA_BROKERS="+k.Brokers[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const ticks = 40
	run := s.start(t, ctx, workflows.UserAutomationInput{Duration: fmt.Sprintf("%ds", ticks)})
	progress := func() workflows.Progress {
		v, err := s.client.QueryWorkflow(ctx, run.GetID(), "", workflows.ProgressQuery)
		var p workflows.Progress
		if err == nil {
			_ = v.Get(&p)
		}
		return p
	}
	require.Eventually(t, func() bool { return progress().TicksDone >= 5 }, time.Minute, 100*time.Millisecond)

	k.Stop()
	down := time.Now()
	// On a loaded machine the tick in flight may first fail otherwise (the broker
	// shutting down: "no leader"; its StartToClose timeout) and its next attempt come
	// after Temporal's backoff: wait for the reason, and say what was seen meanwhile.
	want := "Kafka at " + k.Brokers[0] + " (KAFKA_BROKERS) unreachable: connection refused"
	var reason, last string
	var seen []string // the pending ticks' failures, as they changed
	for deadline := time.Now().Add(time.Minute); reason == ""; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no pending tick says why it waits (%q) a minute after the stop; their failures seen:\n%s",
				want, strings.Join(seen, "\n"))
		}
		d, err := s.client.DescribeWorkflowExecution(ctx, run.GetID(), "")
		if err != nil {
			continue
		}
		for _, a := range d.GetPendingActivities() {
			f := a.GetLastFailure()
			if f == nil {
				continue
			}
			msg := f.GetMessage()
			if msg != last {
				last = msg
				seen = append(seen, fmt.Sprintf("%s after the stop: %s", time.Since(down).Round(100*time.Millisecond), msg))
			}
			if strings.Contains(msg, want) {
				reason = msg
			}
		}
	}
	t.Logf("the pending ticks' failures:\n%s", strings.Join(seen, "\n"))
	resp, err := http.Get("http://" + w.ops + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), "waiting for kafka (KAFKA_BROKERS) since ")
	doneBefore := progress().TicksDone
	time.Sleep(30*time.Second - time.Since(down))
	k.Start()
	back := time.Now()

	var res workflows.UserAutomationResult
	require.NoError(t, run.Get(ctx, &res))
	t.Logf("Kafka down %s; ticks done before the outage %d; result: %+v; run ended %s after Kafka was back",
		back.Sub(down).Round(time.Second), doneBefore, res, time.Since(back).Round(time.Second))
	assert.Equal(t, ticks, res.Ticks)
	assert.Equal(t, ticks, res.UsersPublished)
	assert.Positive(t, res.LateTicks, "the ticks due while Kafka was down were published late")
	ids, messages := s.published(t, ctx)
	assert.Equal(t, userIDs(run, ticks, 1), ids, "the topic holds exactly the run's users")
	assert.GreaterOrEqual(t, messages, ticks, "a tick retried after a partial write may be on the topic twice")
}
