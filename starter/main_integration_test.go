package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/workflows"
)

func TestCommandLine(t *testing.T) {
	cfg, err := config.LoadStarter(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.TemporalAddress = "127.0.0.1:1" // nothing may connect: each case ends before
	tests := []struct {
		args                   []string
		wantErr                error
		wantStdout, wantStderr string
	}{
		{nil, errUsage, "", "Commands:"},
		{[]string{"-h"}, nil, "schedule describe", ""},
		{[]string{"--help"}, nil, "TEMPORAL_ADDRESS", ""},
		{[]string{"help"}, nil, "Commands:", ""},
		{[]string{"-version"}, nil, "go.temporal.io/sdk v1.", ""},
		{[]string{"-verbose"}, errUsage, "", "flag provided but not defined: -verbose"},
		{[]string{"launch"}, errUsage, "", `unknown command "launch"`},
		{[]string{"schedule"}, errUsage, "", "name a command: create, pause"},
		{[]string{"schedule", "-h"}, nil, "schedule create", ""},
		{[]string{"schedule", "toggle"}, errUsage, "", `unknown command "schedule toggle"`},
		{[]string{"schedule", "create", "-h"}, nil, "Usage: starter schedule create [flags]", ""},
		{[]string{"schedule", "describe", "--help"}, nil, "-schedule-id", ""},
		{[]string{"run", "-h"}, nil, "-users-per-tick", ""},
		{[]string{"run", "-version"}, nil, "github.com/segmentio/kafka-go v0.", ""},
		{[]string{"run", "-users-per-tick", "many"}, errUsage, "", "invalid value"},
		{[]string{"run", "extra"}, errUsage, "", `unexpected argument "extra"`},
		{[]string{"run", "-duration", "10x"}, errUsage, "",
			`starter run: invalid input: duration (flag -duration): "10x" is not a duration`},
		{[]string{"schedule", "create", "-duration", "10x", "-users-per-tick", "999999"}, errUsage, "",
			`starter schedule create: invalid input: duration (flag -duration): "10x" is not a duration`},
		{[]string{"schedule", "create", "-users-per-tick", "999999"}, errUsage, "",
			"invalid input: users_per_tick (flag -records-per-tick (or -users-per-tick)): must be between 1 and 5000, got 999999"},
		{[]string{"run", "-records-per-tick", "0x"}, errUsage, "", "invalid value"},
		{[]string{"run", "-dataset", "orders"}, errUsage, "", "invalid input: dataset (flag -dataset)"},
		{[]string{"schedule", "pause", "-dataset", "orders"}, errUsage, "", "invalid input: dataset (flag -dataset)"},
		{[]string{"schedule", "create", "-h"}, nil, "transactions-automation", ""},
		{[]string{"verify", "-h"}, nil, "Rows in Cassandra for this run: N of M <records> published.", ""},
		{[]string{"verify"}, errUsage, "", "name the run's ids file with -ids-file"},
		{[]string{"verify", "-dataset", "orders", "-ids-file", "x"}, errUsage, "", "invalid input: dataset (flag -dataset)"},
		{[]string{"dlq"}, errUsage, "", "starter dlq: name a command: stats or replay"},
		{[]string{"dlq", "-h"}, nil, "dlq replay", ""},
		{[]string{"dlq", "purge"}, errUsage, "", `unknown command "dlq purge"`},
		{[]string{"dlq", "stats", "-h"}, nil, "by reason, by source", ""},
		{[]string{"dlq", "stats", "-dataset", "orders"}, errUsage, "", "invalid input: dataset (flag -dataset)"},
		{[]string{"dlq", "replay", "-h"}, nil, "-max-replays", ""},
		{[]string{"dlq", "replay", "-since", "yesterday"}, errUsage, "",
			`starter dlq replay: invalid input: since (flag -since): "yesterday" is neither a duration`},
		{[]string{"dlq", "replay", "-dlq-topic", "a b"}, errUsage, "", "invalid input: dlq_topic (flag -dlq-topic)"},
		{[]string{"dlq", "replay", "-max-replays", "-1"}, errUsage, "", "invalid input: max_replays (flag -max-replays or -page-size)"},
		{[]string{"cutover", "-h"}, nil, "-spark-checkpoint directory", ""},
		{[]string{"cutover"}, errUsage, "", "starter cutover: name the Spark query's checkpoint directory with -spark-checkpoint"},
		{[]string{"cutover", "-spark-checkpoint", "/no/such/checkpoint"}, errUsage, "",
			"starter cutover: not a Spark checkpoint directory: open /no/such/checkpoint/commits"},
		{[]string{"cutover", "-dataset", "orders", "-spark-checkpoint", "x"}, errUsage, "", "invalid input: dataset (flag -dataset)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			err := dispatch(context.Background(), tt.args, cfg, nil, &stdout, &stderr)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, stdout.String(), tt.wantStdout)
			assert.Contains(t, stderr.String(), tt.wantStderr)
			assert.Less(t, time.Since(start), time.Second, "answered without connecting")
		})
	}
}

