package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/schedule"
	"github.com/streampipe/streampipe/workflows"
)

// errStoppedFollowing means Ctrl-C ended the following of a run, not the run.
var errStoppedFollowing = errors.New("stopped following")

// pollEvery is how often the progress display asks the run for its progress.
const pollEvery = 500 * time.Millisecond

var runCommand = command{
	help: `Starts one UserAutomation run now and follows it with a progress bar until it
ends, then prints its result (JSON, on stdout) and its address in the Temporal Web
UI. While a tick cannot be published, the reason is shown. Ctrl-C, or -timeout,
stops following; the run goes on in the worker. The input is checked before the
run starts: a bad one is refused with the flag named (exit 2).`,
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		taskQueueFlag(fs, cfg)
		input := runInputFlags(fs, cfg)
		id := fs.String("id", "", "workflow id (default <schedule id>-run-<time>: user-automation-run-<time> for users)")
		detach := fs.Bool("detach", false, "start the run and return without following it")
		idsFile := fs.String("ids-file", "", "when the run has ended, write the ids of its records to this file, one a line")
		timeout := fs.Duration("timeout", 0, "stop following after this long (0: until the run ends); the run goes on")
		return action{input: input, run: func(ctx context.Context, c client.Client, stdout, stderr io.Writer) error {
			in := input()
			if *id == "" {
				*id = schedule.ID(in.Dataset, cfg.ScheduleID) + "-run-" + time.Now().UTC().Format("20060102T150405Z")
			}
			ds, _ := datasets.Lookup(in.Dataset) // the input is valid
			r := runner{c: c, cfg: *cfg, id: *id, in: in, dataset: ds, stdout: stdout, stderr: stderr}
			return r.start(ctx, *detach, *timeout, *idsFile)
		}}
	},
}

// runInputFlags declares the flags of a run's input on fs; the function returned
// gives the input once they are parsed.
func runInputFlags(fs *flag.FlagSet, cfg *config.Producer) func() workflows.UserAutomationInput {
	in := &workflows.UserAutomationInput{}
	fs.StringVar(&in.Dataset, "dataset", "", "what the run publishes: "+strings.Join(datasets.Names(), ", ")+` (default "users")`)
	fs.StringVar(&in.Duration, "duration", "", `how long the run publishes, e.g. "90s" (default "2m")`)
	fs.StringVar(&in.Interval, "interval", "", `time between ticks, at least "100ms" (default: the dataset's, "1s"; "5s" for transactions)`)
	fs.IntVar(&in.RecordsPerTick, "records-per-tick", 0, "records published per tick, 1 to 5000 (default: the dataset's, 1; 10 for transactions)")
	fs.IntVar(&in.RecordsPerTick, "users-per-tick", 0, "the same as -records-per-tick, by the users pipeline's name")
	fs.StringVar(&in.Topic, "topic", "", "Kafka topic (default: the dataset's; KAFKA_TOPIC for users)")
	return func() workflows.UserAutomationInput {
		out := *in
		if out.Topic == "" && (out.Dataset == "" || out.Dataset == datasets.NameUsers) {
			out.Topic = cfg.KafkaTopic
		}
		return out
	}
}

// runner starts one run and follows it.
type runner struct {
	c              client.Client
	cfg            config.Producer
	id             string
	in             workflows.UserAutomationInput
	dataset        datasets.Dataset
	stdout, stderr io.Writer
}

func (r runner) start(ctx context.Context, detach bool, timeout time.Duration, idsFile string) error {
	run, err := r.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: r.id, TaskQueue: r.cfg.TaskQueue, StaticSummary: r.in.Summary(),
	}, workflows.UserAutomation, r.in)
	if err != nil {
		return fmt.Errorf("starting workflow %s on task queue %s: %w", r.id, r.cfg.TaskQueue, err)
	}
	fmt.Fprintf(r.stderr, "Started run %s on task queue %s: %s.\nWeb UI: %s\n",
		r.id, r.cfg.TaskQueue, r.in.Summary(), runURL(r.cfg, r.id, run.GetRunID()))
	if detach {
		return nil
	}

	var res workflows.UserAutomationResult
	err = r.followed(ctx, timeout, run, "run", func(ctx context.Context) (any, error) {
		var err error
		res, err = r.follow(ctx, run, newProgressBar(r.stderr, r.dataset.RecordsNoun()))
		return res, err
	})
	if err != nil {
		return err
	}
	if idsFile != "" {
		return writeRecordIDs(idsFile, r.id, res)
	}
	return nil
}

// followed follows a workflow with follow (for -timeout if set) and reports how
// that ended: Ctrl-C, -timeout, the workflow's failure, or its result (JSON, on
// stdout) and its address in the Web UI. noun is what the workflow is to the user.
func (r runner) followed(ctx context.Context, timeout time.Duration, run client.WorkflowRun, noun string,
	follow func(context.Context) (any, error)) error {
	followCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		followCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	res, err := follow(followCtx)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(r.stderr, "\nStopped following. %s %s goes on in the worker; see it in the Web UI:\n%s\n",
			strings.ToUpper(noun[:1])+noun[1:], r.id, runURL(r.cfg, r.id, run.GetRunID()))
		return errStoppedFollowing
	case followCtx.Err() != nil || timeout > 0 && deadlineExceeded(err):
		return fmt.Errorf("stopped following after %s (-timeout); %s %s goes on in the worker, see %s",
			timeout, noun, r.id, runURL(r.cfg, r.id, run.GetRunID()))
	case err != nil:
		return fmt.Errorf("%s %s failed: %w\nSee %s", noun, r.id, err, runURL(r.cfg, r.id, r.lastRunID(ctx, run.GetRunID())))
	}
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	fmt.Fprintf(r.stdout, "%s\n", out)
	fmt.Fprintf(r.stderr, "Web UI: %s\n", runURL(r.cfg, r.id, r.lastRunID(ctx, run.GetRunID())))
	return nil
}

