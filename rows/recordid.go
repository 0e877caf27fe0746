package rows

import (
	"strconv"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
)

// recordIDSpace is the namespace of the ids RecordID derives.
var recordIDSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/streampipe/streampipe/record-id"))

// RecordID is the row id of a record that carries none (a producer that sends no
// key, as the seed's registered-users producer): a name-based (version 5) UUID of the
// record's first coordinates, topic/partition/offset. A redelivery, a restart or a
// second worker reads the same record at the same coordinates, and a dead-letter
// replay carries them in its HeaderFirst header, so the record becomes the same row
// every time, never a second one.
func RecordID(m kafka.Message) [16]byte {
	return [16]byte(uuid.NewSHA1(recordIDSpace, []byte(FirstCoordinates(m))))
}

// FirstCoordinates are where record m was first published: its HeaderFirst header
// if a replay gave it one, else its own topic/partition/offset.
func FirstCoordinates(m kafka.Message) string {
	for _, h := range m.Headers {
		if h.Key == HeaderFirst {
			return string(h.Value)
		}
	}
	return Coordinates(m.Topic, m.Partition, m.Offset)
}

// Coordinates name a record: <topic>/<partition>/<offset>, as HeaderFirst holds them
// and a replay's replayed_from names its dead letter.
func Coordinates(topic string, partition int, offset int64) string {
	return topic + "/" + strconv.Itoa(partition) + "/" + strconv.FormatInt(offset, 10)
}
