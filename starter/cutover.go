package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/cutover"
	"github.com/streampipe/streampipe/streaming"
	"github.com/streampipe/streampipe/workflows"
)

var cutoverCommand = command{
	help: `Cuts a dataset's topic over from the Spark job: reads the Spark query's
checkpoint directory (-spark-checkpoint), takes the offsets of its last finished
batch (the highest with a commits/ entry) and commits them as the streaming
worker's consumer group offsets (KAFKA_BROKERS), so that streampipe starts where
Spark stopped: no record lost, none processed twice. Stop the Spark query and the
streaming workers first.

It refuses when the group already has offsets of the topic (unless -force), has
live members, when the checkpoint holds no offsets of the topic or other
partitions than the topic has, when an offset lies beyond a partition's end or
before its first record, and when the checkpoint is unreadable. -dry-run prints
what it would commit, next to the topic's end offsets (the lag streampipe starts
with), and commits nothing. It does not talk to Temporal.`,
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		dataset := fs.String("dataset", "", "the dataset whose topic: "+strings.Join(datasets.Names(), ", ")+` (default "users")`)
		dir := fs.String("spark-checkpoint", "", "the Spark query's checkpoint `directory` (its checkpointLocation)")
		topic := fs.String("topic", "", "the topic (default: the dataset's; for users, KAFKA_TOPIC)")
		group := fs.String("group", "", "the streaming worker's consumer group (default: its default for the dataset, "+
			streaming.DefaultGroupID+"[-<dataset>])")
		dryRun := fs.Bool("dry-run", false, "print what would be committed, commit nothing")
		force := fs.Bool("force", false, "replace offsets the group has already")
		var ck cutover.Checkpoint
		return action{
			input: func() workflows.UserAutomationInput { return workflows.UserAutomationInput{Dataset: *dataset} },
			check: func() error {
				if *dir == "" {
					return fmt.Errorf("name the Spark query's checkpoint directory with -spark-checkpoint")
				}
				var err error
				ck, err = cutover.ReadCheckpoint(*dir)
				return err
			},
			offline: true,
			run: func(ctx context.Context, _ client.Client, stdout, _ io.Writer) error {
				ds, _ := datasets.Lookup(*dataset) // the input is valid
				if ds.Name == datasets.NameUsers {
					ds.Topic = cfg.KafkaTopic
				}
				t := cutoverTarget{topic: *topic, group: *group}
				if t.topic == "" {
					t.topic = ds.Topic
				}
				if t.group == "" {
					t.group = ds.Group(streaming.DefaultGroupID)
				}
				return t.cutOver(ctx, *cfg, ck, *dryRun, *force, stdout)
			},
		}
	},
}

// cutoverTarget is where a cut-over commits: a topic and a group.
type cutoverTarget struct{ topic, group string }

// cutOver checks ck against the topic and the group and, unless dryRun, commits it.
func (t cutoverTarget) cutOver(ctx context.Context, cfg config.Producer, ck cutover.Checkpoint, dryRun, force bool, stdout io.Writer) error {
	if err := cfg.Activities.KafkaSecurity.Check(ctx, cfg.Activities.KafkaBrokers); err != nil { // a misconfiguration
		return err
	}
	brokers := cfg.Activities.KafkaBrokers
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: cfg.Activities.KafkaSecurity.Transport()}
	plan, err := cutover.Prepare(ctx, c, ck, t.topic, t.group, force)
	if err != nil {
		return fmt.Errorf("at %s (KAFKA_BROKERS): %w", strings.Join(brokers, ","), err)
	}
	plan.Print(stdout)
	if dryRun {
		fmt.Fprintln(stdout, "Dry run: nothing committed.")
		return nil
	}
	if err := plan.Commit(ctx, c); err != nil {
		return fmt.Errorf("at %s (KAFKA_BROKERS): %w", strings.Join(brokers, ","), err)
	}
	fmt.Fprintf(stdout, "Committed: group %s starts at these offsets, %d records behind.\n", t.group, plan.Lag())
	return nil
}
