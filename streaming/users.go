package streaming

import (
	"encoding/json"
	"errors"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/streampipe/streampipe/record"
)

// Users is the dataset of users_created: a record.User as JSON, upserted into
// spark_streaming.created_users keyed by its id.
type Users struct{}

var _ Dataset = Users{}

// Name returns "users".
func (Users) Name() string { return "users" }

// Columns returns the created_users columns: the seed's table plus dob.
func (Users) Columns() []Column {
	return []Column{
		{"id", "uuid"},
		{"first_name", "text"},
		{"last_name", "text"},
		{"gender", "text"},
		{"address", "text"},
		{"post_code", "text"},
		{"email", "text"},
		{"username", "text"},
		{"dob", "text"},
		{"registered_date", "text"},
		{"phone", "text"},
		{"picture", "text"},
	}
}

// PrimaryKey returns "id".
func (Users) PrimaryKey() string { return "id" }

// Decode parses a record.User and checks its id. Every other field is free text; a
// field that is absent or null is written as an empty string, as the producer never
// sends one.
func (Users) Decode(_, value []byte) (Row, error) {
	var u record.User
	if !flatStrings(value, userNames, userFields(&u)) {
		u = record.User{}
		if err := json.Unmarshal(value, &u); err != nil {
			return Row{}, jsonError(err, "an object")
		}
	}
	if u.ID == "" {
		return Row{}, invalid(ReasonMissingID, "no id")
	}
	id, err := parseUUID(u.ID)
	if err != nil {
		return Row{}, err
	}
	return Row{Values: []any{
		id, u.FirstName, u.LastName, u.Gender, u.Address, u.PostCode, u.Email,
		u.Username, u.DOB, u.RegisteredDate, u.Phone, u.Picture,
	}}, nil
}

// userNames are the JSON names of the fields of a record.User, in the order of
// userFields.
var userNames = []string{"id", "first_name", "last_name", "gender", "address", "post_code", "email",
	"username", "dob", "registered_date", "phone", "picture", "source"}

// userFields are the fields of u, in the order of userNames.
func userFields(u *record.User) []*string {
	return []*string{&u.ID, &u.FirstName, &u.LastName, &u.Gender, &u.Address, &u.PostCode, &u.Email,
		&u.Username, &u.DOB, &u.RegisteredDate, &u.Phone, &u.Picture, &u.Source}
}

// jsonError classifies an encoding/json error: a value of the wrong type (including a
// record that is not what the dataset wants, e.g. "an object") or anything else,
// which is not JSON.
func jsonError(err error, want string) *InvalidError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return invalid(ReasonWrongType, "the record is a JSON %s, not %s", te.Value, want)
		}
		return invalid(ReasonWrongType, "field %q is a JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return invalid(ReasonNotJSON, "%v", err)
}

// parseUUID accepts only the canonical 8-4-4-4-12 hex form; gocql.ParseUUID alone
// would also take dashes in other places.
func parseUUID(s string) (gocql.UUID, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return gocql.UUID{}, invalid(ReasonInvalidID, "id %q is not a UUID", clip(s))
	}
	id, err := gocql.ParseUUID(s)
	if err != nil {
		return gocql.UUID{}, invalid(ReasonInvalidID, "id %q is not a UUID", clip(s))
	}
	return id, nil
}

// clip shortens s for an error message: an id field may hold anything.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
