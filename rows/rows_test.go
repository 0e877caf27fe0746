package rows

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AsInvalid finds an *InvalidError through wrapping, and only one.
func TestAsInvalid(t *testing.T) {
	ie := Invalid(ReasonInvalidID, "id %q is not a UUID", "x")
	assert.Equal(t, `invalid record (invalid_id): id "x" is not a UUID`, ie.Error())
	assert.Same(t, ie, AsInvalid(fmt.Errorf("decoding: %w", ie)))
	assert.Nil(t, AsInvalid(fmt.Errorf("decoding: %v", ie)))
	assert.Nil(t, AsInvalid(nil))
}

// A record's derived id is its first coordinates': its own, or those a replay kept
// in HeaderFirst, so that a replayed record becomes the same row.
func TestRecordID(t *testing.T) {
	m := kafka.Message{Topic: "a", Partition: 2, Offset: 5}
	require.Equal(t, "a/2/5", FirstCoordinates(m))
	replayed := kafka.Message{Topic: "a", Partition: 0, Offset: 90,
		Headers: []kafka.Header{{Key: "x", Value: []byte("y")}, {Key: HeaderFirst, Value: []byte("a/2/5")}}}
	assert.Equal(t, "a/2/5", FirstCoordinates(replayed))
	assert.Equal(t, RecordID(m), RecordID(replayed))
	assert.NotEqual(t, RecordID(m), RecordID(kafka.Message{Topic: "a", Partition: 2, Offset: 6}))
	assert.Equal(t, uuid.Version(5), uuid.UUID(RecordID(m)).Version())
}

func TestDeadLetterTopic(t *testing.T) {
	assert.Equal(t, "users_created.dlq", DeadLetterTopic("users_created"))
	assert.NoError(t, CheckTopic(DeadLetterTopic("users_created")))
}
