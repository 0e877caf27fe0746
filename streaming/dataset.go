// Package streaming is the streaming worker: it consumes a Kafka topic in a consumer
// group, forms micro-batches bounded by rows and wait time, writes the valid records to
// Cassandra as idempotent upserts, sends the invalid ones to a dead-letter topic, and
// commits offsets only once a batch is written.
//
// Everything that depends on what a record holds is a Dataset: it decodes and validates
// one Kafka message and maps it to a row of its table. The batching, writing, commit,
// dead-letter and metrics code only ever sees Rows and Columns.
package streaming

import (
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Dataset is the record-specific part of a pipeline: the table its rows go to and the
// decoding of one message into one row. Implementations must be safe for concurrent use
// and must never panic on any input.
type Dataset interface {
	// Name identifies the dataset in logs and metrics, e.g. "users".
	Name() string
	// Columns lists the table's columns, the partition key first. Schema creation adds
	// any of them a table lacks; Row.Values follow the same order.
	Columns() []Column
	// PrimaryKey is the CQL primary key clause, e.g. "id" or "(account), created_at".
	PrimaryKey() string
	// Decode validates one message value and maps it to a row. It returns an
	// *InvalidError when the message can never become a row.
	Decode(key, value []byte) (Row, error)
}

// MessageDecoder is a Dataset whose rows may also take a message's Kafka metadata
// (timestamp, partition, offset): the worker calls DecodeMessage instead of Decode.
type MessageDecoder interface {
	DecodeMessage(m kafka.Message) (Row, error)
}

// Tombstoner is a Dataset whose rows are named by their records' Kafka keys: a
// record with a key and a null value (a Kafka tombstone, the standard "delete this
// key") deletes the row of that key, at the record's write time, so that an old
// tombstone never deletes a newer row. Tombstone returns the row to delete: its
// primary key set, at the places of Columns.
type Tombstoner interface {
	Tombstone(key []byte) (Row, error)
}

// ValueTimed is a Dataset that may take its rows' write times from the records'
// values instead of their Kafka timestamps. When WriteTimeFromValue is true, each
// Row it decodes carries its WriteTime, which the worker checks as it would a Kafka
// timestamp (reason bad_timestamp), and the Kafka timestamp plays no part in the row.
type ValueTimed interface {
	WriteTimeFromValue() bool
}

// writeTimeFromValue reports whether ds's rows carry their own write times.
func writeTimeFromValue(ds Dataset) bool {
	vt, ok := ds.(ValueTimed)
	return ok && vt.WriteTimeFromValue()
}

// decodeMessage decodes m with ds: through DecodeMessage if ds has it.
func decodeMessage(ds Dataset, m kafka.Message) (Row, error) {
	if md, ok := ds.(MessageDecoder); ok {
		return md.DecodeMessage(m)
	}
	return ds.Decode(m.Key, m.Value)
}

// Column is a table column: its name and CQL type.
type Column struct {
	Name string
	Type string
}

// Row is one decoded record: its values, bound in the order of Dataset.Columns, and
// its write time (USING TIMESTAMP).
type Row struct {
	Values []any
	// WriteTime is set by a ValueTimed dataset's decoder; the worker sets it to the
	// record's Kafka timestamp for every other dataset.
	WriteTime time.Time
	// Delete: the row is deleted (a tombstone), not written; only its primary key
	// columns are set.
	Delete bool
}

// Reasons a message goes to the dead-letter topic. They are the values of the
// dlq.reason header and of the reason label of the DLQ metric.
const (
	ReasonTooLarge  = "too_large"
	ReasonNotJSON   = "not_json"
	ReasonWrongType = "wrong_type"
	ReasonMissingID = "missing_id"
	ReasonInvalidID = "invalid_id"
	// ReasonMalformed: the value decodes but its structure is not the record's, e.g.
	// a registered user without exactly three $-separated fields.
	ReasonMalformed = "malformed"
	// ReasonInvalidValue: a field has the right type but an impossible value, e.g. a
	// date that does not parse or a negative quantity.
	ReasonInvalidValue = "invalid_value"
	// ReasonPanic: the dataset's decoder panicked on the message (a bug in it); the
	// dlq.stack header holds the stack trace.
	ReasonPanic = "panic"
	// ReasonBadTimestamp: the record has no timestamp, or one before 2000 or more than
	// a day in the future: it cannot be its row's write time.
	ReasonBadTimestamp = "bad_timestamp"
	// ReasonRejected: Cassandra refused the row as invalid while it takes the others.
	ReasonRejected = "rejected"
	// ReasonUndecodable: a record batch could not be read within the worker's memory
	// bounds (a zstd window or snappy chunk over 8 MiB, corrupt data, an unknown codec):
	// one dead letter, with no key or value, names the offsets it held.
	ReasonUndecodable = "undecodable"
)

// InvalidError says why a message can never become a row.
type InvalidError struct {
	Reason string // one of the Reason constants
	Detail string // what exactly is wrong, for people

	stack     []byte // a panicking decoder's stack trace
	truncated bool   // the dead letter holds only the value's beginning
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid record (%s): %s", e.Reason, e.Detail)
}

func invalid(reason, format string, args ...any) *InvalidError {
	return &InvalidError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// asInvalid returns the *InvalidError in err's chain, or nil.
func asInvalid(err error) *InvalidError {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie
	}
	return nil
}
