package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/schedule"
	"github.com/streampipe/streampipe/workflows"
)

var scheduleCreate = command{
	help: `Creates the schedule that starts a UserAutomation run every day at midnight UTC,
paused, unless it exists (then it is left as it is). One run at a time; a day
missed while Temporal was down is not run late. Each dataset has a schedule of its
own: user-automation (TEMPORAL_SCHEDULE_ID) for users, <dataset>-automation for
another (-dataset transactions: transactions-automation). The worker creates the
users one too, with the default input; the flags below set the input of every
scheduled run.`,
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		taskQueueFlag(fs, cfg)
		id := scheduleIDFlag(fs)
		input := runInputFlags(fs, cfg) // the input of every scheduled run
		return action{input: input, run: func(ctx context.Context, c client.Client, stdout, _ io.Writer) error {
			cfg.ScheduleID = cmp.Or(*id, schedule.ID(input().Dataset, cfg.ScheduleID))
			created, err := schedule.Create(ctx, c, schedule.Options{
				ID:        cfg.ScheduleID,
				TaskQueue: cfg.TaskQueue,
				Input:     input(),
			})
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintf(stdout, "Created schedule %s, paused.\n%s\n%s\n", cfg.ScheduleID, schedule.Note(cfg.ScheduleID), scheduleURL(*cfg))
			} else {
				fmt.Fprintf(stdout, "Schedule %s exists already; left as it is.\n%s\n", cfg.ScheduleID, scheduleURL(*cfg))
			}
			return nil
		}}
	},
}

var schedulePause = command{
	help: "Pauses the schedule: it starts no runs until unpaused. Runs already started go on.",
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		note := fs.String("note", "paused with starter", "why, shown in the Web UI")
		return onSchedule(fs, cfg, func(ctx context.Context, h client.ScheduleHandle, stdout io.Writer) error {
			if err := h.Pause(ctx, client.SchedulePauseOptions{Note: *note}); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Paused schedule %s.\n", h.GetID())
			return nil
		})
	},
}

var scheduleUnpause = command{
	help: "Unpauses the schedule: it starts a run every day at midnight UTC.",
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		note := fs.String("note", "unpaused with starter", "why, shown in the Web UI")
		return onSchedule(fs, cfg, func(ctx context.Context, h client.ScheduleHandle, stdout io.Writer) error {
			if err := h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: *note}); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Unpaused schedule %s.\n", h.GetID())
			return nil
		})
	},
}

var scheduleTrigger = command{
	help: "Starts a run from the schedule now, paused or not; skipped if one is running.",
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		return onSchedule(fs, cfg, func(ctx context.Context, h client.ScheduleHandle, stdout io.Writer) error {
			if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Triggered schedule %s; see its runs with `starter schedule describe` or at\n%s\n",
				h.GetID(), scheduleURL(*cfg))
			return nil
		})
	},
}

var scheduleDescribe = command{
	help: "Shows the schedule: paused or not, its note, its next and recent runs.",
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		return onSchedule(fs, cfg, func(ctx context.Context, h client.ScheduleHandle, stdout io.Writer) error {
			d, err := h.Describe(ctx)
			if err != nil {
				return err
			}
			writeDescription(stdout, *cfg, h.GetID(), d)
			return nil
		})
	},
}

var scheduleDelete = command{
	help: "Deletes the schedule. Runs it started go on. The worker creates it again at its next start.",
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		return onSchedule(fs, cfg, func(ctx context.Context, h client.ScheduleHandle, stdout io.Writer) error {
			if err := h.Delete(ctx); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Deleted schedule %s.\n", h.GetID())
			return nil
		})
	},
}

// scheduleIDFlag declares the -schedule-id flag; empty means the dataset's
// (schedule.ID).
func scheduleIDFlag(fs *flag.FlagSet) *string {
	return fs.String("schedule-id", "", "schedule id (default: the dataset's, TEMPORAL_SCHEDULE_ID for users, <dataset>-automation for another)")
}

