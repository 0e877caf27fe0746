package main

import (
	"context"
	"errors"
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
batch (the highest with a commits/ entry) and, with -execute, commits them as the
streaming worker's consumer group offsets (KAFKA_BROKERS), so that streampipe
starts where Spark stopped: no record lost, none processed twice. Stop the Spark
query and the streaming workers first.

Without -execute it only prints the plan: the offsets it would commit, next to the
group's now and the topic's end offsets (the lag streampipe starts with), and
changes nothing, as Kafka's own kafka-consumer-groups --reset-offsets does.

It refuses while the Spark query may still run: its checkpoint was written less
than -spark-quiet ago, or a consumer group of Spark's (-spark-group-prefix) has a
live member reading the topic. It refuses when the group already has offsets of
the topic (unless -force), has live members, when the checkpoint holds no offsets
of the topic or other partitions than the topic has, when an offset lies beyond a
partition's end or before its first record, and when the checkpoint is
unreadable. It does not talk to Temporal.`,
	setup: func(fs *flag.FlagSet, cfg *config.Producer) action {
		dataset := fs.String("dataset", "", "the dataset whose topic: "+strings.Join(datasets.Names(), ", ")+` (default "users")`)
		dir := fs.String("spark-checkpoint", "", "the Spark query's checkpoint `directory` (its checkpointLocation)")
		topic := fs.String("topic", "", "the topic (default: the dataset's; for users, KAFKA_TOPIC)")
		group := fs.String("group", "", "the streaming worker's consumer group (default: its default for the dataset, "+
			streaming.DefaultGroupID+"[-<dataset>])")
		execute := fs.Bool("execute", false, "commit the offsets (without it: print the plan, change nothing)")
		force := fs.Bool("force", false, "replace offsets the group has already")
		quiet := fs.Duration("spark-quiet", 2*time.Minute, "refuse unless the Spark checkpoint has not been written for this long")
		sparkGroups := fs.String("spark-group-prefix", cutover.SparkGroupPrefix, "refuse while a consumer group of this prefix reads the topic")
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
				t := cutoverTarget{topic: *topic, group: *group, sparkGroups: *sparkGroups, quiet: *quiet}
				if t.topic == "" {
					t.topic = ds.Topic
				}
				if t.group == "" {
					t.group = ds.Group(streaming.DefaultGroupID)
				}
				return t.cutOver(ctx, *cfg, ck, *execute, *force, stdout)
			},
		}
	},
}

// cutoverTarget is where a cut-over commits, a topic and a group, and how it
// tells that the Spark query has stopped.
type cutoverTarget struct {
	topic, group string
	sparkGroups  string        // the prefix of Spark's consumer groups
	quiet        time.Duration // how long the checkpoint must not have been written
}

// cutOver checks ck against the topic and the group and prints the plan; with
// execute, it commits it, unless the Spark query may still run.
func (t cutoverTarget) cutOver(ctx context.Context, cfg config.Producer, ck cutover.Checkpoint, execute, force bool, stdout io.Writer) error {
	if err := cfg.Activities.KafkaSecurity.Check(ctx, cfg.Activities.KafkaBrokers); err != nil { // a misconfiguration
		return err
	}
	brokers := cfg.Activities.KafkaBrokers
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: cfg.Activities.KafkaSecurity.Transport()}
	at := func(err error) error { return fmt.Errorf("at %s (KAFKA_BROKERS): %w", strings.Join(brokers, ","), err) }
	running := cutover.CheckSparkStopped(ctx, c, ck, t.topic, t.sparkGroups, t.quiet, time.Now())
	if running != nil && (execute || !errors.As(running, new(*cutover.Refused))) {
		return at(running)
	}
	plan, err := cutover.Prepare(ctx, c, ck, t.topic, t.group, force)
	if err != nil {
		return at(err)
	}
	plan.Print(stdout)
	if !execute {
		fmt.Fprintln(stdout, "Plan only: nothing committed. Run again with -execute to commit these offsets.")
		if running != nil {
			fmt.Fprintf(stdout, "-execute would be refused now: %v\n", running)
		}
		return nil
	}
	if err := plan.Commit(ctx, c); err != nil {
		return at(err)
	}
	fmt.Fprintf(stdout, "Committed: group %s starts at these offsets, %d records behind.\n", t.group, plan.Lag())
	return nil
}
