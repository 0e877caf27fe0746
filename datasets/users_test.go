package datasets

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/rows"
)

const validUser = `{"id":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23","first_name":"Ada","last_name":"Lovelace",` +
	`"gender":"female","address":"12 Ockham Road, London, Greater London, United Kingdom","post_code":"W1 1AA",` +
	`"email":"ada@example.com","username":"ada","dob":"1815-12-10T00:00:00.000Z",` +
	`"registered_date":"2015-03-01T09:00:00.000Z","phone":"020 7946 0000",` +
	`"picture":"https://randomuser.me/api/portraits/med/women/1.jpg","source":"randomuser"}`

func TestUsersDecode(t *testing.T) {
	checkDecode(t, userRows{}, []decodeCase{
		{"valid", "", validUser, ""},
		{"extra fields", "", `{"id":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23","extra":[1,{"a":2}]}`, ""},
		{"upper-case uuid", "", `{"id":"6F1C2A4E-8B1D-4C3E-9F2A-0D5E7B9C1A23"}`, ""},
		{"null field", "", `{"id":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23","email":null}`, ""},
		{"empty", "", ``, rows.ReasonNotJSON},
		{"not json", "", `id=1`, rows.ReasonNotJSON},
		{"truncated", "", validUser[:40], rows.ReasonNotJSON},
		{"trailing garbage", "", validUser + `x`, rows.ReasonNotJSON},
		{"array", "", `[1,2]`, rows.ReasonWrongType},
		{"string", "", `"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23"`, rows.ReasonWrongType},
		{"null", "", `null`, rows.ReasonMissingID},
		{"no id", "", `{"first_name":"Ada"}`, rows.ReasonMissingID},
		{"null id", "", `{"id":null}`, rows.ReasonMissingID},
		{"empty id", "", `{"id":""}`, rows.ReasonMissingID},
		{"id not a uuid", "", `{"id":"42"}`, rows.ReasonInvalidID},
		{"id with misplaced dashes", "", `{"id":"6f1c2a4e8-b1d-4c3e-9f2a-0d5e7b9c1a23"}`, rows.ReasonInvalidID},
		{"id with non-hex", "", `{"id":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a2g"}`, rows.ReasonInvalidID},
		{"id a number", "", `{"id":42}`, rows.ReasonWrongType},
		{"id true", "", `{"id":true}`, rows.ReasonWrongType},
		{"id an object", "", `{"id":{"value":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23"}}`, rows.ReasonWrongType},
		{"post_code a number", "", `{"id":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23","post_code":75001}`, ""},
		{"name an object", "", `{"id":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23","first_name":{"first":"Ada"}}`, ""},
	})
}

func TestUsersDecodeMapsEveryColumn(t *testing.T) {
	row, err := userRows{}.Decode(nil, []byte(validUser))
	require.NoError(t, err)
	var u User
	require.NoError(t, json.Unmarshal([]byte(validUser), &u))
	id, err := uuid.Parse(u.ID)
	require.NoError(t, err)
	assertRow(t, userRows{}, map[string]any{
		"id": [16]byte(id), "first_name": u.FirstName, "last_name": u.LastName,
		"gender": u.Gender, "address": u.Address, "post_code": u.PostCode, "email": u.Email,
		"username": u.Username, "dob": u.DOB, "registered_date": u.RegisteredDate,
		"phone": u.Phone, "picture": u.Picture,
	}, row)
}

// TestUsersDecodeTakesTextAsSpark: a text column takes any JSON value as Spark's
// from_json does for a StringType field: a number, a boolean, an object or an array
// as its JSON text.
func TestUsersDecodeTakesTextAsSpark(t *testing.T) {
	const id = `"id":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23"`
	for value, want := range map[string]map[string]any{
		`{` + id + `,"post_code":15836}`:                          {"post_code": "15836"},
		`{` + id + `,"post_code":-1.50e3}`:                        {"post_code": "-1.50e3"},
		`{` + id + `,"gender":true,"phone":null}`:                 {"gender": "true", "phone": ""},
		`{` + id + `,"address":{"city": "Oslo", "n": [1, 2]}}`:    {"address": `{"city":"Oslo","n":[1,2]}`},
		`{` + id + `,"POST_CODE":7}`:                              {"post_code": "7"},
		`{` + id + `,"post_code":"exact","Post_Code":7}`:          {"post_code": "exact"},
		`{"ID":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23","email":1}`: {"email": "1"},
	} {
		row, err := userRows{}.Decode(nil, []byte(value))
		require.NoError(t, err, value)
		cols := userRows{}.Columns()
		for name, v := range want {
			i := slices.IndexFunc(cols, func(c rows.Column) bool { return c.Name == name })
			assert.Equal(t, v, row.Values[i], "%s of %s", name, value)
		}
	}
}

func TestInvalidIDDetailIsClipped(t *testing.T) {
	_, err := userRows{}.Decode(nil, []byte(`{"id":"`+strings.Repeat("x", 10_000)+`"}`))
	ie := rows.AsInvalid(err)
	require.NotNil(t, ie)
	assert.Less(t, len(ie.Detail), 200)
}

func FuzzUsersDecode(f *testing.F) {
	var seeds [][2]string
	for _, s := range []string{
		validUser, `{}`, `{"id":null}`, `{"id":"42"}`, `[]`, `"x"`, `null`, `{"id":1e999}`,
		`{"id":"6f1c2a4e-8b1d-4c3e-9f2a-0d5e7b9c1a23","post_code":1}`, "{\"id\":\"\xff\"}",
	} {
		seeds = append(seeds, [2]string{"", s})
	}
	fuzzDecode(f, userRows{}, seeds)
}