// onSchedule declares the -dataset and -schedule-id flags and returns a command
// that runs do on that schedule, explaining a missing schedule.
func onSchedule(fs *flag.FlagSet, cfg *config.Producer, do func(context.Context, client.ScheduleHandle, io.Writer) error) action {
	dataset := fs.String("dataset", "", "the dataset whose schedule it is: "+strings.Join(datasets.Names(), ", ")+` (default "users")`)
	id := scheduleIDFlag(fs)
	return action{
		input: func() workflows.UserAutomationInput { return workflows.UserAutomationInput{Dataset: *dataset} },
		run: func(ctx context.Context, c client.Client, stdout, _ io.Writer) error {
			cfg.ScheduleID = cmp.Or(*id, schedule.ID(*dataset, cfg.ScheduleID))
			return onScheduleID(ctx, c, cfg, stdout, do)
		},
	}
}

// onScheduleID runs do on schedule cfg.ScheduleID, explaining a missing schedule.
func onScheduleID(ctx context.Context, c client.Client, cfg *config.Producer, stdout io.Writer,
	do func(context.Context, client.ScheduleHandle, io.Writer) error) error {
	err := do(ctx, c.ScheduleClient().GetHandle(ctx, cfg.ScheduleID), stdout)
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("schedule %s not found in namespace %s: create it with `starter schedule create`, "+
			"or start the worker, which creates the users one", cfg.ScheduleID, cfg.TemporalNamespace)
	case err != nil:
		return fmt.Errorf("schedule %s: %w", cfg.ScheduleID, err)
	}
	return nil
}

func writeDescription(w io.Writer, cfg config.Producer, id string, d *client.ScheduleDescription) {
	state := "active"
	if d.Schedule.State.Paused {
		state = "paused"
	}
	fmt.Fprintf(w, "Schedule %s: %s\n", id, state)
	if d.Schedule.State.Note != "" {
		fmt.Fprintf(w, "Note:     %s\n", d.Schedule.State.Note)
	}
	if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); ok {
		fmt.Fprintf(w, "Starts:   %v on task queue %s\n", a.Workflow, a.TaskQueue)
		writeInput(w, a.Args)
	}
	fmt.Fprintf(w, "Overlap:  %s, catch-up window %s\n",
		strings.TrimPrefix(d.Schedule.Policy.Overlap.String(), "SCHEDULE_OVERLAP_POLICY_"), d.Schedule.Policy.CatchupWindow)
	for i, t := range d.Info.NextActionTimes {
		if i == 3 {
			break
		}
		fmt.Fprintf(w, "Next:     %s\n", t.UTC().Format(time.RFC3339))
	}
	for _, r := range d.Info.RecentActions {
		fmt.Fprintf(w, "Recent:   %s started %s\n", r.StartWorkflowResult.WorkflowID, r.ActualTime.UTC().Format(time.RFC3339))
	}
	for _, r := range d.Info.RunningWorkflows {
		fmt.Fprintf(w, "Running:  %s\n", runURL(cfg, r.WorkflowID, r.FirstExecutionRunID))
	}
	fmt.Fprintf(w, "Web UI:   %s\n", scheduleURL(cfg))
}

// writeInput shows the input of the schedule's runs (its action's one argument) and
// what it makes of it.
func writeInput(w io.Writer, args []any) {
	if len(args) != 1 {
		fmt.Fprintf(w, "Input:    %d arguments (want 1)\n", len(args))
		return
	}
	p, ok := args[0].(*commonpb.Payload)
	var in workflows.UserAutomationInput
	if !ok || converter.GetDefaultDataConverter().FromPayload(p, &in) != nil {
		fmt.Fprintf(w, "Input:    not a UserAutomation input: %v\n", args[0])
		return
	}
	b, _ := json.Marshal(in)
	fmt.Fprintf(w, "Input:    %s\n", b)
	if err := in.Validate(); err != nil {
		fmt.Fprintf(w, "          every run will fail: %v\n", err)
		return
	}
	fmt.Fprintf(w, "          %s\n", in.Summary())
}

func scheduleURL(cfg config.Producer) string {
	return fmt.Sprintf("%s/namespaces/%s/schedules/%s", cfg.WebUIURL, cfg.TemporalNamespace, cfg.ScheduleID)
}