// Every bad variable is reported at once, before anything connects; -h still works.
func TestBadConfiguration(t *testing.T) {
	env := map[string]string{"TEMPORAL_ADDRESS": "localhost", "TEMPORAL_UI_URL": "localhost:8233",
		"CASSANDRA_TLS_KEY_FILE": "/no/such/client.key", "LOG_FORMAT": "yaml", "CASSANDRA_TABLE": "Bad-Name"}
	cfg, cfgErr := config.LoadStarter(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	require.Error(t, cfgErr)
	var stdout, stderr bytes.Buffer
	require.ErrorIs(t, dispatch(context.Background(), []string{"schedule", "describe"}, cfg, cfgErr, &stdout, &stderr), errUsage)
	assert.Contains(t, stderr.String(), "starter: bad configuration:")
	assert.Contains(t, stderr.String(), `TEMPORAL_ADDRESS="localhost": want host:port`)
	assert.Contains(t, stderr.String(), `TEMPORAL_UI_URL="localhost:8233": want an http:// or https:// URL`)
	assert.Contains(t, stderr.String(), "CASSANDRA_TLS_KEY_FILE is set but CASSANDRA_TLS is not 1")
	assert.Contains(t, stderr.String(), `LOG_FORMAT="yaml": want text or json`)
	// The dataset's table, checked as the streaming worker checks it (one reader).
	assert.Contains(t, stderr.String(), `CASSANDRA_TABLE="Bad-Name": want a letter, then letters, digits or _`)

	require.NoError(t, dispatch(context.Background(), []string{"run", "-h"}, cfg, cfgErr, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "Usage: starter run [flags]")
}

func TestUnreachableTemporalSaysWhatToCheck(t *testing.T) {
	cfg, err := config.LoadStarter(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	err = dispatch(context.Background(), []string{"schedule", "describe", "-address", "127.0.0.1:1"}, cfg, nil, &bytes.Buffer{}, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot reach Temporal at 127.0.0.1:1")
	assert.Contains(t, err.Error(), "make stack-up")
}

// startWorker runs a worker for the test's task queue in this process, with the
// local stack's Kafka or the brokers given.
func startWorker(t *testing.T, brokers ...string) config.Producer {
	t.Helper()
	cfg, err := config.LoadStarter(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.TemporalAddress, cfg.TemporalNamespace = stacktest.TemporalAddress(t), stacktest.TemporalNamespace()
	cfg.TaskQueue = fmt.Sprintf("test-starter-%d", time.Now().UnixNano())
	cfg.ScheduleID, cfg.KafkaTopic = cfg.TaskQueue, cfg.TaskQueue
	quiet := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: tlog.NewStructuredLogger(quiet)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	if len(brokers) == 0 {
		brokers = stacktest.KafkaBrokers(t)
	}
	acts := activities.New(activities.Config{KafkaBrokers: brokers, RandomUserURL: randomusertest.NewServer(t).URL,
		AllowedTopics: []string{"*"}}, quiet) // each test its own topics
	t.Cleanup(func() { _ = acts.Close() })
	w := worker.New(c, cfg.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.UserAutomation)
	w.RegisterWorkflow(workflows.DLQReplay)
	w.RegisterActivity(acts)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return cfg
}

func TestRunFollowsToTheResult(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	cfg := startWorker(t)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	idsFile := filepath.Join(t.TempDir(), "ids")
	err := dispatch(ctx, []string{"run", "-id", cfg.TaskQueue, "-duration", "3s", "-users-per-tick", "2", "-ids-file", idsFile},
		cfg, nil, &stdout, &stderr)

	require.NoError(t, err, stderr.String())
	assert.JSONEq(t, fmt.Sprintf(`{"dataset":"users","run_id":%q,"ticks":3,"records_published":6,"users_published":6,"users_by_source":{"randomuser":6,"faker":0},
		"late_ticks":0,"max_lateness":%q,"topic":%q}`, jsonField(t, stdout.Bytes(), "run_id"), jsonField(t, stdout.Bytes(), "max_lateness"), cfg.KafkaTopic), stdout.String())
	assert.Contains(t, stderr.String(), "3/3 ticks", "the progress bar shows the last tick")
	assert.Regexp(t, `Web UI: http://localhost:8233/namespaces/default/workflows/`+cfg.TaskQueue+`/[0-9a-f-]{36}\n$`, stderr.String())

	// The ids file names exactly the users the run put on the topic.
	ids, err := os.ReadFile(idsFile)
	require.NoError(t, err)
	msgs, _ := kafkatest.ReadAll(ctx, t, stacktest.KafkaBrokers(t), cfg.KafkaTopic)
	var onTopic []string
	for _, m := range msgs {
		onTopic = append(onTopic, string(m.Key))
	}
	assert.ElementsMatch(t, onTopic, strings.Fields(string(ids)))
	assert.Len(t, onTopic, 6)
}

func TestScheduleCreateTakesTheRunInput(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	cfg := startWorker(t)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	err := dispatch(ctx, []string{"schedule", "create", "-duration", "5s", "-users-per-tick", "3"}, cfg, nil, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	assert.Contains(t, stdout.String(), "Created schedule "+cfg.ScheduleID+", paused.")

	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: quietLogger(cli.LogText)})
	require.NoError(t, err)
	defer c.Close()
	h := c.ScheduleClient().GetHandle(ctx, cfg.ScheduleID)
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	d, err := h.Describe(ctx)
	require.NoError(t, err)
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	require.Len(t, action.Args, 1)
	var in workflows.UserAutomationInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(action.Args[0].(*commonpb.Payload), &in))
	assert.Equal(t, workflows.UserAutomationInput{Duration: "5s", RecordsPerTick: 3, Topic: cfg.KafkaTopic}, in)
	assert.True(t, d.Schedule.State.Paused)
	assert.Equal(t, "daily: users: 3 records every 1s for 5s (5 ticks) to "+cfg.KafkaTopic, action.StaticSummary)

	stdout.Reset()
	require.NoError(t, dispatch(ctx, []string{"schedule", "describe"}, cfg, nil, &stdout, &stderr))
	assert.Contains(t, stdout.String(), `Input:    {"duration":"5s","users_per_tick":3,"topic":"`+cfg.KafkaTopic+`"}`)
	assert.Contains(t, stdout.String(), "users: 3 records every 1s for 5s (5 ticks)")
}

func TestInterruptStopsFollowingNotTheRun(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	cfg := startWorker(t)
	var stdout, stderr bytes.Buffer
	ctx, interrupt := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"run", "-id", cfg.TaskQueue, "-duration", "4s"}, cfg, nil, &stdout, &stderr)
	}()
	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: quietLogger(cli.LogText)})
	require.NoError(t, err)
	defer c.Close()
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(context.Background(), cfg.TaskQueue, "", workflows.ProgressQuery)
		var p workflows.Progress
		return err == nil && v.Get(&p) == nil && p.TicksDone >= 1
	}, 30*time.Second, 100*time.Millisecond)

	interrupt()
	require.ErrorIs(t, <-done, errStoppedFollowing)
	assert.Contains(t, stderr.String(), "Stopped following. Run "+cfg.TaskQueue+" goes on in the worker")

	var res workflows.UserAutomationResult
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, c.GetWorkflow(ctx, cfg.TaskQueue, "").Get(ctx, &res))
	assert.Equal(t, 4, res.Ticks, "the run went on to its end")
}

