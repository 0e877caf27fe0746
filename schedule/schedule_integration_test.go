package schedule

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/workflows"
)

// setup returns a client of the local stack's Temporal, a context for the test, and
// options for a schedule of the test's own, deleted when the test ends.
func setup(t *testing.T, in workflows.UserAutomationInput) (context.Context, client.Client, Options) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: stacktest.TemporalAddress(t), Namespace: stacktest.TemporalNamespace()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	o := Options{ID: fmt.Sprintf("test-schedule-%d", time.Now().UnixNano()), TaskQueue: "test-queue", Input: in}
	t.Cleanup(func() { _ = c.ScheduleClient().GetHandle(context.Background(), o.ID).Delete(context.Background()) })
	return ctx, c, o
}

func TestCreateIsIdempotentAndPaused(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	ctx, c, o := setup(t, workflows.UserAutomationInput{Topic: "t1"})

	created, err := Create(ctx, c, o)
	require.NoError(t, err)
	assert.True(t, created)
	h := c.ScheduleClient().GetHandle(ctx, o.ID)
	require.NoError(t, h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "operator"}))

	created, err = Create(ctx, c, o)
	require.NoError(t, err)
	assert.False(t, created, "a second create leaves the schedule as it is")

	d, err := h.Describe(ctx)
	require.NoError(t, err)
	assert.False(t, d.Schedule.State.Paused, "the operator's unpause survives a second create")
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
	assert.Equal(t, catchupWindow, d.Schedule.Policy.CatchupWindow)
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	assert.Equal(t, "UserAutomation", action.Workflow)
	assert.Equal(t, "test-queue", action.TaskQueue)
	require.NotEmpty(t, d.Info.NextActionTimes)
	next := d.Info.NextActionTimes[0].UTC()
	assert.Equal(t, next.Truncate(24*time.Hour), next, "runs daily at midnight UTC")
}

func TestCreatedScheduleIsPausedWithANote(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	ctx, c, o := setup(t, workflows.UserAutomationInput{})

	_, err := Create(ctx, c, o)
	require.NoError(t, err)

	d, err := c.ScheduleClient().GetHandle(ctx, o.ID).Describe(ctx)
	require.NoError(t, err)
	assert.True(t, d.Schedule.State.Paused)
	assert.Equal(t, Note(o.ID), d.Schedule.State.Note)
	assert.Contains(t, d.Schedule.State.Note, "temporal schedule toggle --schedule-id "+o.ID+" --unpause")
}

func TestIDOfEachDataset(t *testing.T) {
	assert.Equal(t, "user-automation", ID("", "user-automation"))
	assert.Equal(t, "my-users", ID("users", "my-users"), "TEMPORAL_SCHEDULE_ID names the users one")
	assert.Equal(t, "transactions-automation", ID("transactions", "user-automation"))
	assert.Equal(t, "registered_users-automation", ID("registered_users", "user-automation"))
}
