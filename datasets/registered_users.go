package datasets

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v6"
	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
)

// NameRegisteredUsers names the registered_users dataset.
const NameRegisteredUsers = "registered_users"

// RegisteredUsers are the seed's faker producer: "<name>$<address>$<year>"
// (RegisteredUser) keyed by its id, one a second, to my_keyspace.user_details_5
// (registeredUserRows).
var RegisteredUsers = register(Dataset{
	Name:     NameRegisteredUsers,
	Topic:    "registered_user_2",
	Keyspace: "my_keyspace",
	Table:    "user_details_5",
	Rows:     registeredUserRows{},
	Interval: time.Second,
	PerTick:  1,
	Generate: registeredUsers,
})

// registeredUsers is the generator of registered_users.
func registeredUsers(_ context.Context, _ Sources, t Tick, ids []string) ([]any, string, error) {
	return faked(t, ids, fakeRegisteredUser), SourceFaker, nil
}

// fakeRegisteredUser is the seed's registered-user producer: a name, a two-line
// address and a year, joined by "$". Its value encodes as a JSON string.
func fakeRegisteredUser(f *gofakeit.Faker, _ string) any {
	return RegisteredUser{
		Name:    f.Name(),
		Address: fakeAddress(f),
		Year:    strconv.Itoa(f.Number(1970, 2024)),
	}.String()
}

// fakeAddress is a postal address on two lines, like Python faker's:
// "983 Alvarado Vista\nPort Matthew, MA 57760".
func fakeAddress(f *gofakeit.Faker) string {
	return f.Street() + "\n" + f.City() + ", " + f.StateAbr() + " " + f.Zip()
}

// registeredUserRows is the row mapping of registered_user_2: a JSON string
// "<name>$<address>$<year>" (RegisteredUser) keyed by a UUID, upserted into the
// seed's my_keyspace.user_details_5 keyed by that UUID. The seed wrote the raw JSON
// text, so its rows kept the quotes ("James Olson … 2002"); these rows hold the
// decoded string's fields.
type registeredUserRows struct{}

var (
	_ rows.Mapping        = registeredUserRows{}
	_ rows.MessageDecoder = registeredUserRows{}
	_ rows.Tombstoner     = registeredUserRows{}
)

// Tombstone deletes the row of a key: a record with a key and no value.
func (registeredUserRows) Tombstone(key []byte) (rows.Row, error) {
	id, err := parseUUID(string(key))
	if err != nil {
		return rows.Row{}, err
	}
	return rows.Row{Values: []any{id, nil, nil, nil}}, nil
}

// Name returns NameRegisteredUsers.
func (registeredUserRows) Name() string { return NameRegisteredUsers }

// Columns returns the user_details_5 columns: the seed's name, address and date (the
// year), plus the id the seed's table lacked.
func (registeredUserRows) Columns() []rows.Column {
	return []rows.Column{
		{Name: "id", Type: "uuid"},
		{Name: "name", Type: "text"},
		{Name: "address", Type: "text"},
		{Name: "date", Type: "text"},
	}
}

// PrimaryKey returns "id".
func (registeredUserRows) PrimaryKey() string { return "id" }

// DecodeMessage takes the row's id from the key, a UUID, or, for a record with no
// key (the seed's producer sends none), derives it from the record's coordinates
// (rows.RecordID): each keyless record is one row, the same one on every redelivery.
func (d registeredUserRows) DecodeMessage(m kafka.Message) (rows.Row, error) {
	if len(m.Key) == 0 {
		return d.row(rows.RecordID(m), m.Value)
	}
	return d.Decode(m.Key, m.Value)
}

// Decode takes the id from the key and the fields from the value, a JSON string of
// exactly three $-separated parts. The address keeps its newline. Without the
// record's coordinates, a record with no key has no id.
func (d registeredUserRows) Decode(key, value []byte) (rows.Row, error) {
	if len(key) == 0 {
		return rows.Row{}, rows.Invalid(rows.ReasonMissingID, "no key, and no coordinates to derive an id from")
	}
	id, err := parseUUID(string(key))
	if err != nil {
		return rows.Row{}, err
	}
	return d.row(id, value)
}

func (registeredUserRows) row(id [16]byte, value []byte) (rows.Row, error) {
	var s *string
	if err := json.Unmarshal(value, &s); err != nil {
		return rows.Row{}, jsonError(err, "a string")
	}
	if s == nil {
		return rows.Row{}, rows.Invalid(rows.ReasonWrongType, "the record is a JSON null, not a string")
	}
	u, err := ParseRegisteredUser(*s)
	if err != nil {
		return rows.Row{}, rows.Invalid(rows.ReasonMalformed, "%v", err)
	}
	return rows.Row{Values: []any{id, u.Name, u.Address, u.Year}}, nil
}

// RegisteredUser is a registered_user_2 message: the seed's faker producer sent a JSON
// string "<name>$<address>$<year>", and so does streampipe. The message has no id of
// its own; the Kafka key (a UUID) is the row's id.
type RegisteredUser struct {
	Name    string
	Address string // may span lines, as faker's addresses do
	Year    string // the registration year, e.g. "2002": the table's date column
}

// registeredUserSep separates the fields of a RegisteredUser.
const registeredUserSep = "$"

// String is the message's text, before JSON encoding: "<name>$<address>$<year>".
func (u RegisteredUser) String() string {
	return u.Name + registeredUserSep + u.Address + registeredUserSep + u.Year
}

// ParseRegisteredUser splits s, the decoded JSON string of a message, into its three
// fields. Anything but exactly three fields is an error.
func ParseRegisteredUser(s string) (RegisteredUser, error) {
	parts := strings.Split(s, registeredUserSep)
	if len(parts) != 3 {
		return RegisteredUser{}, fmt.Errorf("want name$address$year, got %d $-separated parts", len(parts))
	}
	return RegisteredUser{Name: parts[0], Address: parts[1], Year: parts[2]}, nil
}
