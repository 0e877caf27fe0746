package rows

import (
	"errors"
	"fmt"
)

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

	// Set by the engine, never by a mapping:
	Stack     []byte // a panicking decoder's stack trace
	Truncated bool   // the dead letter holds only the value's beginning
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid record (%s): %s", e.Reason, e.Detail)
}

// Invalid returns an *InvalidError of reason, its detail formatted as fmt.Sprintf does.
func Invalid(reason, format string, args ...any) *InvalidError {
	return &InvalidError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// AsInvalid returns the *InvalidError in err's chain, or nil.
func AsInvalid(err error) *InvalidError {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie
	}
	return nil
}
