package cutover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

// Partition is one partition of a cut-over: what is committed and where the
// partition stands.
type Partition struct {
	ID int
	// Commit is the checkpoint's next offset: the group's offset once committed.
	Commit int64
	// Start and End are the partition's first and end offsets: End - Commit
	// records are left for streampipe.
	Start, End int64
	// Committed is the group's offset before the cut-over, -1 when none.
	Committed int64
}

// Plan is a checked cut-over: the checkpoint's offsets of one topic, to commit as
// a consumer group's.
type Plan struct {
	Checkpoint Checkpoint
	Topic      string
	Group      string
	Partitions []Partition // by ID
}

// Refused is a cut-over that would lose or replay records, or that cannot commit.
type Refused struct{ Reason string }

func (r *Refused) Error() string { return "cut-over refused: " + r.Reason }

func refuse(format string, args ...any) error { return &Refused{Reason: fmt.Sprintf(format, args...)} }

// Prepare checks that ck's offsets of topic can become group's: the topic exists
// with the same partitions as in the checkpoint, each offset lies within its
// partition, the group has no live member (the streaming workers are stopped) and,
// unless force, no offset of the topic yet.
func Prepare(ctx context.Context, c *kafka.Client, ck Checkpoint, topic, group string, force bool) (Plan, error) {
	offsets, ok := ck.Offsets[topic]
	if !ok {
		return Plan{}, refuse("the checkpoint %s (batch %d) has no offsets of topic %s, only of %s: wrong checkpoint, or wrong -dataset or -topic",
			ck.Dir, ck.Batch, topic, strings.Join(slices.Sorted(maps.Keys(ck.Offsets)), ", "))
	}
	// The topic's partitions and their bounds, read as a dead-letter replay reads them.
	ranges, err := dlq.Ranges(ctx, c, topic)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return Plan{}, refuse("topic %s does not exist", topic)
	}
	if err != nil {
		return Plan{}, err
	}
	var ids []int // sorted, as ranges
	for _, r := range ranges {
		ids = append(ids, r.Partition)
	}
	if theirs := slices.Sorted(maps.Keys(offsets)); !slices.Equal(ids, theirs) {
		return Plan{}, refuse("topic %s has partitions %v, the checkpoint's batch %d has %v: the topic was re-created or grown since; cut over by hand",
			topic, ids, ck.Batch, theirs)
	}
	if err := checkIdle(ctx, c, group); err != nil {
		return Plan{}, err
	}
	p := Plan{Checkpoint: ck, Topic: topic, Group: group}
	if p.Partitions, err = positions(ctx, c, topic, group, ranges, offsets); err != nil {
		return Plan{}, err
	}
	for _, pt := range p.Partitions {
		if err := pt.check(topic); err != nil {
			return Plan{}, err
		}
	}
	if has := p.committed(); len(has) > 0 && !force {
		return Plan{}, refuse("group %s already has offsets of topic %s (partitions %v): streampipe has consumed it before; -force replaces them",
			group, topic, has)
	}
	return p, nil
}

// check refuses an offset outside the partition's records.
func (pt Partition) check(topic string) error {
	switch {
	case pt.Commit > pt.End:
		return refuse("topic %s partition %d: the checkpoint's offset %d is beyond the partition's end %d: the topic was re-created since, or this is another cluster's checkpoint",
			topic, pt.ID, pt.Commit, pt.End)
	case pt.Commit < pt.Start:
		return refuse("topic %s partition %d: the checkpoint's offset %d is before the partition's first offset %d: records Spark had not read were deleted (retention)",
			topic, pt.ID, pt.Commit, pt.Start)
	}
	return nil
}

// committed are the partitions the group has an offset of.
func (p Plan) committed() []int {
	var ids []int
	for _, pt := range p.Partitions {
		if pt.Committed >= 0 {
			ids = append(ids, pt.ID)
		}
	}
	return ids
}

// checkIdle refuses a group with members: a commit from outside the group would
// be refused by the coordinator, or undone by the members' next commits.
func checkIdle(ctx context.Context, c *kafka.Client, group string) error {
	g, err := describeGroup(ctx, c, group)
	if err != nil {
		return fmt.Errorf("describing group %s: %w", group, err)
	}
	if len(g.Members) > 0 {
		return refuse("group %s has %d live members (state %s): stop the streaming workers first", group, len(g.Members), g.GroupState)
	}
	return nil
}

