package streaming

import (
	"testing"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

const registeredUserID = "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b"

// The seed's own message, as its producer sent it: a JSON string whose address spans
// two lines.
const seedRegisteredUser = `"James Olson$983 Alvarado Vista\nPort Matthew, MA 57760$2002"`

func TestRegisteredUsersDecode(t *testing.T) {
	rows := checkDecode(t, RegisteredUsers{}, []decodeCase{
		{"seed message", registeredUserID, seedRegisteredUser, ""},
		{"empty fields", registeredUserID, `"$$"`, ""},
		{"unicode", registeredUserID, `"Zoë Ça\u00f1ón$1 Rue\nParis$1999"`, ""},
		{"no key", "", seedRegisteredUser, ReasonMissingID},
		{"key not a uuid", "user-1", seedRegisteredUser, ReasonInvalidID},
		{"two parts", registeredUserID, `"James Olson$2002"`, ReasonMalformed},
		{"four parts", registeredUserID, `"James$Olson$983 Alvarado Vista$2002"`, ReasonMalformed},
		{"no separator", registeredUserID, `"James Olson"`, ReasonMalformed},
		{"empty string", registeredUserID, `""`, ReasonMalformed},
		{"raw text, not a JSON string", registeredUserID, `James Olson$983 Alvarado Vista$2002`, ReasonNotJSON},
		{"unterminated string", registeredUserID, `"James Olson$a$2002`, ReasonNotJSON},
		{"empty", registeredUserID, ``, ReasonNotJSON},
		{"object", registeredUserID, `{"name":"James Olson"}`, ReasonWrongType},
		{"number", registeredUserID, `2002`, ReasonWrongType},
		{"null", registeredUserID, `null`, ReasonWrongType},
	})
	id, _ := gocql.ParseUUID(registeredUserID)
	// No stray quotes (the seed's rows kept them), and the address keeps its newline.
	assertRow(t, RegisteredUsers{}, map[string]any{
		"id": id, "name": "James Olson", "address": "983 Alvarado Vista\nPort Matthew, MA 57760", "date": "2002",
	}, rows["seed message"])
}

func FuzzRegisteredUsersDecode(f *testing.F) {
	fuzzDecode(f, RegisteredUsers{}, [][2]string{
		{registeredUserID, seedRegisteredUser}, {registeredUserID, `"$$"`}, {registeredUserID, `"a$b"`},
		{"", seedRegisteredUser}, {"x", `"a$b$c"`}, {registeredUserID, `null`}, {registeredUserID, `{}`},
		{registeredUserID, "\"\xff$\xfe$\x00\""}, {registeredUserID, `"\u0000$\n$\t"`},
	})
}
