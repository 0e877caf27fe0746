package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/dlq"
)

// replayEnv is a test environment whose dead-letter topic holds ranges and whose
// ReplayPage replays every dead letter of a page, failing the first attempt of the
// pages failFirst names (by From).
type replayEnv struct {
	*testsuite.TestWorkflowEnvironment
	mu    sync.Mutex
	pages []activities.ReplayPageInput
}

func newReplayEnv(ranges []dlq.Range, failFirst map[int64]bool) *replayEnv {
	e := &replayEnv{TestWorkflowEnvironment: newTestEnv()}
	e.RegisterWorkflow(DLQReplay)
	e.RegisterActivity(a)
	e.OnActivity(a.DLQRanges, mock.Anything, mock.Anything).Return(ranges, nil)
	e.OnActivity(a.ReplayPage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ReplayPageInput) (activities.ReplayPageResult, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.pages = append(e.pages, in)
			if failFirst[in.Range.From] {
				delete(failFirst, in.Range.From)
				return activities.ReplayPageResult{}, errors.New("worker lost")
			}
			n := int(in.Range.To - in.Range.From)
			return activities.ReplayPageResult{Read: n, Selected: n, Replayed: n - 1, LoopBound: 1}, nil
		})
	return e
}

func TestReplayReadsTheRangesFixedAtStartPageByPage(t *testing.T) {
	e := newReplayEnv([]dlq.Range{{Partition: 0, From: 5, To: 10}, {Partition: 1, From: 3, To: 3}, {Partition: 2, From: 0, To: 2}},
		map[int64]bool{7: true})
	e.SetStartTime(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	e.ExecuteWorkflow(DLQReplay, DLQReplayInput{DLQTopic: "orders.dlq", Reason: "missing_field", Since: "2h", PageSize: 2})
	require.NoError(t, e.GetWorkflowError())
	var res DLQReplayResult
	require.NoError(t, e.GetWorkflowResult(&res))

	assert.Equal(t, DLQReplayResult{DLQTopic: "orders.dlq", Read: 7, Selected: 7, Replayed: 3, Skipped: 4, LoopBound: 4, Pages: 4}, res)
	var got []dlq.Range
	for _, p := range e.pages {
		got = append(got, p.Range)
		assert.Equal(t, "missing_field", p.Reason)
		assert.Equal(t, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), p.Since.UTC(), "since is fixed at the start")
		assert.Equal(t, DefaultMaxReplays, p.MaxReplays)
	}
	assert.Equal(t, []dlq.Range{{Partition: 0, From: 5, To: 7}, {Partition: 0, From: 7, To: 9}, {Partition: 0, From: 7, To: 9}, {Partition: 0, From: 9, To: 10}, {Partition: 2, From: 0, To: 2}}, got,
		"pages of two, the failed page retried, the empty partition left out")
}

func TestReplayContinuesAsNewWithItsProgress(t *testing.T) {
	first := newReplayEnv([]dlq.Range{{Partition: 0, From: 0, To: pagesPerRun + 3}}, nil)
	first.ExecuteWorkflow(DLQReplay, DLQReplayInput{DLQTopic: "t.dlq", PageSize: 1})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, first.GetWorkflowError(), &can)
	var next DLQReplayInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Resume)
	assert.Equal(t, []dlq.Range{{Partition: 0, From: pagesPerRun, To: pagesPerRun + 3}}, next.Resume.Ranges)
	assert.Equal(t, pagesPerRun+3, next.Resume.Total)

	second := newReplayEnv(nil, nil)
	second.ExecuteWorkflow(DLQReplay, next)
	require.NoError(t, second.GetWorkflowError())
	var res DLQReplayResult
	require.NoError(t, second.GetWorkflowResult(&res))
	assert.Equal(t, pagesPerRun+3, res.Read)
	assert.Equal(t, pagesPerRun+3, res.Pages)
	assert.Len(t, second.pages, 3, "the second execution reads what is left, not the topic again")
}

func TestReplayAnswersItsProgress(t *testing.T) {
	e := newReplayEnv([]dlq.Range{{Partition: 0, From: 0, To: 4}}, nil)
	e.ExecuteWorkflow(DLQReplay, DLQReplayInput{DLQTopic: "t.dlq", PageSize: 2})
	require.NoError(t, e.GetWorkflowError())
	v, err := e.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p DLQReplayProgress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, 4, p.Total)
	assert.Equal(t, 4, p.Read)
	assert.Equal(t, 2, p.Pages)
	assert.Equal(t, 2, p.Replayed)
	assert.Empty(t, p.Ranges)
}

// One replay of a dead-letter topic at a time: the id is the topic's, whatever the
// selection.
func TestReplayIDIsTheTopics(t *testing.T) {
	in := DLQReplayInput{DLQTopic: "orders.dlq", Reason: "missing_field", Since: "24h"}
	assert.Equal(t, "dlq-replay-orders.dlq", ReplayID(in))
	assert.Equal(t, ReplayID(in), ReplayID(DLQReplayInput{DLQTopic: "orders.dlq", Force: true, PageSize: 10}))
	assert.NotEqual(t, ReplayID(in), ReplayID(DLQReplayInput{DLQTopic: "users.dlq"}))
}

func TestReplayInputIsChecked(t *testing.T) {
	for _, tt := range []struct {
		in    DLQReplayInput
		field string
	}{
		{DLQReplayInput{DLQTopic: "a b"}, "dlq_topic"},
		{DLQReplayInput{DLQTopic: "t", Since: "yesterday"}, "since"},
		{DLQReplayInput{DLQTopic: "t.dlq", MaxReplays: -1}, "max_replays"},
		{DLQReplayInput{DLQTopic: "t.dlq", PageSize: -1}, "page_size"},
		{DLQReplayInput{DLQTopic: "t.dlq", PageSize: MaxPageSize + 1}, "page_size"},
		{DLQReplayInput{DLQTopic: "t-dead"}, "topic"},
		{DLQReplayInput{DLQTopic: "t-dead", Topic: "a b"}, "topic"},
	} {
		var ie *InputError
		require.ErrorAs(t, tt.in.Validate(), &ie, "%+v", tt.in)
		assert.Equal(t, tt.field, ie.Field)
	}
	assert.NoError(t, DLQReplayInput{DLQTopic: "t.dlq", Since: "2026-12-01T10:00:00Z", PageSize: MaxPageSize}.Validate())
	assert.NoError(t, DLQReplayInput{DLQTopic: "t-dead", Topic: "t"}.Validate())
	assert.Equal(t, "t", DLQReplayInput{DLQTopic: "t.dlq"}.target())

	e := newReplayEnv(nil, nil)
	e.ExecuteWorkflow(DLQReplay, DLQReplayInput{DLQTopic: "t", Since: "yesterday"})
	require.Error(t, e.GetWorkflowError())
	assert.Contains(t, e.GetWorkflowError().Error(), "since")
}
