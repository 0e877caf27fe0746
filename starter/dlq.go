package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/workflows"
)

var dlqStats = command{
	help: `Counts the dead letters of a dataset's dead-letter topic, read from the topic
itself with their dlq.* headers (KAFKA_BROKERS): the total, by reason, by source
topic and partition, how many are of records replayed before, and the oldest
and newest (when dead-lettered, where they stand, where they came from). It reads
up to the end offsets of the moment it starts. It does not talk to Temporal.`,
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		dataset, topic := dlqTopicFlags(fs, cfg)
		return action{
			input:   func() workflows.UserAutomationInput { return workflows.UserAutomationInput{Dataset: *dataset} },
			offline: true,
			run: func(ctx context.Context, _ client.Client, stdout, _ io.Writer) error {
				if err := cfg.Activities.KafkaSecurity.Check(ctx, cfg.Activities.KafkaBrokers); err != nil { // a misconfiguration
					return err
				}
				st, err := dlq.Count(ctx, cfg.Activities.KafkaBrokers, cfg.Activities.KafkaSecurity, topic())
				if err != nil {
					return fmt.Errorf("counting the dead letters at %s (KAFKA_BROKERS): %w", strings.Join(cfg.Activities.KafkaBrokers, ","), err)
				}
				st.Print(stdout)
				return nil
			},
		}
	},
}

// dlqTopicFlags declares -dataset and -dlq-topic; topic is the dead-letter topic
// they name once parsed: -dlq-topic, else the dataset's (for users, KAFKA_TOPIC's).
func dlqTopicFlags(fs *flag.FlagSet, cfg *config.Producer) (dataset *string, topic func() string) {
	dataset = fs.String("dataset", "", "the dataset whose dead letters: "+strings.Join(datasets.Names(), ", ")+` (default "users")`)
	dlqTopic := fs.String("dlq-topic", "", "the dead-letter topic (default: the dataset's, <topic>.dlq; for a declared dataset, name it)")
	return dataset, func() string {
		if *dlqTopic != "" {
			return *dlqTopic
		}
		ds, _ := datasets.Lookup(*dataset) // the input is valid
		if ds.Name == datasets.NameUsers {
			ds.Topic = cfg.KafkaTopic
		}
		return ds.DeadLetterTopic()
	}
}

var dlqReplay = command{
	help: `Re-publishes selected dead letters to their source topic, where the streaming
worker consumes them again once their cause is fixed: a DLQReplay workflow on the
worker's task queue, followed with a progress bar until it ends; then prints its
result (JSON, on stdout: read, selected, replayed, skipped, failed) and its
address in the Temporal Web UI. Each replayed record has its original key, value,
headers and timestamp (so that it never overwrites a newer version of its row),
plus dlq.replayed_from (<dlq topic>/<partition>/<offset>) and dlq.replays (how
many times it has been replayed).

The dead letters go back to the dead-letter topic's own source topic only (the
dataset's; -topic names it for a -dlq-topic that does not end in .dlq): one that
names another topic fails. It reads the dead letters up to the end offsets of the
moment it starts, page by page (-page-size, at most 5000), and resumes after a
worker crash. Each dead letter is published once: one whose replay is on the
source topic already (a retried page, an earlier request) is skipped. One replay
of a dead-letter topic runs at a time (workflow id dlq-replay-<dlq topic>): a
second is refused, naming the first. A record replayed -max-replays times already
that failed again is skipped unless -force: loops are bounded. Ctrl-C, or
-timeout, stops following; the replay goes on in the worker.`,
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		taskQueueFlag(fs, cfg)
		dataset, topic := dlqTopicFlags(fs, cfg)
		in := &workflows.DLQReplayInput{}
		fs.StringVar(&in.Topic, "topic", "", "the source topic to replay to (default: the dead-letter topic's name without .dlq)")
		fs.StringVar(&in.Reason, "reason", "", "replay the dead letters of this dlq.reason only (see 'starter dlq stats')")
		fs.StringVar(&in.Since, "since", "", `replay the dead letters written since: a duration back from now ("24h") or an RFC 3339 time`)
		fs.IntVar(&in.MaxReplays, "max-replays", workflows.DefaultMaxReplays, "skip the dead letters of records replayed this many times already")
		fs.BoolVar(&in.Force, "force", false, "replay them even so")
		fs.IntVar(&in.PageSize, "page-size", 500, fmt.Sprintf("dead letters read by one activity (at most %d)", workflows.MaxPageSize))
		detach := fs.Bool("detach", false, "start the replay and return without following it")
		timeout := fs.Duration("timeout", 0, "stop following after this long (0: until the replay ends); the replay goes on")
		return action{
			input: func() workflows.UserAutomationInput { return workflows.UserAutomationInput{Dataset: *dataset} },
			check: func() error {
				in.DLQTopic = topic()
				return in.Validate()
			},
			run: func(ctx context.Context, c client.Client, stdout, stderr io.Writer) error {
				r := runner{c: c, cfg: *cfg, id: workflows.ReplayID(*in), stdout: stdout, stderr: stderr}
				return r.replay(ctx, *in, *detach, *timeout)
			},
		}
	},
}

