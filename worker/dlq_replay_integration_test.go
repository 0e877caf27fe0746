package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/workflows"
)

// deadLetters writes n dead letters of source topic src to dead-letter topic
// dlqTopic (both of three partitions, created here), written an hour ago; every
// dead letter gets extra's headers, and their coordinates are returned.
func deadLetters(t *testing.T, brokers []string, src, dlqTopic string, n int, reason func(i int) string, extra func(i int) []kafka.Header) []string {
	t.Helper()
	kafkatest.CreateTopic(t, brokers, src, 3)
	kafkatest.CreateTopic(t, brokers, dlqTopic, 3)
	at := time.Now().Add(-time.Hour)
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafkatest.DeadLetter(reason(i), src, i%3, int64(i/3), fmt.Sprintf("key-%d", i), fmt.Sprintf(`{"n":%d}`, i), i%3, at, extra(i)...)
	}
	kafkatest.Produce(t, brokers, dlqTopic, msgs)
	coords := make([]string, n)
	for i := range coords {
		coords[i] = rows.Coordinates(dlqTopic, i%3, int64(i/3)) // one producer, in order: offsets i/3
	}
	return coords
}

// replayedFrom counts the records of topic by their dlq.replayed_from header.
func replayedFrom(t *testing.T, ctx context.Context, brokers []string, topic string) (counts map[string]int, msgs []kafka.Message) {
	t.Helper()
	msgs, _ = kafkatest.ReadAll(ctx, t, brokers, topic)
	return kafkatest.CountByHeader(msgs, rows.HeaderReplayedFrom), msgs
}

func (s *stack) replay(t *testing.T, ctx context.Context, in workflows.DLQReplayInput) client.WorkflowRun {
	t.Helper()
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.ReplayID(in) + "-" + s.taskQueue, TaskQueue: s.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.DLQReplay, in)
	require.NoError(t, err)
	return run
}

// TestReplaySurvivesWorkerKill kills the worker (SIGKILL) halfway through a replay
// of 3,000 dead letters: after a new worker finishes it, each dead letter is on the
// source topic exactly once. A second request with the same selection then replays
// nothing again.
func TestReplaySurvivesWorkerKill(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	const n = 3000
	src, dlqTopic := s.topic+"-src", s.topic+"-src.dlq"
	coords := deadLetters(t, s.brokers, src, dlqTopic, n, func(int) string { return "missing_field" }, func(int) []kafka.Header { return nil })
	const deadAPI = "http://127.0.0.1:1/api/"
	first := s.startWorker(t, deadAPI, "WORKER_ALLOWED_TOPICS="+src)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	in := workflows.DLQReplayInput{DLQTopic: dlqTopic, PageSize: 100}
	start := time.Now()
	run := s.replay(t, ctx, in)
	require.Eventually(t, func() bool {
		v, err := s.client.QueryWorkflow(ctx, run.GetID(), "", workflows.ProgressQuery)
		var p workflows.DLQReplayProgress
		return err == nil && v.Get(&p) == nil && p.Replayed >= n/3
	}, time.Minute, 20*time.Millisecond, "the replay makes progress")
	again := s.replay(t, ctx, in)
	assert.Equal(t, run.GetRunID(), again.GetRunID(), "the same selection while it runs: the same replay")
	first.kill(t)
	killed := time.Now()
	s.startWorker(t, deadAPI, "WORKER_ALLOWED_TOPICS="+src)

	var res workflows.DLQReplayResult
	require.NoError(t, run.Get(ctx, &res))
	t.Logf("result: %+v; %s in all, %s after the kill", res, time.Since(start).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	assert.Equal(t, n, res.Read)
	assert.Equal(t, n, res.Selected)
	assert.Equal(t, n, res.Replayed+res.AlreadyReplayed, "replayed by the first worker or the second, or found replayed")
	assert.Zero(t, res.Failed)
	counts, msgs := replayedFrom(t, ctx, s.brokers, src)
	assert.Len(t, msgs, n, "each dead letter once on the source topic")
	for _, c := range coords {
		assert.Equal(t, 1, counts[c], "dead letter %s", c)
	}

	rerunStart := time.Now()
	rerun := s.replay(t, ctx, in)
	assert.NotEqual(t, run.GetRunID(), rerun.GetRunID(), "a finished replay may run again")
	var res2 workflows.DLQReplayResult
	require.NoError(t, rerun.Get(ctx, &res2))
	t.Logf("the same request again: %+v in %s", res2, time.Since(rerunStart).Round(time.Millisecond))
	assert.Equal(t, workflows.DLQReplayResult{DLQTopic: dlqTopic, Read: n, Selected: n, Skipped: n, AlreadyReplayed: n, Pages: 30}, res2)
	_, msgs = replayedFrom(t, ctx, s.brokers, src)
	assert.Len(t, msgs, n, "nothing published twice")
}

// TestReplayIsBoundedAndSelects replays dead letters of two reasons, some of
// records replayed three times already: only the selected reason is replayed, the
// loop-bound ones are skipped, and replayed with -force.
func TestReplayIsBoundedAndSelects(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	src, dlqTopic := s.topic+"-src", s.topic+"-src.dlq"
	reason := func(i int) string { return []string{"missing_field", "invalid_json"}[i%2] }
	replays := func(i int) []kafka.Header { // 0, 1, 2, 3, 0, 1, …
		return []kafka.Header{{Key: rows.HeaderReplays, Value: fmt.Appendf(nil, "%d", (i/2)%4)}}
	}
	coords := deadLetters(t, s.brokers, src, dlqTopic, 16, reason, replays)
	s.startWorker(t, "http://127.0.0.1:1/api/", "WORKER_ALLOWED_TOPICS="+src)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var res workflows.DLQReplayResult
	require.NoError(t, s.replay(t, ctx, workflows.DLQReplayInput{DLQTopic: dlqTopic, Reason: "missing_field"}).Get(ctx, &res))
	assert.Equal(t, workflows.DLQReplayResult{DLQTopic: dlqTopic, Read: 16, Selected: 8, Replayed: 6, Skipped: 2, LoopBound: 2, Pages: 3}, res)
	counts, msgs := replayedFrom(t, ctx, s.brokers, src)
	for i, c := range coords {
		want := 0
		if reason(i) == "missing_field" && (i/2)%4 < 3 {
			want = 1
		}
		assert.Equal(t, want, counts[c], "dead letter %d (%s, replays %d)", i, reason(i), (i/2)%4)
	}
	for _, m := range msgs {
		l := rows.ParseLetter(m) // the replayed record, its dlq.* headers read back
		var i int
		_, err := fmt.Sscanf(string(m.Key), "key-%d", &i)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i), string(m.Value))
		assert.Equal(t, []kafka.Header{{Key: "trace", Value: []byte("abc")}}, l.Headers, "the source record's headers")
		assert.Equal(t, (i/2)%4+1, l.Replays)
	}

	require.NoError(t, s.replay(t, ctx, workflows.DLQReplayInput{DLQTopic: dlqTopic, Reason: "missing_field", Force: true}).Get(ctx, &res))
	assert.Equal(t, workflows.DLQReplayResult{DLQTopic: dlqTopic, Read: 16, Selected: 8, Replayed: 2, Skipped: 6, AlreadyReplayed: 6, Pages: 3}, res)
	counts, _ = replayedFrom(t, ctx, s.brokers, src)
	for i, c := range coords {
		assert.Equal(t, map[bool]int{true: 1}[reason(i) == "missing_field"], counts[c], "dead letter %d", i)
	}
}
