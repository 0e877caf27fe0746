package streaming_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
	"github.com/streampipe/streampipe/workflows"
)

// runThings runs, in this process, a worker of p of a declared dataset of things
// whose note is required (strict) or not, and returns once it is ready; stop stops it
// and returns its Run's error.
func (p *pipe) runThings(strict bool) (stop func() error) {
	p.t.Helper()
	ds, err := datasets.ParseDeclared("things.yaml", fmt.Appendf(nil, `datasets:
  - name: things
    topic: things
    table: ks.things
    primary_key: id
    columns:
      - {name: id, type: uuid, from: value.id, required: true}
      - {name: name, type: text, from: value.name, required: true}
      - {name: note, type: text, from: value.note, required: %t}
`, strict))
	require.NoError(p.t, err)
	w, err := streaming.New(p.config(), ds[0].Rows, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(p.t, err)
	stop = runUntilStopped(p.t, w.Run)
	require.Eventually(p.t, w.Ready, time.Minute, 100*time.Millisecond)
	return stop
}

// temporalWorker runs a Temporal worker in this process, with the workflow wf and the
// activities of cfg, on a task queue of the test's own, until the test ends; it
// returns a client to start runs with, and the queue.
func temporalWorker(t *testing.T, cfg activities.Config, wf any) (client.Client, string) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{HostPort: stacktest.TemporalAddress(t), Namespace: stacktest.TemporalNamespace(),
		Logger: tlog.NewStructuredLogger(quiet)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	acts := activities.New(cfg, quiet)
	t.Cleanup(func() { _ = acts.Close() })
	queue := "streaming-it-" + randomHex(4)
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(wf)
	w.RegisterActivity(acts)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return c, queue
}

// replayer runs DLQReplay and its activities in this process, on a task queue of
// the test's own, allowed to publish to topic, and returns a function that runs one replay to its end.
func replayer(t *testing.T, brokers []string, topic string) func(in workflows.DLQReplayInput) workflows.DLQReplayResult {
	t.Helper()
	c, queue := temporalWorker(t, activities.Config{KafkaBrokers: brokers, AllowedTopics: []string{topic}}, workflows.DLQReplay)
	return func(in workflows.DLQReplayInput) workflows.DLQReplayResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.ReplayID(in) + "-" + queue, TaskQueue: queue},
			workflows.DLQReplay, in)
		require.NoError(t, err)
		var res workflows.DLQReplayResult
		require.NoError(t, run.Get(ctx, &res))
		return res
	}
}

// TestReplayAfterTheCauseIsFixed dead-letters records of a declared dataset whose
// note is required, then relaxes the declaration, restarts the worker and replays
// the dead letters of reason malformed: each becomes a row, and the others (an id
// that is no uuid) stay dead letters. Replayed, those fail again and come back to
// the dead-letter topic with their replay count, until the loop bound stops them.
func TestReplayAfterTheCauseIsFixed(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsTemporal)
	p := newPipe(t, 3)
	stop := p.runThings(true)

	var msgs []kafka.Message
	ids := map[string]bool{} // the rows there must be in the end: with a note, or without (replayed)
	for i := range 60 {
		id := uuid.NewString()
		switch {
		case i < 30:
			msgs = append(msgs, kafka.Message{Key: []byte(id), Value: fmt.Appendf(nil, `{"id":%q,"name":"n%d","note":"x"}`, id, i)})
			ids[id] = true
		case i < 50:
			msgs = append(msgs, kafka.Message{Key: []byte(id), Value: fmt.Appendf(nil, `{"id":%q,"name":"n%d"}`, id, i)})
			ids[id] = true
		default:
			msgs = append(msgs, kafka.Message{Key: []byte(id), Value: fmt.Appendf(nil, `{"id":"not-a-uuid-%d","name":"n%d","note":"x"}`, i, i)})
		}
	}
	p.produce(msgs)
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop())
	st, err := dlq.Count(context.Background(), p.brokers, nil, p.dlq)
	require.NoError(t, err)
	require.Equal(t, map[string]int{rows.ReasonMalformed: 20, rows.ReasonInvalidID: 10}, st.ByReason)
	assert.Equal(t, 30, p.countRows(), "rows before the fix")

	stop = p.runThings(false)
	defer func() { assert.NoError(t, stop()) }()
	replay := replayer(t, p.brokers, p.topic)

	start := time.Now()
	res := replay(workflows.DLQReplayInput{DLQTopic: p.dlq, Reason: rows.ReasonMalformed})
	t.Logf("replay after the fix: %+v in %s", res, time.Since(start).Round(time.Millisecond))
	assert.Equal(t, workflows.DLQReplayResult{DLQTopic: p.dlq, Read: 30, Selected: 20, Replayed: 20, Pages: 3}, res)
	p.waitCaughtUp(time.Minute)
	assert.Equal(t, ids, p.rowIDs(), "a row for each valid record and each replayed one, no other")
	st, err = dlq.Count(context.Background(), p.brokers, nil, p.dlq)
	require.NoError(t, err)
	assert.Equal(t, 30, st.Total, "the replayed ones did not fail again")

	// The others fail again: each replay sends back what the one before dead-lettered
	// again, until they have been replayed DefaultMaxReplays times.
	for k := 1; k <= workflows.DefaultMaxReplays+1; k++ {
		res := replay(workflows.DLQReplayInput{DLQTopic: p.dlq, Reason: rows.ReasonInvalidID})
		p.waitCaughtUp(time.Minute)
		st, err := dlq.Count(context.Background(), p.brokers, nil, p.dlq)
		require.NoError(t, err)
		if k <= workflows.DefaultMaxReplays {
			assert.Equal(t, 10, res.Replayed, "replay %d: %+v", k, res)
			assert.Equal(t, 10*(k-1), res.AlreadyReplayed, "replay %d: the dead letters replayed before", k)
			assert.Equal(t, 30+10*k, st.Total, "replay %d: dead-lettered again", k)
			assert.Equal(t, 10*k, st.Replayed, "replay %d: with their replay count", k)
			continue
		}
		assert.Zero(t, res.Replayed, "replay %d: %+v", k, res)
		assert.Equal(t, 10, res.LoopBound, "replay %d: the loop is bounded", k)
		assert.Equal(t, 30+10*workflows.DefaultMaxReplays, st.Total)
	}
	assert.Equal(t, ids, p.rowIDs(), "the rows as they were")
}

