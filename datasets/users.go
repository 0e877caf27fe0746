package datasets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/streampipe/streampipe/rows"
)

// NameUsers names the users dataset.
const NameUsers = "users"

// Users are randomuser.me users in the seed's format_data shape (User), one a
// second, to spark_streaming.created_users (userRows).
var Users = register(Dataset{
	Name:     NameUsers,
	Topic:    "users_created",
	Keyspace: "spark_streaming",
	Table:    "created_users",
	Rows:     userRows{},
	Interval: time.Second,
	PerTick:  1,
	Generate: randomUsers,
})

// randomUsers is the generator of users: the producer fetches them (Sources).
func randomUsers(ctx context.Context, src Sources, t Tick, ids []string) ([]any, string, error) {
	return src.RandomUsers(ctx, t, ids)
}

// userRows is the row mapping of users_created: a User as JSON, upserted into
// spark_streaming.created_users keyed by its id.
type userRows struct{}

var _ rows.Mapping = userRows{}

// Name returns NameUsers.
func (userRows) Name() string { return NameUsers }

// Columns returns the created_users columns: the seed's table plus dob.
func (userRows) Columns() []rows.Column {
	return []rows.Column{
		{Name: "id", Type: "uuid"},
		{Name: "first_name", Type: "text"},
		{Name: "last_name", Type: "text"},
		{Name: "gender", Type: "text"},
		{Name: "address", Type: "text"},
		{Name: "post_code", Type: "text"},
		{Name: "email", Type: "text"},
		{Name: "username", Type: "text"},
		{Name: "dob", Type: "text"},
		{Name: "registered_date", Type: "text"},
		{Name: "phone", Type: "text"},
		{Name: "picture", Type: "text"},
	}
}

// PrimaryKey returns "id".
func (userRows) PrimaryKey() string { return "id" }

// Decode parses a User and checks its id. Every other field is text, taken
// as Spark's from_json takes a StringType field: a JSON string is its content, any
// other JSON value (a number, a boolean, an object, an array) its JSON text, so the
// post code 15836 that randomuser.me sends for many countries is stored as "15836".
// A field that is absent or null is written as an empty string.
func (userRows) Decode(_, value []byte) (rows.Row, error) {
	var u User
	if !flatStrings(value, userNames, userFields(&u)) {
		u = User{}
		if err := lenientStrings(value, userNames, userFields(&u)); err != nil {
			return rows.Row{}, err
		}
	}
	if u.ID == "" {
		return rows.Row{}, rows.Invalid(rows.ReasonMissingID, "no id")
	}
	id, err := parseUUID(u.ID)
	if err != nil {
		return rows.Row{}, err
	}
	return rows.Row{Values: []any{
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
			return rows.Invalid(rows.ReasonNotJSON, "field %q: %v", name, err)
		case i == 0 && !isString && text != "":
			return rows.Invalid(rows.ReasonWrongType, "field %q is a JSON %s, want a string", name, rawKind(raw))
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

// userNames are the JSON names of the fields of a User, in the order of
// userFields.
var userNames = []string{"id", "first_name", "last_name", "gender", "address", "post_code", "email",
	"username", "dob", "registered_date", "phone", "picture", "source"}

// userFields are the fields of u, in the order of userNames.
func userFields(u *User) []*string {
	return []*string{&u.ID, &u.FirstName, &u.LastName, &u.Gender, &u.Address, &u.PostCode, &u.Email,
		&u.Username, &u.DOB, &u.RegisteredDate, &u.Phone, &u.Picture, &u.Source}
}

// jsonError classifies an encoding/json error: a value of the wrong type (including a
// record that is not what the dataset wants, e.g. "an object") or anything else,
// which is not JSON.
func jsonError(err error, want string) *rows.InvalidError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return rows.Invalid(rows.ReasonWrongType, "the record is a JSON %s, not %s", te.Value, want)
		}
		return rows.Invalid(rows.ReasonWrongType, "field %q is a JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return rows.Invalid(rows.ReasonNotJSON, "%v", err)
}

// parseUUID parses a record's id: only the canonical 8-4-4-4-12 hex form.
func parseUUID(s string) ([16]byte, error) {
	id, err := parseCanonicalUUID(s)
	if err != nil {
		return id, rows.Invalid(rows.ReasonInvalidID, "id %q is not a UUID", clip(s))
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

// User is the value of a users_created message: the fields of the seed pipeline's
// format_data, all present, serialized as JSON. The Kafka key is ID.
type User struct {
	ID             string `json:"id"` // UUID string
	FirstName      string `json:"first_name"`
	LastName       string `json:"last_name"`
	Gender         string `json:"gender"`
	Address        string `json:"address"`   // "<street number> <street name>, <city>, <state>, <country>"
	PostCode       string `json:"post_code"` // always a string
	Email          string `json:"email"`
	Username       string `json:"username"`
	DOB            string `json:"dob"`             // RFC 3339, as the API gives it
	RegisteredDate string `json:"registered_date"` // RFC 3339, as the API gives it
	Phone          string `json:"phone"`
	Picture        string `json:"picture"`          // the medium picture URL
	Source         string `json:"source,omitempty"` // "randomuser" or "faker"
}