// deadlineExceeded tells whether err is the end of -timeout: the context's own, or
// the server's answer to the deadline the call carried, which can come back a
// moment before the context's timer fires.
func deadlineExceeded(err error) bool {
	var de *serviceerror.DeadlineExceeded
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &de)
}

// writeRecordIDs writes the ids of a finished run's records to path, one a line:
// every record of every tick, made by the dataset's RecordID as the activities make
// them, from the workflow id and the run id of the run's first execution that the
// result reports.
func writeRecordIDs(path, workflowID string, res workflows.UserAutomationResult) error {
	ds, ok := datasets.Lookup(res.Dataset)
	if !ok || res.Ticks == 0 || res.RunID == "" {
		return fmt.Errorf("writing the run's record ids: the result names no dataset, run id or ticks: %+v", res)
	}
	perTick := res.RecordsPublished / res.Ticks
	var b strings.Builder
	for tick := range res.Ticks {
		for i := range perTick {
			b.WriteString(ds.RecordID(workflowID, res.RunID, tick, i))
			b.WriteByte('\n')
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the run's record ids: %w", err)
	}
	return nil
}

// follow waits for the run's result, showing its progress meanwhile: the ticks
// done, why a tick cannot be published (its activity's last failure), and whether a
// worker polls the task queue when the run does not answer.
func (r runner) follow(ctx context.Context, run client.WorkflowRun, bar *progressBar) (workflows.UserAutomationResult, error) {
	return watch(ctx, r, run, bar, bar.draw, func(res workflows.UserAutomationResult) workflows.Progress {
		return workflows.Progress{TicksDone: res.Ticks, TicksTotal: res.Ticks, RecordsPublished: res.RecordsPublished,
			RecordsBySource: res.RecordsBySource, LateTicks: res.LateTicks}
	})
}

// watch waits for run's result R (following continue-as-new to the last run),
// drawing its progress P, which ProgressQuery answers, every pollEvery with draw,
// and at the end final's progress of the result; it shows the last failure of an
// activity being retried, and why the run does not answer when it does not.
func watch[R, P any](ctx context.Context, r runner, run client.WorkflowRun, bar *progressBar, draw func(P), final func(R) P) (R, error) {
	var res R
	done := make(chan error, 1)
	go func() { done <- run.Get(ctx, &res) }()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				draw(final(res))
			}
			bar.finish()
			return res, err
		case <-tick.C:
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			var p P
			v, err := r.c.QueryWorkflow(qctx, r.id, "", workflows.ProgressQuery)
			if err == nil {
				err = v.Get(&p)
			}
			if err == nil {
				draw(p)
				r.showPendingFailure(qctx, bar)
			} else {
				bar.waiting(r.waitingFor(qctx))
			}
			cancel()
		}
	}
}

// showPendingFailure shows the last failure of an activity Temporal is retrying: a
// tick that cannot be published, and why.
func (r runner) showPendingFailure(ctx context.Context, bar *progressBar) {
	d, err := r.c.DescribeWorkflowExecution(ctx, r.id, "")
	if err != nil {
		return
	}
	for _, a := range d.GetPendingActivities() {
		if f := a.GetLastFailure(); f != nil {
			bar.line(fmt.Sprintf("retrying: %s (attempt %d)", f.GetMessage(), a.GetAttempt()))
		}
	}
}

// waitingFor says why the run does not answer its progress query.
func (r runner) waitingFor(ctx context.Context) string {
	tq, err := r.c.DescribeTaskQueue(ctx, r.cfg.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err == nil && len(tq.GetPollers()) == 0 {
		return fmt.Sprintf("no worker polls task queue %s: start one (`stack/stack.sh up worker`, or bin/worker)", r.cfg.TaskQueue)
	}
	return "waiting for the run to answer (is a worker polling task queue " + r.cfg.TaskQueue + "?)"
}

// lastRunID is the run id of the run's last execution (it continues as new), or
// fallback if that cannot be told.
func (r runner) lastRunID(ctx context.Context, fallback string) string {
	d, err := r.c.DescribeWorkflowExecution(ctx, r.id, "")
	if err != nil {
		return fallback
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

func runURL(cfg config.Producer, id, runID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s",
		cfg.WebUIURL, url.PathEscape(cfg.TemporalNamespace), url.PathEscape(id), url.PathEscape(runID))
}

// quietLogger keeps the SDK's own logging to warnings and errors, written in format,
// so that it does not mix with the command's output.
func quietLogger(format cli.LogFormat) tlog.Logger {
	return tlog.NewStructuredLogger(format.Logger(os.Stderr, slog.LevelWarn))
}
