// Package dlq reads the streaming worker's dead-letter topics: a dead letter's
// coordinates and dlq.* headers (Parse), the offsets a topic holds (Ranges), a range
// of a partition (ReadRange), and what re-publishing a dead letter sends (Replay).
// The starter's `dlq stats` and the DLQReplay workflow's activities share it; the
// cut-over reads a topic's partitions and bounds with Ranges.
package dlq

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
)

// Headers a replay adds to the record it re-publishes. The streaming worker keeps a
// record's headers in its dead letter, so a replayed record that fails again carries
// them into the dead-letter topic: loops are visible there, and bounded.
const (
	// HeaderReplayedFrom is the dead letter a record is the replay of:
	// <dead-letter topic>/<partition>/<offset>. It makes a replay idempotent: a dead
	// letter whose coordinates are already on the source topic is not sent again.
	HeaderReplayedFrom = "dlq.replayed_from"
	// HeaderReplays counts the replays of the record, decimal: 1 on its first.
	HeaderReplays = "dlq.replays"
)

// Letter is a dead letter as read from its topic.
type Letter struct {
	Partition int       // in the dead-letter topic
	Offset    int64     // in the dead-letter topic
	Time      time.Time // when it was dead-lettered (the dead letter's Kafka timestamp)

	Reason          string
	SourceTopic     string
	SourcePartition int
	SourceOffset    int64
	SourceTime      time.Time // the source record's timestamp; zero if the header is missing
	// First is where the record was first published, topic/partition/offset: the
	// source's coordinates, or those a replay before this one kept (dlq.first).
	First string
	// Replays is how many times the record has been replayed already (dlq.replays).
	Replays   int
	Truncated bool

	// Key, Value and Headers are the source record's: Headers without any dlq.* one.
	Key, Value []byte
	Headers    []kafka.Header
}

// Parse reads a dead letter's headers. Headers it does not know are the source
// record's; a dlq.* header that cannot be read leaves its field zero.
func Parse(m kafka.Message) Letter {
	l := Letter{Partition: m.Partition, Offset: m.Offset, Time: m.Time, Key: m.Key, Value: m.Value, SourcePartition: -1, SourceOffset: -1}
	for _, h := range m.Headers {
		v := string(h.Value)
		switch h.Key {
		case rows.HeaderReason:
			l.Reason = v
		case rows.HeaderTopic:
			l.SourceTopic = v
		case rows.HeaderPartition:
			if n, err := strconv.Atoi(v); err == nil {
				l.SourcePartition = n
			}
		case rows.HeaderOffset:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				l.SourceOffset = n
			}
		case rows.HeaderTimestamp:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				l.SourceTime = time.UnixMilli(n).UTC()
			}
		case rows.HeaderTruncated:
			l.Truncated = v == "true"
		case HeaderReplays:
			l.Replays, _ = strconv.Atoi(v)
		case rows.HeaderFirst:
			l.First = v
		default:
			if !strings.HasPrefix(h.Key, rows.HeaderPrefix) {
				l.Headers = append(l.Headers, h)
			}
		}
	}
	if l.First == "" && l.SourceTopic != "" {
		l.First = rows.Coordinates(l.SourceTopic, l.SourcePartition, l.SourceOffset)
	}
	return l
}

// Replay is the record that re-publishes l from dead-letter topic dlqTopic: its
// source topic, key, value and headers, with HeaderReplayedFrom and HeaderReplays,
// and its original timestamp. The streaming worker writes a row with its record's
// timestamp, so a replayed old version of a row loses to a newer one written
// meanwhile, as it would have had it not failed. A dead letter without the
// timestamp header is published with the time of the replay.
func (l Letter) Replay(dlqTopic string) kafka.Message {
	headers := append(l.Headers[:len(l.Headers):len(l.Headers)],
		kafka.Header{Key: HeaderReplayedFrom, Value: []byte(rows.Coordinates(dlqTopic, l.Partition, l.Offset))},
		kafka.Header{Key: HeaderReplays, Value: []byte(strconv.Itoa(l.Replays + 1))},
		kafka.Header{Key: rows.HeaderFirst, Value: []byte(l.First)})
	return kafka.Message{Topic: l.SourceTopic, Key: l.Key, Value: l.Value, Headers: headers, Time: l.SourceTime}
}

// IsReplayOf reports whether m, a record of l's source topic, is the replay of l,
// read from dead-letter topic dlqTopic: it names l's coordinates in
// HeaderReplayedFrom and carries l's key and value. Any producer of the source
// topic can write the header; one that forges it without the record's content does
// not make the dead letter count as replayed.
func (l Letter) IsReplayOf(dlqTopic string, m kafka.Message) bool {
	want := rows.Coordinates(dlqTopic, l.Partition, l.Offset)
	for _, h := range m.Headers {
		if h.Key == HeaderReplayedFrom && string(h.Value) == want {
			return bytes.Equal(m.Key, l.Key) && bytes.Equal(m.Value, l.Value)
		}
	}
	return false
}

// ReplayedSince is the instant from which the replays of l stand on its source
// topic in timestamp order: its source record's time (a replay's timestamp), or
// when it was dead-lettered when that is earlier or unknown (replays made before
// they kept the original timestamp).
func (l Letter) ReplayedSince() time.Time {
	if !l.SourceTime.IsZero() && l.SourceTime.Before(l.Time) {
		return l.SourceTime
	}
	return l.Time
}

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
