package rows

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
)

func TestDeadLetterKeepsTheOriginal(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	orig := []kafka.Header{{Key: "trace", Value: []byte("t1")}}
	m := kafka.Message{Topic: "users_created", Partition: 3, Offset: 42, Key: []byte("k"),
		Value: []byte("{oops"), Headers: orig, Time: at}
	dl := DeadLetter(m, &InvalidError{Reason: ReasonNotJSON, Detail: "bad"})
	assert.Equal(t, m.Key, dl.Key)
	assert.Equal(t, m.Value, dl.Value)
	got := map[string]string{}
	for _, h := range dl.Headers {
		got[h.Key] = string(h.Value)
	}
	assert.Equal(t, map[string]string{
		"trace": "t1", HeaderReason: ReasonNotJSON, HeaderError: "bad", HeaderTopic: "users_created",
		HeaderPartition: "3", HeaderOffset: "42", HeaderTimestamp: "1700000000123",
	}, got)
	assert.Len(t, orig, 1, "the source message's headers were changed")
}

// ParseLetter reads back what DeadLetter writes, keeps the source record's own
// headers apart, and a replay carries the record back with its first coordinates.
func TestParseKeepsTheSourceHeadersAndReadsTheDLQOnes(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000).UTC()
	src := kafka.Message{Topic: "orders", Partition: 2, Offset: 41, Key: []byte("k2-41"), Value: []byte(`{"id":1}`),
		Time: at.Add(-time.Second), Headers: []kafka.Header{{Key: "trace", Value: []byte("abc")},
			{Key: HeaderReplays, Value: []byte("2")}, {Key: HeaderReplayedFrom, Value: []byte("orders.dlq/0/7")}}}
	m := DeadLetter(src, Invalid("invalid_json", "what is wrong"))
	m.Partition, m.Offset, m.Time = 1, 9, at // where the dead-letter topic holds it
	l := ParseLetter(m)
	assert.Equal(t, "invalid_json", l.Reason)
	assert.Equal(t, "orders", l.SourceTopic)
	assert.Equal(t, 2, l.SourcePartition)
	assert.Equal(t, int64(41), l.SourceOffset)
	assert.Equal(t, at.Add(-time.Second), l.SourceTime)
	assert.Equal(t, 2, l.Replays)
	assert.Equal(t, []kafka.Header{{Key: "trace", Value: []byte("abc")}}, l.Headers)

	r := l.Replay("orders.dlq")
	assert.Equal(t, "orders", r.Topic)
	assert.Equal(t, m.Key, r.Key)
	assert.Equal(t, m.Value, r.Value)
	assert.Equal(t, []kafka.Header{{Key: "trace", Value: []byte("abc")}, {Key: HeaderReplayedFrom, Value: []byte("orders.dlq/1/9")},
		{Key: HeaderReplays, Value: []byte("3")}, {Key: HeaderFirst, Value: []byte("orders/2/41")}}, r.Headers)
	assert.Equal(t, l.SourceTime, r.Time, "the replay keeps the source record's timestamp")
	assert.Equal(t, l.SourceTime, l.ReplayedSince())

	assert.True(t, l.IsReplayOf("orders.dlq", r))
	forged := r
	forged.Value = []byte(`{"id":2}`)
	assert.False(t, l.IsReplayOf("orders.dlq", forged), "the header without the record's content")
	assert.False(t, l.IsReplayOf("other.dlq", r), "the coordinates of another topic's letter")
	l.SourceTime = time.Time{}
	assert.Equal(t, at, l.ReplayedSince(), "no source time: when it was dead-lettered")

	// A replayed record that fails again keeps its first coordinates through the next
	// replay, and with them its derived row id.
	m.Headers = append(m.Headers, kafka.Header{Key: HeaderFirst, Value: []byte("orders/0/3")})
	again := ParseLetter(m)
	assert.Equal(t, "orders/0/3", again.First)
	assert.Equal(t, kafka.Header{Key: HeaderFirst, Value: []byte("orders/0/3")}, again.Replay("orders.dlq").Headers[3])
}