func jsonField(t *testing.T, b []byte, name string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	s, _ := m[name].(string)
	return s
}

// A run of more than 100 ticks continues as new; the ids file still names exactly
// the records on the topic (it once named none: the ids came from the last
// execution's run id).
func TestIDsFileAcrossContinueAsNew(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	cfg := startWorker(t)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	idsFile := filepath.Join(t.TempDir(), "ids")
	err := dispatch(ctx, []string{"run", "-id", cfg.TaskQueue, "-duration", "11s", "-interval", "100ms", "-ids-file", idsFile},
		cfg, nil, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	var res workflows.UserAutomationResult
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	require.Equal(t, 110, res.Ticks)

	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: quietLogger(cli.LogText)})
	require.NoError(t, err)
	defer c.Close()
	d, err := c.DescribeWorkflowExecution(ctx, cfg.TaskQueue, "")
	require.NoError(t, err)
	assert.NotEqual(t, res.RunID, d.GetWorkflowExecutionInfo().GetExecution().GetRunId(), "the run continued as new")

	ids, err := os.ReadFile(idsFile)
	require.NoError(t, err)
	msgs, _ := kafkatest.ReadAll(ctx, t, stacktest.KafkaBrokers(t), cfg.KafkaTopic)
	onTopic := map[string]bool{}
	for _, m := range msgs {
		onTopic[string(m.Key)] = true
	}
	assert.Len(t, onTopic, 110)
	inFile := map[string]bool{}
	for _, id := range strings.Fields(string(ids)) {
		inFile[id] = true
	}
	assert.Equal(t, onTopic, inFile)
}