// rowIDs are the ids of the pipe's table.
func (p *pipe) rowIDs() map[string]bool { return p.rowIDsOf(p.table) }

// rowIDsOf are the ids of a table of the test keyspace.
func (p *pipe) rowIDsOf(table string) map[string]bool {
	p.t.Helper()
	iter := p.session.Query("SELECT id FROM " + testKeyspace + "." + table).Iter()
	out := map[string]bool{}
	var id gocql.UUID
	for iter.Scan(&id) {
		out[id.String()] = true
	}
	require.NoError(p.t, iter.Close())
	return out
}

func (p *pipe) countRows() int { return len(p.rowIDs()) }

// TestReplayedOldVersionLosesToANewerRow dead-letters an old version of a row (its
// note is missing, and the declaration wants one), then writes a newer version of
// the same row. Once the declaration is relaxed, the old version is replayed with
// its original timestamp, its row's write time: it loses to the newer row, as it
// would have had it never failed. The same old content sent now, as a replay
// without the original timestamp would send it, wins: the check is a real one.
func TestReplayedOldVersionLosesToANewerRow(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsTemporal)
	p := newPipe(t, 1)
	stop := p.runThings(true)

	id := uuid.NewString()
	oldAt := time.Now().Add(-2 * time.Minute).Truncate(time.Millisecond)
	oldValue := fmt.Appendf(nil, `{"id":%q,"name":"old"}`, id)
	p.produce([]kafka.Message{
		{Key: []byte(id), Value: oldValue, Time: oldAt},
		{Key: []byte(id), Value: fmt.Appendf(nil, `{"id":%q,"name":"new","note":"x"}`, id), Time: oldAt.Add(time.Minute)},
	})
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop())
	require.Equal(t, "new", p.thingName(id))

	stop = p.runThings(false)
	defer func() { assert.NoError(t, stop()) }()
	res := replayer(t, p.brokers, p.topic)(workflows.DLQReplayInput{DLQTopic: p.dlq})
	assert.Equal(t, workflows.DLQReplayResult{DLQTopic: p.dlq, Read: 1, Selected: 1, Replayed: 1, Pages: 1}, res)
	p.waitCaughtUp(time.Minute)
	assert.Equal(t, "new", p.thingName(id), "the replayed old version lost to the newer row")
	msgs, _ := kafkatest.ReadAll(t.Context(), t, p.brokers, p.topic)
	require.Len(t, msgs, 3)
	assert.True(t, oldAt.Equal(msgs[2].Time), "the replay carries the original timestamp %s, not %s", oldAt, msgs[2].Time)

	p.produce([]kafka.Message{{Key: []byte(id), Value: oldValue}})
	p.waitCaughtUp(time.Minute)
	assert.Equal(t, "old", p.thingName(id), "sent with the time of now, the old version wins")
}

// thingName is the name of the row of id in the pipe's table of things.
func (p *pipe) thingName(id string) string {
	p.t.Helper()
	uid, err := gocql.ParseUUID(id)
	require.NoError(p.t, err)
	var name string
	require.NoError(p.t, p.session.Query("SELECT name FROM "+testKeyspace+"."+p.table+" WHERE id = ?", uid).Scan(&name))
	return name
}
