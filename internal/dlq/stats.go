package dlq

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/rows"
)

// Stats counts the dead letters of a topic.
type Stats struct {
	Topic string
	Total int
	// ByReason counts by dlq.reason; BySource by source topic and partition.
	ByReason map[string]int
	BySource map[SourcePartition]int
	// Replayed counts the dead letters of records that were replayed before
	// (dlq.replays at least 1): replays that failed again.
	Replayed int
	// Oldest and Newest are the first and last dead-lettered, by their time.
	Oldest, Newest *rows.Letter
}

// SourcePartition is a partition of a source topic.
type SourcePartition struct {
	Topic     string
	Partition int
}

// Count reads every dead letter topic holds at the time of the call (the end
// offsets are fixed first: dead letters written meanwhile are left for the next
// count) and counts them. sec says how to connect (nil: plaintext).
func Count(ctx context.Context, brokers []string, sec *kafkasec.Security, topic string) (Stats, error) {
	st := Stats{Topic: topic, ByReason: map[string]int{}, BySource: map[SourcePartition]int{}}
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: sec.Transport()}
	ranges, err := Ranges(ctx, c, topic)
	if err != nil {
		return st, err
	}
	for _, r := range ranges {
		if err := ReadRange(ctx, brokers, sec.Dialer(), topic, r, func(m kafka.Message) bool {
			st.add(rows.ParseLetter(m))
			return true
		}); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (st *Stats) add(l rows.Letter) {
	st.Total++
	st.ByReason[l.Reason]++
	st.BySource[SourcePartition{l.SourceTopic, l.SourcePartition}]++
	if l.Replays > 0 {
		st.Replayed++
	}
	l.Key, l.Value, l.Headers = nil, nil, nil
	if st.Oldest == nil || l.Time.Before(st.Oldest.Time) {
		st.Oldest = &l
	}
	if st.Newest == nil || !l.Time.Before(st.Newest.Time) {
		st.Newest = &l
	}
}

// Print writes the counts for a person: by reason (most first), by source
// partition, and the oldest and newest dead letters.
func (st Stats) Print(w io.Writer) {
	fmt.Fprintf(w, "Dead letters in %s: %d\n", st.Topic, st.Total)
	if st.Total == 0 {
		return
	}
	fmt.Fprintln(w, "\nBy reason:")
	reasons := slices.SortedFunc(maps.Keys(st.ByReason), func(a, b string) int {
		return cmp.Or(cmp.Compare(st.ByReason[b], st.ByReason[a]), cmp.Compare(a, b))
	})
	for _, r := range reasons {
		fmt.Fprintf(w, "  %-20s %d\n", cmp.Or(r, "(none)"), st.ByReason[r])
	}
	fmt.Fprintln(w, "\nBy source partition:")
	parts := slices.SortedFunc(maps.Keys(st.BySource), func(a, b SourcePartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for _, p := range parts {
		fmt.Fprintf(w, "  %-20s %d\n", fmt.Sprintf("%s/%d", p.Topic, p.Partition), st.BySource[p])
	}
	fmt.Fprintf(w, "\nReplayed before and dead-lettered again: %d\n", st.Replayed)
	fmt.Fprintf(w, "Oldest: %s\nNewest: %s\n", describe(st.Oldest, st.Topic), describe(st.Newest, st.Topic))
}

// describe is one line about l: when, where from, why.
func describe(l *rows.Letter, topic string) string {
	return fmt.Sprintf("%s  %s  from %s/%d/%d  reason %s", l.Time.UTC().Format(time.RFC3339Nano),
		rows.Coordinates(topic, l.Partition, l.Offset), l.SourceTopic, l.SourcePartition, l.SourceOffset, l.Reason)
}
