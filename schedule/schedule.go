// Package schedule creates the Temporal Schedule that starts UserAutomation every
// day, as the seed's Airflow DAG did (@daily, created paused, catchup=False,
// max_active_runs=1).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/workflows"
)

// catchupWindow is the shortest the server accepts. A day missed while Temporal was
// down is not run late, like the DAG's catchup=False.
const catchupWindow = 10 * time.Second

// ID is the id of a dataset's schedule: usersID (TEMPORAL_SCHEDULE_ID, by default
// user-automation) for users, the default dataset; <dataset>-automation for another,
// e.g. transactions-automation. Each dataset has a schedule of its own.
func ID(dataset, usersID string) string {
	if dataset == "" || dataset == datasets.NameUsers {
		return usersID
	}
	return dataset + "-automation"
}

// Options describe the schedule.
type Options struct {
	// ID is the schedule id; the runs it starts get workflow ids ID-<time>.
	ID        string
	TaskQueue string
	// Input is every run's input; the zero value takes the workflow's defaults.
	Input workflows.UserAutomationInput
}

// Note is the schedule's note on creation: how to unpause it.
func Note(id string) string {
	return fmt.Sprintf("Created paused, like the seed's Airflow DAG. Unpause it with the Unpause button of "+
		"this page, `temporal schedule toggle --schedule-id %s --unpause --reason \"...\"`, "+
		"or `starter schedule unpause`.", id)
}

// Create creates the schedule, paused, unless a schedule with the same id exists,
// which it leaves as it is (an operator may have unpaused it). created says which.
// An input every run would refuse is refused here: a *workflows.InputError.
func Create(ctx context.Context, c client.Client, o Options) (created bool, err error) {
	if err := o.Input.Validate(); err != nil {
		return false, fmt.Errorf("creating schedule %s: %w", o.ID, err)
	}
	_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   o.ID,
		Spec: client.ScheduleSpec{CronExpressions: []string{"@daily"}},
		Action: &client.ScheduleWorkflowAction{
			ID:        o.ID,
			Workflow:  workflows.UserAutomation,
			Args:      []any{o.Input},
			TaskQueue: o.TaskQueue,
			// The workflow list and each run's page say what a run does.
			StaticSummary: "daily: " + o.Input.Summary(),
		},
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: catchupWindow,
		Paused:        true,
		Note:          Note(o.ID),
	})
	switch {
	case errors.Is(err, temporal.ErrScheduleAlreadyRunning):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("creating schedule %s: %w", o.ID, err)
	}
	return true, nil
}
