package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/streaming"
)

// Declared is the row mapping of a declared dataset (streaming.Dataset and
// streaming.MessageDecoder): each column's value taken from where the file says,
// converted to the column's type. A message that does not fit is an
// *streaming.InvalidError with the reasons the built-in datasets use; an optional
// field that is absent or null leaves its column unset, never a null tombstone.
type Declared struct {
	name string
	cols []declaredColumn
	key  string
	// writeTime is the value's field that is each row's write time; nil: the
	// record's Kafka timestamp.
	writeTime *declaredColumn
}

var (
	_ streaming.Dataset        = (*Declared)(nil)
	_ streaming.MessageDecoder = (*Declared)(nil)
	_ streaming.ValueTimed     = (*Declared)(nil)
	_ streaming.Tombstoner     = (*Declared)(nil)
)

// Tombstone deletes the row of a key (a record with a key and a null value) where
// the key names the row: the primary key is one column, from the key. For any other
// dataset a tombstone is dead-lettered as a null value.
func (d *Declared) Tombstone(key []byte) (streaming.Row, error) {
	var keys []int
	for i, c := range d.cols {
		if c.key {
			keys = append(keys, i)
		}
	}
	if len(keys) != 1 || d.cols[keys[0]].from != fromKey {
		return streaming.Row{}, bad(streaming.ReasonNotJSON, "a null value (a tombstone), and the rows are not named by the key alone")
	}
	c := d.cols[keys[0]]
	v, err := c.value(kafka.Message{Key: key}, nil)
	if err != nil {
		return streaming.Row{}, err
	}
	row := streaming.Row{Values: make([]any, len(d.cols))}
	row.Values[keys[0]] = v
	return row, nil
}

// WriteTimeFromValue reports whether the rows' write time is a field of the value.
func (d *Declared) WriteTimeFromValue() bool { return d.writeTime != nil }

// Name is the dataset's name.
func (d *Declared) Name() string { return d.name }

// Columns are the declared columns, the partition key first.
func (d *Declared) Columns() []streaming.Column {
	out := make([]streaming.Column, len(d.cols))
	for i, c := range d.cols {
		out[i] = streaming.Column{Name: c.name, Type: c.typ}
	}
	return out
}

// PrimaryKey is the declared primary key clause.
func (d *Declared) PrimaryKey() string { return d.key }

// Decode maps a message without its Kafka metadata: columns from kafka.* are
// unset. The streaming worker calls DecodeMessage.
func (d *Declared) Decode(key, value []byte) (streaming.Row, error) {
	return d.DecodeMessage(kafka.Message{Key: key, Value: value})
}

// DecodeMessage maps one message to a row. A write time taken from the value is
// looked at first, as the worker looks at a Kafka timestamp before decoding.
func (d *Declared) DecodeMessage(m kafka.Message) (streaming.Row, error) {
	var doc any
	needValue := d.writeTime != nil
	for _, c := range d.cols {
		needValue = needValue || c.from == "value"
	}
	if needValue {
		dec := json.NewDecoder(bytes.NewReader(m.Value))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return streaming.Row{}, bad(streaming.ReasonNotJSON, "%v", err)
		}
		if dec.More() {
			return streaming.Row{}, bad(streaming.ReasonNotJSON, "more than one JSON value")
		}
	}
	var row streaming.Row
	if d.writeTime != nil {
		at, err := d.writeTime.value(m, doc)
		if ie, ok := errors.AsType[*streaming.InvalidError](err); ok {
			// Whatever is wrong with the field, the row has no write time.
			ie.Reason, ie.Detail = streaming.ReasonBadTimestamp, "the write time: "+ie.Detail
		}
		if err != nil {
			return streaming.Row{}, err
		}
		row.WriteTime = at.(time.Time)
	}
	row.Values = make([]any, len(d.cols))
	for i, c := range d.cols {
		v, err := c.value(m, doc)
		if err != nil {
			return streaming.Row{}, err
		}
		row.Values[i] = v
	}
	return row, nil
}

