package rows

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// DeadLetterSuffix ends the name of a topic's default dead-letter topic.
const DeadLetterSuffix = ".dlq"

// DeadLetterTopic is the default dead-letter topic of topic: topic + ".dlq".
func DeadLetterTopic(topic string) string { return topic + DeadLetterSuffix }

// HeaderPrefix begins the name of every header a dead letter gains (and a replay
// adds): what is not the record's own.
const HeaderPrefix = "dlq."

// Headers a dead-lettered message carries besides its original ones.
const (
	HeaderReason    = "dlq.reason"    // a Reason constant
	HeaderError     = "dlq.error"     // what exactly is wrong
	HeaderTopic     = "dlq.topic"     // source topic
	HeaderPartition = "dlq.partition" // source partition, decimal
	HeaderOffset    = "dlq.offset"    // source offset, decimal
	HeaderTimestamp = "dlq.timestamp" // source record time, Unix milliseconds
	HeaderStack     = "dlq.stack"     // reason panic: the decoder's stack trace, at most 4 KiB
	HeaderTruncated = "dlq.truncated" // "true": the value (and maybe the key) is cut (reason too_large)
	// HeaderFirst is where a replayed record was first published,
	// topic/partition/offset: a replay sets it, and keeps it through later replays, so
	// that the record keeps its RecordID.
	HeaderFirst = "dlq.first"
)

// DeadLetter is the dead letter of record m, invalid for the reason ie: its key, value and headers, plus headers
// saying why and where it came from.
func DeadLetter(m kafka.Message, ie *InvalidError) kafka.Message {
	headers := append(m.Headers[:len(m.Headers):len(m.Headers)],
		kafka.Header{Key: HeaderReason, Value: []byte(ie.Reason)},
		kafka.Header{Key: HeaderError, Value: []byte(ie.Detail)},
		kafka.Header{Key: HeaderTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		kafka.Header{Key: HeaderOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
		kafka.Header{Key: HeaderTimestamp, Value: strconv.AppendInt(nil, m.Time.UnixMilli(), 10)},
	)
	if len(ie.Stack) > 0 {
		headers = append(headers, kafka.Header{Key: HeaderStack, Value: ie.Stack})
	}
	if ie.Truncated {
		headers = append(headers, kafka.Header{Key: HeaderTruncated, Value: []byte("true")})
	}
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: headers}
}

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

// ParseLetter reads a dead letter's headers. Headers it does not know are the source
// record's; a dlq.* header that cannot be read leaves its field zero.
func ParseLetter(m kafka.Message) Letter {
	l := Letter{Partition: m.Partition, Offset: m.Offset, Time: m.Time, Key: m.Key, Value: m.Value, SourcePartition: -1, SourceOffset: -1}
	for _, h := range m.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderReason:
			l.Reason = v
		case HeaderTopic:
			l.SourceTopic = v
		case HeaderPartition:
			if n, err := strconv.Atoi(v); err == nil {
				l.SourcePartition = n
			}
		case HeaderOffset:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				l.SourceOffset = n
			}
		case HeaderTimestamp:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				l.SourceTime = time.UnixMilli(n).UTC()
			}
		case HeaderTruncated:
			l.Truncated = v == "true"
		case HeaderReplays:
			l.Replays, _ = strconv.Atoi(v)
		case HeaderFirst:
			l.First = v
		default:
			if !strings.HasPrefix(h.Key, HeaderPrefix) {
				l.Headers = append(l.Headers, h)
			}
		}
	}
	if l.First == "" && l.SourceTopic != "" {
		l.First = Coordinates(l.SourceTopic, l.SourcePartition, l.SourceOffset)
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
		kafka.Header{Key: HeaderReplayedFrom, Value: []byte(Coordinates(dlqTopic, l.Partition, l.Offset))},
		kafka.Header{Key: HeaderReplays, Value: []byte(strconv.Itoa(l.Replays + 1))},
		kafka.Header{Key: HeaderFirst, Value: []byte(l.First)})
	return kafka.Message{Topic: l.SourceTopic, Key: l.Key, Value: l.Value, Headers: headers, Time: l.SourceTime}
}

// IsReplayOf reports whether m, a record of l's source topic, is the replay of l,
// read from dead-letter topic dlqTopic: it names l's coordinates in
// HeaderReplayedFrom and carries l's key and value. Any producer of the source
// topic can write the header; one that forges it without the record's content does
// not make the dead letter count as replayed.
func (l Letter) IsReplayOf(dlqTopic string, m kafka.Message) bool {
	want := Coordinates(dlqTopic, l.Partition, l.Offset)
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