// replay starts the replay of in and follows it; one of the same dead-letter topic
// that runs already is named, and nothing is started.
func (r runner) replay(ctx context.Context, in workflows.DLQReplayInput, detach bool, timeout time.Duration) error {
	run, err := r.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: r.id, TaskQueue: r.cfg.TaskQueue, StaticSummary: in.Summary(),
		// Two replays of a topic at once could publish a letter twice: a second is
		// refused. A finished one may run again (it skips what is replayed already).
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflows.DLQReplay, in)
	if _, ok := errors.AsType[*serviceerror.WorkflowExecutionAlreadyStarted](err); ok {
		return r.running(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("starting workflow %s on task queue %s: %w", r.id, r.cfg.TaskQueue, err)
	}
	fmt.Fprintf(r.stderr, "Replay %s on task queue %s: %s.\nWeb UI: %s\n",
		r.id, r.cfg.TaskQueue, in.Summary(), runURL(r.cfg, r.id, run.GetRunID()))
	if detach {
		return nil
	}
	return r.followed(ctx, timeout, run, "replay", func(ctx context.Context) (any, error) {
		return r.followReplay(ctx, run, newProgressBar(r.stderr, "dead letters"))
	})
}

// running is the refusal of a replay of in's dead-letter topic while another runs:
// it names that one (its run, start and selection).
func (r runner) running(ctx context.Context, in workflows.DLQReplayInput) error {
	desc, err := r.c.DescribeWorkflow(ctx, r.id, "")
	if err != nil {
		return fmt.Errorf("a replay of %s runs already (workflow %s); describing it: %w", in.DLQTopic, r.id, err)
	}
	summary, _ := desc.GetStaticSummary() // none: left out
	return fmt.Errorf("a replay of %s runs already: workflow %s, run %s, started %s (%s); one replay of a dead-letter topic runs at a time: "+
		"wait for it to end, or follow it in the Web UI: %s", in.DLQTopic, r.id, desc.WorkflowExecution.RunID,
		desc.WorkflowStartTime.UTC().Format(time.RFC3339), summary, runURL(r.cfg, r.id, desc.WorkflowExecution.RunID))
}

// followReplay waits for the replay's result, showing its progress meanwhile, why
// a page is retried, and whether a worker polls the task queue when the replay
// does not answer.
func (r runner) followReplay(ctx context.Context, run client.WorkflowRun, bar *progressBar) (workflows.DLQReplayResult, error) {
	return watch(ctx, r, run, bar, bar.drawReplay, func(res workflows.DLQReplayResult) workflows.DLQReplayProgress {
		return workflows.DLQReplayProgress{Total: res.Read, Pages: res.Pages, ReplayPageResult: activities.ReplayPageResult{
			Read: res.Read, Selected: res.Selected, Replayed: res.Replayed,
			AlreadyReplayed: res.AlreadyReplayed, LoopBound: res.LoopBound, Failed: res.Failed,
		}}
	})
}
