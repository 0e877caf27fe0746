package datasets

import (
	"testing"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/rows"
)

const registeredUserID = "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b"

// The seed's own message, as its producer sent it: a JSON string whose address spans
// two lines.
const seedRegisteredUser = `"James Olson$983 Alvarado Vista\nPort Matthew, MA 57760$2002"`

func TestRegisteredUsersDecode(t *testing.T) {
	rows := checkDecode(t, registeredUserRows{}, []decodeCase{
		{"seed message", registeredUserID, seedRegisteredUser, ""},
		{"empty fields", registeredUserID, `"$$"`, ""},
		{"unicode", registeredUserID, `"Zoë Ça\u00f1ón$1 Rue\nParis$1999"`, ""},
		{"no key, no coordinates", "", seedRegisteredUser, rows.ReasonMissingID},
		{"key not a uuid", "user-1", seedRegisteredUser, rows.ReasonInvalidID},
		{"two parts", registeredUserID, `"James Olson$2002"`, rows.ReasonMalformed},
		{"four parts", registeredUserID, `"James$Olson$983 Alvarado Vista$2002"`, rows.ReasonMalformed},
		{"no separator", registeredUserID, `"James Olson"`, rows.ReasonMalformed},
		{"empty string", registeredUserID, `""`, rows.ReasonMalformed},
		{"raw text, not a JSON string", registeredUserID, `James Olson$983 Alvarado Vista$2002`, rows.ReasonNotJSON},
		{"unterminated string", registeredUserID, `"James Olson$a$2002`, rows.ReasonNotJSON},
		{"empty", registeredUserID, ``, rows.ReasonNotJSON},
		{"object", registeredUserID, `{"name":"James Olson"}`, rows.ReasonWrongType},
		{"number", registeredUserID, `2002`, rows.ReasonWrongType},
		{"null", registeredUserID, `null`, rows.ReasonWrongType},
	})
	id := [16]byte(uuid.MustParse(registeredUserID))
	// No stray quotes (the seed's rows kept them), and the address keeps its newline.
	assertRow(t, registeredUserRows{}, map[string]any{
		"id": id, "name": "James Olson", "address": "983 Alvarado Vista\nPort Matthew, MA 57760", "date": "2002",
	}, rows["seed message"])
}

// TestRegisteredUsersKeylessRecordID: a record without a key, as the seed's producer
// sends, becomes a row whose id is derived from its first coordinates: the same on
// every redelivery and replay, another for another record.
func TestRegisteredUsersKeylessRecordID(t *testing.T) {
	at := kafka.Message{Topic: "registered_user_2", Partition: 1, Offset: 7, Value: []byte(seedRegisteredUser)}
	row, err := registeredUserRows{}.DecodeMessage(at)
	require.NoError(t, err)
	again, err := registeredUserRows{}.DecodeMessage(at)
	require.NoError(t, err)
	assert.Equal(t, row.Values[0], again.Values[0], "a redelivery")
	// Pinned: a new derivation would write the records read again as second rows.
	assert.Equal(t, "51ce06b4-b1dd-5751-9d3b-a523465a8da5", uuid.UUID(row.Values[0].([16]byte)).String(), "the derivation is stable across versions")
	replayed := kafka.Message{Topic: "registered_user_2", Partition: 0, Offset: 99, Value: []byte(seedRegisteredUser),
		Headers: []kafka.Header{{Key: rows.HeaderFirst, Value: []byte("registered_user_2/1/7")}}}
	fromReplay, err := registeredUserRows{}.DecodeMessage(replayed)
	require.NoError(t, err)
	assert.Equal(t, row.Values[0], fromReplay.Values[0], "a replay keeps the record's first coordinates")
	for _, other := range []kafka.Message{
		{Topic: "registered_user_2", Partition: 1, Offset: 8},
		{Topic: "registered_user_2", Partition: 0, Offset: 7},
		{Topic: "registered_user_3", Partition: 1, Offset: 7},
	} {
		other.Value = at.Value
		o, err := registeredUserRows{}.DecodeMessage(other)
		require.NoError(t, err)
		assert.NotEqual(t, row.Values[0], o.Values[0], "%s/%d/%d", other.Topic, other.Partition, other.Offset)
	}
	keyed := at
	keyed.Key = []byte(registeredUserID)
	k, err := registeredUserRows{}.DecodeMessage(keyed)
	require.NoError(t, err)
	assert.Equal(t, registeredUserID, uuid.UUID(k.Values[0].([16]byte)).String(), "a key is the id")
}

func FuzzRegisteredUsersDecode(f *testing.F) {
	fuzzDecode(f, registeredUserRows{}, [][2]string{
		{registeredUserID, seedRegisteredUser}, {registeredUserID, `"$$"`}, {registeredUserID, `"a$b"`},
		{"", seedRegisteredUser}, {"x", `"a$b$c"`}, {registeredUserID, `null`}, {registeredUserID, `{}`},
		{registeredUserID, "\"\xff$\xfe$\x00\""}, {registeredUserID, `"\u0000$\n$\t"`},
	})
}

func TestRegisteredUserText(t *testing.T) {
	u := RegisteredUser{Name: "James Olson", Address: "983 Alvarado Vista\nPort Matthew, MA 57760", Year: "2002"}
	assert.Equal(t, "James Olson$983 Alvarado Vista\nPort Matthew, MA 57760$2002", u.String())
	back, err := ParseRegisteredUser(u.String())
	require.NoError(t, err)
	assert.Equal(t, u, back)

	for s, parts := range map[string]int{"": 1, "a": 1, "a$b": 2, "a$b$c$d": 4, "$$$": 4} {
		_, err := ParseRegisteredUser(s)
		assert.EqualError(t, err, "want name$address$year, got "+string(rune('0'+parts))+" $-separated parts", "%q", s)
	}
}