// value is the column's value for message m whose value decoded to doc.
func (c declaredColumn) value(m kafka.Message, doc any) (any, error) {
	switch c.from {
	case "const":
		return c.constant, nil
	case fromTimestamp:
		if c.typ == "bigint" {
			return m.Time.UnixMilli(), nil
		}
		return m.Time, nil
	case fromPartition:
		if c.typ == "bigint" {
			return int64(m.Partition), nil
		}
		return int32(m.Partition), nil
	case fromOffset:
		return m.Offset, nil
	case fromRecordID:
		return streaming.RecordID(m), nil
	case fromKey:
		if len(m.Key) == 0 && c.orRecordID {
			return streaming.RecordID(m), nil
		}
		if len(m.Key) == 0 {
			return nil, c.missing("no key")
		}
		v, err := convertText(c.typ, string(m.Key))
		if err != nil {
			return nil, c.wrong("the key %q: %v", clipText(string(m.Key)), err)
		}
		return v, nil
	}
	v, err := lookupPath(doc, c.path)
	if err != nil {
		return nil, err
	}
	if v == nil { // absent or null
		if c.orRecordID {
			return streaming.RecordID(m), nil
		}
		if c.required {
			return nil, c.missing("no %s", c.field())
		}
		return gocql.UnsetValue, nil
	}
	return c.convert(v)
}

// lookupPath follows path through the objects of doc; nil when a part is absent.
func lookupPath(doc any, path []string) (any, error) {
	for i, part := range path {
		if doc == nil {
			return nil, nil
		}
		obj, ok := doc.(map[string]any)
		if !ok {
			where := "the record"
			if i > 0 {
				where = "field " + strings.Join(path[:i], ".")
			}
			return nil, bad(streaming.ReasonWrongType, "%s is a JSON %s, not an object", where, jsonKind(doc))
		}
		doc = obj[part]
	}
	return doc, nil
}

// convert converts a decoded JSON value (not nil) to the column's type.
func (c declaredColumn) convert(v any) (any, error) {
	switch c.typ {
	case "list<text>":
		arr, ok := v.([]any)
		if !ok {
			return nil, c.wrongType(v, "an array of strings")
		}
		out := make([]string, len(arr))
		for i, e := range arr {
			if e == nil { // a list holds no null
				return nil, bad(streaming.ReasonWrongType, "%s[%d] is a JSON null, want a string", c.field(), i)
			}
			out[i] = sparkText(e)
		}
		return out, nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, c.wrongType(v, "a boolean")
		}
		return b, nil
	case "int", "bigint", "double":
		n, ok := v.(json.Number)
		if !ok {
			return nil, c.wrongType(v, "a number")
		}
		out, err := convertText(c.typ, n.String())
		if err != nil {
			return nil, bad(streaming.ReasonInvalidValue, "%s is %s: %v", c.field(), clipText(n.String()), err)
		}
		return out, nil
	case "text":
		return sparkText(v), nil
	case "timestamp":
		if n, ok := v.(json.Number); ok { // Unix milliseconds
			ms, err := n.Int64()
			if err != nil {
				return nil, bad(streaming.ReasonInvalidValue, "%s is %s: want Unix milliseconds or an RFC 3339 time", c.field(), clipText(n.String()))
			}
			return time.UnixMilli(ms).UTC(), nil
		}
	}
	s, ok := v.(string)
	if !ok {
		return nil, c.wrongType(v, "a string")
	}
	out, err := convertText(c.typ, s)
	if err != nil {
		return nil, c.wrong("%s %q: %v", c.field(), clipText(s), err)
	}
	return out, nil
}

// sparkText is a decoded JSON value as a text column holds it, as Spark's from_json
// takes a StringType field: a string as its content, any other value as its JSON
// text (a number as written, an object with its members in name order).
func sparkText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v) // of what json decoded: it cannot fail
	return string(b)
}

// field names the column's source in messages: "field customer.name".
func (c declaredColumn) field() string {
	if len(c.path) == 0 {
		return "the value"
	}
	return "field " + strings.Join(c.path, ".")
}

// missing is the error of a required value that is absent.
func (c declaredColumn) missing(format string, args ...any) error {
	if c.key {
		return bad(streaming.ReasonMissingID, format, args...)
	}
	return bad(streaming.ReasonMalformed, format, args...)
}

// wrong is the error of a value that does not convert.
func (c declaredColumn) wrong(format string, args ...any) error {
	if c.key && c.typ == "uuid" {
		return bad(streaming.ReasonInvalidID, format, args...)
	}
	return bad(streaming.ReasonInvalidValue, format, args...)
}

func (c declaredColumn) wrongType(v any, want string) error {
	return bad(streaming.ReasonWrongType, "%s is a JSON %s, want %s", c.field(), jsonKind(v), want)
}

func bad(reason, format string, args ...any) error {
	return &streaming.InvalidError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// parseCanonicalUUID accepts only the 8-4-4-4-12 hex form, as the built-in datasets.
func parseCanonicalUUID(s string) (gocql.UUID, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return gocql.UUID{}, errors.New("not a UUID")
	}
	id, err := gocql.ParseUUID(s)
	if err != nil {
		return gocql.UUID{}, errors.New("not a UUID")
	}
	return id, nil
}

// clipText shortens s for an error message.
func clipText(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}
