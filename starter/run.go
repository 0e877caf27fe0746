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

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/workflows"
)

// errStoppedFollowing means Ctrl-C ended the following of a run, not the run.
var errStoppedFollowing = errors.New("stopped following")

// pollEvery is how often the progress bar asks the run for its progress.
const pollEvery = 500 * time.Millisecond

var runCommand = command{
	help: `Starts one UserAutomation run now and follows it with a progress bar until it
ends, then prints its result and its address in the Temporal Web UI. Ctrl-C stops
following; the run goes on in the worker.`,
	setup: func(fs *flag.FlagSet, cfg *config.Producer) func(context.Context, client.Client, io.Writer, io.Writer) error {
		taskQueueFlag(fs, cfg)
		in := runInputFlags(fs, *cfg)
		id := fs.String("id", "", "workflow id (default user-automation-run-<time>)")
		detach := fs.Bool("detach", false, "start the run and return without following it")
		idsFile := fs.String("ids-file", "", "when the run has ended, write the ids of its users to this file, one a line")
		return func(ctx context.Context, c client.Client, stdout, stderr io.Writer) error {
			if *id == "" {
				*id = "user-automation-run-" + time.Now().UTC().Format("20060102T150405Z")
			}
			return startRun(ctx, c, *cfg, *id, *in, *detach, *idsFile, stdout, stderr)
		}
	},
}

// runInputFlags declares the flags of a run's input on fs.
func runInputFlags(fs *flag.FlagSet, cfg config.Producer) *workflows.UserAutomationInput {
	in := &workflows.UserAutomationInput{Topic: cfg.KafkaTopic}
	fs.StringVar(&in.Duration, "duration", "", `how long the run publishes, e.g. "90s" (default "2m")`)
	fs.StringVar(&in.Interval, "interval", "", `time between ticks, at least "100ms" (default "1s")`)
	fs.IntVar(&in.UsersPerTick, "users-per-tick", 0, "users published per tick, 1 to 5000 (default 1)")
	fs.StringVar(&in.Topic, "topic", in.Topic, "Kafka topic (KAFKA_TOPIC)")
	return in
}

func startRun(ctx context.Context, c client.Client, cfg config.Producer, id string, in workflows.UserAutomationInput,
	detach bool, idsFile string, stdout, stderr io.Writer) error {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: cfg.TaskQueue}, workflows.UserAutomation, in)
	if err != nil {
		return fmt.Errorf("starting workflow %s on task queue %s: %w", id, cfg.TaskQueue, err)
	}
	fmt.Fprintf(stderr, "Started run %s on task queue %s.\nWeb UI: %s\n", id, cfg.TaskQueue, runURL(cfg, id, run.GetRunID()))
	if detach {
		return nil
	}

	res, err := follow(ctx, c, run, newProgressBar(stderr))
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "\nStopped following. Run %s goes on in the worker; see it in the Web UI:\n%s\n",
			id, runURL(cfg, id, run.GetRunID()))
		return errStoppedFollowing
	case err != nil:
		return fmt.Errorf("run %s failed: %w\nSee %s", id, err, runURL(cfg, id, lastRunID(ctx, c, id, run.GetRunID())))
	}
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	fmt.Fprintf(stdout, "%s\n", out)
	fmt.Fprintf(stderr, "Web UI: %s\n", runURL(cfg, id, lastRunID(ctx, c, id, run.GetRunID())))
	if idsFile != "" {
		return writeUserIDs(idsFile, id, run.GetRunID(), res.Ticks, max(in.UsersPerTick, 1))
	}
	return nil
}

// writeUserIDs writes the ids of a finished run's users to path: every user of every
// tick, as the activities derive them from the workflow id and the first run id.
func writeUserIDs(path, workflowID, firstRunID string, ticks, usersPerTick int) error {
	var b strings.Builder
	for tick := range ticks {
		for i := range usersPerTick {
			b.WriteString(activities.UserID(workflowID, firstRunID, tick, i))
			b.WriteByte('\n')
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the run's user ids: %w", err)
	}
	return nil
}

// follow waits for the run's result, drawing its progress meanwhile. If no worker
// polls the task queue, the bar says so.
func follow(ctx context.Context, c client.Client, run client.WorkflowRun, bar *progressBar) (workflows.UserAutomationResult, error) {
	var res workflows.UserAutomationResult
	done := make(chan error, 1)
	go func() { done <- run.Get(ctx, &res) }() // Get follows continue-as-new to the last run
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				bar.draw(workflows.Progress{TicksDone: res.Ticks, TicksTotal: res.Ticks, UsersPublished: res.UsersPublished,
					UsersBySource: res.UsersBySource, LateTicks: res.LateTicks})
			}
			bar.finish()
			return res, err
		case <-tick.C:
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			v, err := c.QueryWorkflow(qctx, run.GetID(), "", workflows.ProgressQuery)
			cancel()
			var p workflows.Progress
			if err == nil && v.Get(&p) == nil {
				bar.draw(p)
			} else {
				bar.waiting()
			}
		}
	}
}

// lastRunID is the run id of the run's last execution (it continues as new), or
// fallback if that cannot be told.
func lastRunID(ctx context.Context, c client.Client, id, fallback string) string {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return fallback
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

func runURL(cfg config.Producer, id, runID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s",
		cfg.WebUIURL, url.PathEscape(cfg.TemporalNamespace), url.PathEscape(id), url.PathEscape(runID))
}

// progressBar draws a run's progress on a terminal, on one line redrawn in place;
// on anything else it writes a line when the progress changes.
type progressBar struct {
	w        io.Writer
	terminal bool
	last     string
	lastErr  string // the reason of the last fallback shown
}

func newProgressBar(w io.Writer) *progressBar {
	terminal := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			terminal = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progressBar{w: w, terminal: terminal}
}

func (b *progressBar) draw(p workflows.Progress) {
	// LastError is "tick N: reason"; a reason is shown once, not at every tick.
	if _, reason, _ := strings.Cut(p.LastError, ": "); reason != "" && reason != b.lastErr {
		b.lastErr = reason
		b.line("fell back to the faker: " + p.LastError)
	}
	const width = 30
	filled := 0
	if p.TicksTotal > 0 {
		filled = width * p.TicksDone / p.TicksTotal
	}
	s := fmt.Sprintf("[%s%s] %d/%d ticks · %d users (randomuser %d, faker %d) · late %d",
		strings.Repeat("#", filled), strings.Repeat("-", width-filled), p.TicksDone, p.TicksTotal,
		p.UsersPublished, p.UsersBySource.RandomUser, p.UsersBySource.Faker, p.LateTicks)
	if p.CurrentSource != "" {
		s += " · source " + p.CurrentSource
	}
	b.status(s)
}

func (b *progressBar) waiting() {
	b.status("waiting for the run to answer (is a worker polling the task queue?)")
}

// status shows s as the current state.
func (b *progressBar) status(s string) {
	if s == b.last {
		return
	}
	b.last = s
	if b.terminal {
		fmt.Fprintf(b.w, "\r\033[K%s", s)
	} else {
		fmt.Fprintln(b.w, s)
	}
}

// line prints s on a line of its own above the status.
func (b *progressBar) line(s string) {
	if b.terminal {
		fmt.Fprintf(b.w, "\r\033[K%s\n%s", s, b.last)
	} else {
		fmt.Fprintln(b.w, s)
	}
}

func (b *progressBar) finish() {
	if b.terminal && b.last != "" {
		fmt.Fprintln(b.w)
	}
}

// quietLogger keeps the SDK's own logging to warnings and errors, so that it does
// not mix with the command's output.
func quietLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}
