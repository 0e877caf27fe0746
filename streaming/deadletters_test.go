package streaming

import (
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
)

// A partition's commit never passes a record whose dead letter is not written; the
// other partitions' commits go on.
func TestOffsetsHoldOnlyPartitionsWithDeadLetters(t *testing.T) {
	at := func(p int, off int64) kafka.Message { return kafka.Message{Topic: "t", Partition: p, Offset: off} }
	o := newOffsets()

	// Batch 1: partition 0 has a dead letter at 5, partition 1 none.
	got := o.done([]kafka.Message{at(0, 9), at(1, 20)}, []kafka.Message{at(0, 5)})
	assert.ElementsMatch(t, []kafka.Message{at(0, 4), at(1, 20)}, got, "after batch 1")

	// Batch 2, while that dead letter waits: partition 1 goes on, 0 stays; a second
	// dead letter of 0 at 12.
	got = o.done([]kafka.Message{at(0, 15), at(1, 30)}, []kafka.Message{at(0, 12)})
	assert.ElementsMatch(t, []kafka.Message{at(0, 4), at(1, 30)}, got, "after batch 2")

	// The first dead letter written: partition 0 up to the second one.
	assert.Equal(t, []kafka.Message{at(0, 11)}, o.written([]kafka.Message{at(0, 5)}))
	// The second one too: partition 0 up to its last record done.
	assert.Equal(t, []kafka.Message{at(0, 15)}, o.written([]kafka.Message{at(0, 12)}))

	// A dead letter at a partition's first offset: commit offset 0 (the record at -1).
	got = o.done([]kafka.Message{at(2, 3)}, []kafka.Message{at(2, 0)})
	assert.Equal(t, []kafka.Message{at(2, -1)}, got)
}

// A position keeps what a commit needs and nothing of the record's bytes.
func TestPosition(t *testing.T) {
	m := kafka.Message{Topic: "t", Partition: 1, Offset: 7, HighWaterMark: 9, Key: []byte("k"), Value: []byte("v"),
		Headers: []kafka.Header{{Key: "h"}}}
	assert.Equal(t, kafka.Message{Topic: "t", Partition: 1, Offset: 7, HighWaterMark: 9}, position(m))
}
