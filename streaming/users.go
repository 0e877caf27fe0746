package streaming

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"

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

// Decode parses a record.User and checks its id. Every other field is text, taken
// as Spark's from_json takes a StringType field: a JSON string is its content, any
// other JSON value (a number, a boolean, an object, an array) its JSON text, so the
// post code 15836 that randomuser.me sends for many countries is stored as "15836".
// A field that is absent or null is written as an empty string.
func (Users) Decode(_, value []byte) (Row, error) {
	var u record.User
	if !flatStrings(value, userNames, userFields(&u)) {
		u = record.User{}
		if err := lenientStrings(value, userNames, userFields(&u)); err != nil {
			return Row{}, err
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

// lenientStrings decodes a JSON object into text fields: it sets *fields[i] to the
// member named names[i] (or, as encoding/json does, a member whose name differs only
// in case), a string as its content and any other value but null as its compact
// JSON text. The first field, the row's id, must be a string: an id that is a
// number can be no UUID.
func lenientStrings(value []byte, names []string, fields []*string) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(value, &members); err != nil {
		return jsonError(err, "an object")
	}
	exact := make([]bool, len(names))
	for name, raw := range members {
		i := slices.Index(names, name)
		if i < 0 {
			i = slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
			if i < 0 || exact[i] {
				continue
			}
		} else {
			exact[i] = true
		}
		text, isString, err := jsonText(raw)
		switch {
		case err != nil:
			return invalid(ReasonNotJSON, "field %q: %v", name, err)
		case i == 0 && !isString && text != "":
			return invalid(ReasonWrongType, "field %q is a JSON %s, want a string", name, rawKind(raw))
		}
		*fields[i] = text
	}
	return nil
}

// jsonText is a JSON value as a text column holds it: a string's content, "" for
// null, and the compact JSON text of anything else.
func jsonText(raw json.RawMessage) (text string, isString bool, err error) {
	switch raw[0] {
	case '"':
		err = json.Unmarshal(raw, &text)
		return text, true, err
	case 'n':
		return "", false, nil
	}
	var b bytes.Buffer
	err = json.Compact(&b, raw)
	return b.String(), false, err
}

// rawKind names the kind of a JSON value, for messages.
func rawKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "string"
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "number"
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
