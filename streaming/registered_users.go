package streaming

import (
	"encoding/json"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/record"
)

// RegisteredUsers is the dataset of registered_user_2: a JSON string
// "<name>$<address>$<year>" (record.RegisteredUser) keyed by a UUID, upserted into the
// seed's my_keyspace.user_details_5 keyed by that UUID. The seed wrote the raw JSON
// text, so its rows kept the quotes ("James Olson … 2002"); these rows hold the
// decoded string's fields.
type RegisteredUsers struct{}

var (
	_ Dataset        = RegisteredUsers{}
	_ MessageDecoder = RegisteredUsers{}
	_ Tombstoner     = RegisteredUsers{}
)

// Tombstone deletes the row of a key: a record with a key and no value.
func (RegisteredUsers) Tombstone(key []byte) (Row, error) {
	id, err := parseUUID(string(key))
	if err != nil {
		return Row{}, err
	}
	return Row{Values: []any{id, nil, nil, nil}}, nil
}

// Name returns "registered_users".
func (RegisteredUsers) Name() string { return "registered_users" }

// Columns returns the user_details_5 columns: the seed's name, address and date (the
// year), plus the id the seed's table lacked.
func (RegisteredUsers) Columns() []Column {
	return []Column{
		{"id", "uuid"},
		{"name", "text"},
		{"address", "text"},
		{"date", "text"},
	}
}

// PrimaryKey returns "id".
func (RegisteredUsers) PrimaryKey() string { return "id" }

// DecodeMessage takes the row's id from the key, a UUID, or, for a record with no
// key (the seed's producer sends none), derives it from the record's coordinates
// (RecordID): each keyless record is one row, the same one on every redelivery.
func (d RegisteredUsers) DecodeMessage(m kafka.Message) (Row, error) {
	if len(m.Key) == 0 {
		return d.row(RecordID(m), m.Value)
	}
	return d.Decode(m.Key, m.Value)
}

// Decode takes the id from the key and the fields from the value, a JSON string of
// exactly three $-separated parts. The address keeps its newline. Without the
// record's coordinates, a record with no key has no id.
func (d RegisteredUsers) Decode(key, value []byte) (Row, error) {
	if len(key) == 0 {
		return Row{}, invalid(ReasonMissingID, "no key, and no coordinates to derive an id from")
	}
	id, err := parseUUID(string(key))
	if err != nil {
		return Row{}, err
	}
	return d.row(id, value)
}

func (RegisteredUsers) row(id gocql.UUID, value []byte) (Row, error) {
	var s *string
	if err := json.Unmarshal(value, &s); err != nil {
		return Row{}, jsonError(err, "a string")
	}
	if s == nil {
		return Row{}, invalid(ReasonWrongType, "the record is a JSON null, not a string")
	}
	u, err := record.ParseRegisteredUser(*s)
	if err != nil {
		return Row{}, invalid(ReasonMalformed, "%v", err)
	}
	return Row{Values: []any{id, u.Name, u.Address, u.Year}}, nil
}
