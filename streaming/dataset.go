// Package streaming is the streaming worker: it consumes a Kafka topic in a consumer
// group, forms micro-batches bounded by rows and wait time, writes the valid records to
// Cassandra as idempotent upserts, sends the invalid ones to a dead-letter topic, and
// commits offsets only once a batch is written.
//
// Everything that depends on what a record holds is a rows.Mapping: it decodes and validates
// one Kafka message and maps it to a row of its table. The batching, writing, commit,
// dead-letter and metrics code only ever sees Rows and Columns.
package streaming

import (
	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
)

// writeTimeFromValue reports whether ds's rows carry their own write times.
func writeTimeFromValue(ds rows.Mapping) bool {
	vt, ok := ds.(rows.ValueTimed)
	return ok && vt.WriteTimeFromValue()
}

// decodeMessage decodes m with ds: through DecodeMessage if ds has it.
func decodeMessage(ds rows.Mapping, m kafka.Message) (rows.Row, error) {
	if md, ok := ds.(rows.MessageDecoder); ok {
		return md.DecodeMessage(m)
	}
	return ds.Decode(m.Key, m.Value)
}
