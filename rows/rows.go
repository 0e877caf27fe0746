// Package rows is the contract between the datasets and the streaming engine: what a
// dataset's row mapping is (Mapping and its optional parts), the Row and Columns it
// produces, why a record can never become a row (InvalidError and its reasons), the
// headers of a dead letter, and the id of a record that carries none. Both sides
// import it; it imports neither, and no Cassandra driver: a uuid column's value is a
// [16]byte, a column left as it is the Unset value.
package rows

import (
	"time"

	"github.com/segmentio/kafka-go"
)

// Mapping is the record-specific part of a pipeline: the table its rows go to and the
// decoding of one message into one row. Implementations must be safe for concurrent use
// and must never panic on any input.
type Mapping interface {
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

// MessageDecoder is a Mapping whose rows may also take a message's Kafka metadata
// (timestamp, partition, offset): the worker calls DecodeMessage instead of Decode.
type MessageDecoder interface {
	DecodeMessage(m kafka.Message) (Row, error)
}

// Tombstoner is a Mapping whose rows are named by their records' Kafka keys: a
// record with a key and a null value (a Kafka tombstone, the standard "delete this
// key") deletes the row of that key, at the record's write time, so that an old
// tombstone never deletes a newer row. Tombstone returns the row to delete: its
// primary key set, at the places of Columns.
type Tombstoner interface {
	Tombstone(key []byte) (Row, error)
}

// ValueTimed is a Mapping that may take its rows' write times from the records'
// values instead of their Kafka timestamps. When WriteTimeFromValue is true, each
// Row it decodes carries its WriteTime, which the worker checks as it would a Kafka
// timestamp (reason bad_timestamp), and the Kafka timestamp plays no part in the row.
type ValueTimed interface {
	WriteTimeFromValue() bool
}

// Column is a table column: its name and CQL type.
type Column struct {
	Name string
	Type string
}

// Row is one decoded record: its values, bound in the order of Mapping.Columns, and
// its write time (USING TIMESTAMP). A uuid or timeuuid column's value is a [16]byte.
type Row struct {
	Values []any
	// WriteTime is set by a ValueTimed mapping's decoder; the worker sets it to the
	// record's Kafka timestamp for every other mapping.
	WriteTime time.Time
	// Delete: the row is deleted (a tombstone), not written; only its primary key
	// columns are set.
	Delete bool
}

// unset is the type of Unset.
type unset struct{}

// Unset is the value of a column the row leaves as it is: the writer binds it as
// Cassandra's "unset", which neither writes nor deletes the column.
var Unset any = unset{}
