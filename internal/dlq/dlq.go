// Package dlq reads the streaming worker's dead-letter topics: the offsets a topic
// holds (Ranges), a range of a partition (ReadRange), and their counts (Count); a
// dead letter itself is read with rows.ParseLetter. The starter's `dlq stats` and
// the DLQReplay workflow's activities share it; the cut-over reads a topic's
// partitions and bounds with Ranges.
package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// Range is the offsets of one partition: [From, To).
type Range struct {
	Partition int   `json:"partition"`
	From      int64 `json:"from"`
	To        int64 `json:"to"`
}

// Ranges returns the offsets topic holds now, by partition: from its first offset
// to its end offset (the next one to be written).
func Ranges(ctx context.Context, c *kafka.Client, topic string) ([]Range, error) {
	return RangesSince(ctx, c, topic, time.Time{})
}

// RangesSince returns, by partition, the offsets of topic's records from the first
// whose timestamp is at since or later to the end offset; the zero since means from
// the first offset.
func RangesSince(ctx context.Context, c *kafka.Client, topic string, since time.Time) ([]Range, error) {
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading the partitions of topic %s: %w", topic, err)
	}
	if len(meta.Topics) != 1 {
		return nil, fmt.Errorf("topic %s: %w", topic, kafka.UnknownTopicOrPartition)
	}
	if err := meta.Topics[0].Error; err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
		if since.IsZero() {
			reqs = append(reqs, kafka.FirstOffsetOf(p.ID))
		} else {
			reqs = append(reqs, kafka.TimeOffsetOf(p.ID, since))
		}
	}
	// One call: kafka-go sends each offset asked on its own (a broker refuses a
	// partition asked twice in one request) and merges the answers by partition.
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("reading the offsets of topic %s: %w", topic, err)
	}
	var out []Range
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("reading the offsets of topic %s partition %d: %w", topic, p.Partition, p.Error)
		}
		r := Range{Partition: p.Partition, From: p.LastOffset, To: p.LastOffset}
		if since.IsZero() {
			r.From = p.FirstOffset
		}
		for o := range p.Offsets { // none at or above 0 when no record is at since or later
			if o >= 0 {
				r.From = min(r.From, o)
			}
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Range) int { return cmp.Compare(a.Partition, b.Partition) })
	return out, nil
}

// idleEnd is how long ReadRange waits for a next record before it asks whether the
// broker answered meanwhile: offsets that hold no record (compacted away,
// transaction markers) end a range without a record at its last offset.
const idleEnd = 5 * time.Second

// ReadRange reads the records of r from topic in order and calls fn with each; it
// stops early when fn returns false, and when no record comes for idleEnd while
// the broker answers every fetch (the rest of the range holds none). A broker
// that does not answer is an error: a record is never taken for gone because it
// could not be read.
func ReadRange(ctx context.Context, brokers []string, dialer *kafka.Dialer, topic string, r Range, fn func(kafka.Message) bool) error {
	if r.From >= r.To {
		return nil
	}
	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Dialer: dialer, Topic: topic, Partition: r.Partition,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 250 * time.Millisecond,
	})
	defer rd.Close()
	if err := rd.SetOffset(r.From); err != nil {
		return fmt.Errorf("topic %s partition %d: %w", topic, r.Partition, err)
	}
	for {
		readCtx, cancel := context.WithTimeout(ctx, idleEnd)
		m, err := rd.ReadMessage(readCtx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			if st := rd.Stats(); st.Errors == 0 && st.Fetches > 0 {
				return nil
			}
			err = fmt.Errorf("no answer for %s", idleEnd)
		}
		if err != nil {
			return fmt.Errorf("reading topic %s partition %d from offset %d: %w", topic, r.Partition, r.From, err)
		}
		if m.Offset >= r.To {
			return nil
		}
		if !fn(m) || m.Offset >= r.To-1 {
			return nil
		}
	}
}