// While Kafka cannot be reached, the progress says why within seconds; -timeout
// ends the wait and the run goes on.
func TestProgressShowsWhyATickWaits(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	cfg := startWorker(t, "127.0.0.1:1")
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := dispatch(context.Background(), []string{"run", "-id", cfg.TaskQueue, "-duration", "3s", "-timeout", "8s"},
		cfg, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stopped following after 8s (-timeout); run "+cfg.TaskQueue+" goes on")
	assert.Less(t, time.Since(start), 12*time.Second)
	assert.Contains(t, stderr.String(),
		"retrying: creating topic "+cfg.KafkaTopic+": Kafka at 127.0.0.1:1 (KAFKA_BROKERS) unreachable: connection refused (attempt 2)")
	terminate(t, cfg)
}

// The end of -timeout is recognised whichever side says it first: the context, or
// the server answering the deadline the call carried (which once failed the test
// above with "run … failed: context deadline exceeded").
func TestDeadlineExceeded(t *testing.T) {
	assert.True(t, deadlineExceeded(context.DeadlineExceeded))
	assert.True(t, deadlineExceeded(fmt.Errorf("getting the result: %w", serviceerror.NewDeadlineExceeded("context deadline exceeded"))))
	assert.False(t, deadlineExceeded(context.Canceled))
	assert.False(t, deadlineExceeded(errors.New("workflow execution error")))
}

// A run nobody works on says so within seconds.
func TestProgressSaysNoWorkerPolls(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	cfg, err := config.LoadStarter(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.TemporalAddress = stacktest.TemporalAddress(t)
	cfg.TaskQueue = fmt.Sprintf("test-nobody-%d", time.Now().UnixNano())
	var stdout, stderr bytes.Buffer
	err = dispatch(context.Background(), []string{"run", "-id", cfg.TaskQueue, "-duration", "3s", "-timeout", "5s"},
		cfg, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, stderr.String(), "no worker polls task queue "+cfg.TaskQueue)
	terminate(t, cfg)
}

// terminate ends the run the test left behind.
func terminate(t *testing.T, cfg config.Producer) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: quietLogger(cli.LogText)})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.TerminateWorkflow(context.Background(), cfg.TaskQueue, "", "test over"))
}