// describeGroup describes group, waiting (kafkasec.Settle) for its coordinator while
// Kafka says it is not ready: on a cluster where no consumer group was ever
// coordinated (one that only Spark reads: its Kafka source assigns partitions
// itself), the first group request creates __consumer_offsets, and the brokers
// answer "not coordinator" or "loading" until its partitions are up, a few seconds.
// A group Kafka does not know is an empty one.
func describeGroup(ctx context.Context, c *kafka.Client, group string) (kafka.DescribeGroupsResponseGroup, error) {
	var g kafka.DescribeGroupsResponseGroup
	_, err := kafkasec.Settle(ctx, func() error {
		res, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil && len(res.Groups) != 1 {
			err = fmt.Errorf("%d groups in the answer", len(res.Groups))
		}
		if err == nil {
			g, err = res.Groups[0], res.Groups[0].Error
		}
		return err
	})
	if errors.Is(err, kafka.GroupIdNotFound) {
		return kafka.DescribeGroupsResponseGroup{}, nil
	}
	return g, err
}

// positions are the partitions of topic, ranges, with the group's offsets and the
// offsets to commit.
func positions(ctx context.Context, c *kafka.Client, topic, group string, ranges []dlq.Range, offsets map[int]int64) ([]Partition, error) {
	fetched, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group,
		Topics: map[string][]int{topic: slices.Sorted(maps.Keys(offsets))}})
	if err == nil {
		err = fetched.Error
	}
	if err != nil {
		return nil, fmt.Errorf("reading the offsets of group %s: %w", group, err)
	}
	committed := map[int]int64{}
	for _, f := range fetched.Topics[topic] {
		if f.Error != nil {
			return nil, fmt.Errorf("reading the offset of group %s on %s partition %d: %w", group, topic, f.Partition, f.Error)
		}
		committed[f.Partition] = f.CommittedOffset
	}
	var out []Partition
	for _, r := range ranges {
		c, ok := committed[r.Partition]
		if !ok {
			c = -1
		}
		out = append(out, Partition{ID: r.Partition, Commit: offsets[r.Partition], Start: r.From, End: r.To, Committed: c})
	}
	return out, nil
}

// Commit commits the plan's offsets as its group's: a commit by no member
// (generation -1), which the coordinator accepts from outside an empty group.
// Each offset's metadata names the checkpoint and batch it came from.
func (p Plan) Commit(ctx context.Context, c *kafka.Client) error {
	meta := fmt.Sprintf("spark checkpoint %s batch %d", p.Checkpoint.Dir, p.Checkpoint.Batch)
	var commits []kafka.OffsetCommit
	for _, pt := range p.Partitions {
		commits = append(commits, kafka.OffsetCommit{Partition: pt.ID, Offset: pt.Commit, Metadata: meta})
	}
	res, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: p.Group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{p.Topic: commits}})
	if err != nil {
		return fmt.Errorf("committing the offsets of group %s: %w", p.Group, err)
	}
	var errs []error
	for _, r := range res.Topics[p.Topic] {
		if r.Error != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", r.Partition, r.Error))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("committing the offsets of group %s on %s: %w", p.Group, p.Topic, errors.Join(errs...))
	}
	return nil
}

// Lag is how many records streampipe starts behind: the end offsets less the
// committed ones.
func (p Plan) Lag() int64 {
	var n int64
	for _, pt := range p.Partitions {
		n += pt.End - pt.Commit
	}
	return n
}

// Print writes the plan: per partition, its first offset (above 0: records were
// deleted), the offset to commit, the group's now, the partition's end and the lag
// streampipe starts with.
func (p Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "Spark checkpoint %s: last finished batch %d (%s)\n", p.Checkpoint.Dir, p.Checkpoint.Batch, p.Checkpoint.File())
	if others := len(p.Checkpoint.Offsets) - 1; others > 0 {
		fmt.Fprintf(w, "(its offsets of %d other topics are left alone)\n", others)
	}
	fmt.Fprintf(w, "Topic %s, group %s:\n", p.Topic, p.Group)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "partition\tfirst\tcommit\tgroup now\tend\tlag\t")
	for _, pt := range p.Partitions {
		now := "none"
		if pt.Committed >= 0 {
			now = fmt.Sprint(pt.Committed)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\t%d\t\n", pt.ID, pt.Start, pt.Commit, now, pt.End, pt.End-pt.Commit)
	}
	fmt.Fprintf(tw, "total\t\t\t\t\t%d\t\n", p.Lag())
	_ = tw.Flush()
}
