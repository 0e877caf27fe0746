package streaming

import (
	"encoding/json"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/record"
	"github.com/streampipe/streampipe/rows"
)

// RegisteredUsers is the dataset of registered_user_2: a JSON string
// "<name>$<address>$<year>" (record.RegisteredUser) keyed by a UUID, upserted into the
// seed's my_keyspace.user_details_5 keyed by that UUID. The seed wrote the raw JSON
// text, so its rows kept the quotes ("James Olson … 2002"); these rows hold the
// decoded string's fields.
type RegisteredUsers struct{}

var (
	_ rows.Mapping        = RegisteredUsers{}
	_ rows.MessageDecoder = RegisteredUsers{}
	_ rows.Tombstoner     = RegisteredUsers{}
)

// Tombstone deletes the row of a key: a record with a key and no value.
func (RegisteredUsers) Tombstone(key []byte) (rows.Row, error) {
	id, err := parseUUID(string(key))
	if err != nil {
		return rows.Row{}, err
	}
	return rows.Row{Values: []any{id, nil, nil, nil}}, nil
}

// Name returns "registered_users".
func (RegisteredUsers) Name() string { return "registered_users" }

// Columns returns the user_details_5 columns: the seed's name, address and date (the
// year), plus the id the seed's table lacked.
func (RegisteredUsers) Columns() []rows.Column {
	return []rows.Column{
		{Name: "id", Type: "uuid"},
		{Name: "name", Type: "text"},
		{Name: "address", Type: "text"},
		{Name: "date", Type: "text"},
	}
}

// PrimaryKey returns "id".
func (RegisteredUsers) PrimaryKey() string { return "id" }

// DecodeMessage takes the row's id from the key, a UUID, or, for a record with no
// key (the seed's producer sends none), derives it from the record's coordinates
// (rows.RecordID): each keyless record is one row, the same one on every redelivery.
func (d RegisteredUsers) DecodeMessage(m kafka.Message) (rows.Row, error) {
	if len(m.Key) == 0 {
		return d.row(rows.RecordID(m), m.Value)
	}
	return d.Decode(m.Key, m.Value)
}

// Decode takes the id from the key and the fields from the value, a JSON string of
// exactly three $-separated parts. The address keeps its newline. Without the
// record's coordinates, a record with no key has no id.
func (d RegisteredUsers) Decode(key, value []byte) (rows.Row, error) {
	if len(key) == 0 {
		return rows.Row{}, rows.Invalid(rows.ReasonMissingID, "no key, and no coordinates to derive an id from")
	}
	id, err := parseUUID(string(key))
	if err != nil {
		return rows.Row{}, err
	}
	return d.row(id, value)
}

func (RegisteredUsers) row(id [16]byte, value []byte) (rows.Row, error) {
	var s *string
	if err := json.Unmarshal(value, &s); err != nil {
		return rows.Row{}, jsonError(err, "a string")
	}
	if s == nil {
		return rows.Row{}, rows.Invalid(rows.ReasonWrongType, "the record is a JSON null, not a string")
	}
	u, err := record.ParseRegisteredUser(*s)
	if err != nil {
		return rows.Row{}, rows.Invalid(rows.ReasonMalformed, "%v", err)
	}
	return rows.Row{Values: []any{id, u.Name, u.Address, u.Year}}, nil
}