// dlq stats counts the dead letters of a topic; dlq replay re-publishes those of a
// reason with a progress bar and prints its result; the same request again finds
// them replayed.
func TestDLQStatsAndReplay(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	cfg := startWorker(t)
	brokers := stacktest.KafkaBrokers(t)
	cfg.Activities.KafkaBrokers = brokers
	src, dlqTopic := cfg.TaskQueue+"-src", cfg.TaskQueue+".dlq"
	kafkatest.CreateTopic(t, brokers, src, 3)
	kafkatest.CreateTopic(t, brokers, dlqTopic, 2)
	// Recent: Kafka deletes a partition whose records are all older than its retention
	// (7 days), and these are the only records of their topics.
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	var msgs []kafka.Message
	for i := range 5 {
		reason := map[bool]string{true: "missing_field", false: "not_json"}[i < 3]
		msgs = append(msgs, kafkatest.DeadLetter(reason, src, i%3, int64(i), fmt.Sprint("k", i), "{}", i%2, at.Add(time.Duration(i)*time.Minute)))
	}
	kafkatest.Produce(t, brokers, dlqTopic, msgs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var stdout, stderr bytes.Buffer
	require.NoError(t, dispatch(ctx, []string{"dlq", "stats", "-dlq-topic", dlqTopic}, cfg, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "Dead letters in "+dlqTopic+": 5\n")
	assert.Regexp(t, `(?m)^  missing_field +3\n  not_json +2$`, stdout.String())
	assert.Regexp(t, `(?m)^  `+src+`/0 +2\n  `+src+`/1 +2\n  `+src+`/2 +1$`, stdout.String())
	assert.Contains(t, stdout.String(), "Oldest: "+at.Format(time.RFC3339)+"  "+dlqTopic+"/0/0  from "+src+"/0/0  reason missing_field")
	assert.Contains(t, stdout.String(), "Newest: "+at.Add(4*time.Minute).Format(time.RFC3339)+"  "+dlqTopic+"/0/2  from "+src+"/1/4  reason not_json")

	for _, want := range []string{`"replayed": 3, "skipped": 0`, `"replayed": 0, "skipped": 3`} {
		stdout.Reset()
		stderr.Reset()
		err := dispatch(ctx, []string{"dlq", "replay", "-dlq-topic", dlqTopic, "-topic", src, "-reason", "missing_field", "-page-size", "2"},
			cfg, nil, &stdout, &stderr)
		require.NoError(t, err, stderr.String())
		assert.Contains(t, strings.Join(strings.Fields(stdout.String()), " "), want)
		assert.Contains(t, stderr.String(), "5/5 dead letters read · 3 selected")
		assert.Contains(t, stderr.String(), "Replay dlq-replay-"+dlqTopic+" on task queue "+cfg.TaskQueue+": replay dead letters of "+
			dlqTopic+" to "+src+", reason missing_field.")
	}
	got, _ := kafkatest.ReadAll(ctx, t, brokers, src)
	assert.Len(t, got, 3)

	// A dead-letter topic that does not exist fails the replay at once.
	missing := cfg.TaskQueue + "-none.dlq"
	err := dispatch(ctx, []string{"dlq", "replay", "-dlq-topic", missing}, cfg, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dead-letter topic "+missing+" does not exist on Kafka at ")
	err = dispatch(ctx, []string{"dlq", "stats", "-dlq-topic", missing}, cfg, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "counting the dead letters at "+strings.Join(brokers, ",")+" (KAFKA_BROKERS): topic "+missing)
}

// One replay of a dead-letter topic at a time: while one runs (here, on a task
// queue no worker polls), a second, whatever its selection, is refused, naming the
// first. A page size above the bound is refused before anything starts.
func TestDLQReplayOnePerTopic(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	cfg, err := config.LoadStarter(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.TemporalAddress = stacktest.TemporalAddress(t)
	cfg.TaskQueue = fmt.Sprintf("test-nobody-%d", time.Now().UnixNano())
	dlqTopic := cfg.TaskQueue + ".dlq"
	var stdout, stderr bytes.Buffer
	require.NoError(t, dispatch(t.Context(), []string{"dlq", "replay", "-dlq-topic", dlqTopic, "-detach"}, cfg, nil, &stdout, &stderr), stderr.String())
	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: quietLogger(cli.LogText)})
	require.NoError(t, err)
	defer c.Close()
	first, err := c.DescribeWorkflow(t.Context(), "dlq-replay-"+dlqTopic, "")
	require.NoError(t, err)
	defer func() {
		assert.NoError(t, c.TerminateWorkflow(context.Background(), "dlq-replay-"+dlqTopic, "", "test over"))
	}()

	err = dispatch(t.Context(), []string{"dlq", "replay", "-dlq-topic", dlqTopic, "-reason", "other", "-force"}, cfg, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a replay of "+dlqTopic+" runs already: workflow dlq-replay-"+dlqTopic+", run "+
		first.WorkflowExecution.RunID+", started ")
	assert.Contains(t, err.Error(), "(replay dead letters of "+dlqTopic+" to "+cfg.TaskQueue+"); one replay of a dead-letter topic runs at a time")

	stderr.Reset()
	err = dispatch(t.Context(), []string{"dlq", "replay", "-dlq-topic", dlqTopic, "-page-size", "5001"}, cfg, nil, &stdout, &stderr)
	require.ErrorIs(t, err, errUsage)
	assert.Contains(t, stderr.String(), "the page size must be 1 to 5000")
}
