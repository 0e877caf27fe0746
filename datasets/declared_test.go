package datasets

import (
	"cmp"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/streaming"
)

const goodFile = `
datasets:
  - name: orders
    topic: orders
    table: Shop.Orders
    primary_key: (account), id
    columns:
      - {name: note, type: text, from: value.note}
      - {name: id, type: uuid, from: value.id, required: true}
      - {name: account, type: text, from: key}
      - {name: amount, type: double, from: value.amount}
      - {name: items, type: bigint, from: value.count.items}
      - {name: small, type: int, from: value.small}
      - {name: paid, type: boolean, from: value.paid}
      - {name: day, type: date, from: value.day}
      - {name: at, type: timestamp, from: value.at}
      - {name: tags, type: list<text>, from: value.tags}
      - {name: written, type: timestamp, from: kafka.timestamp}
      - {name: part, type: int, from: kafka.partition}
      - {name: off, type: bigint, from: kafka.offset}
      - {name: origin, type: text, const: web}
      - {name: version, type: int, const: "3"}
`

func TestParseDeclaredGoodFile(t *testing.T) {
	ds, err := ParseDeclared("good.yaml", []byte(goodFile))
	require.NoError(t, err)
	require.Len(t, ds, 1)
	d := ds[0]
	assert.Equal(t, "orders", d.Name)
	assert.Equal(t, "orders", d.Topic)
	assert.Equal(t, "orders.dlq", d.DeadLetterTopic())
	assert.Equal(t, "shop", d.Keyspace)
	assert.Equal(t, "orders", d.Table)
	assert.Nil(t, d.Generate, "a declared dataset is not published by the producer")
	assert.Equal(t, "orders", d.Rows.Name())
	assert.Equal(t, "(account), id", d.Rows.PrimaryKey())
	cols := d.Rows.Columns()
	assert.Equal(t, streaming.Column{Name: "account", Type: "text"}, cols[0], "the partition key first")
	assert.Equal(t, "account", d.KeyColumn())
	assert.Len(t, cols, 15)
	assert.Equal(t, "STREAMING_ORDERS_TABLE", d.Vars().Table)
}

func TestParseDeclaredJSON(t *testing.T) {
	ds, err := ParseDeclared("f.json", []byte(`{"datasets": [{"name": "e", "topic": "e", "table": "k.e", "primary_key": "id",
		"columns": [{"name": "id", "type": "uuid", "from": "value.id", "required": true}]}]}`))
	require.NoError(t, err)
	require.Len(t, ds, 1)
}

// Every problem of a file is reported at once, each with its line.
func TestParseDeclaredBadFiles(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"empty", ``, []string{"f.yaml:0: the file is empty"}},
		{"not yaml", "datasets: [", []string{"f.yaml: yaml:"}},
		{"no datasets", "other: 1\n", []string{`f.yaml:1: the file: unknown field "other"`, "f.yaml:1: no datasets"}},
		{"datasets not a list", "datasets: 3\n", []string{"f.yaml:1: datasets: want a list of datasets"}},
		{"everything wrong", `datasets:
  - name: Bad-Name
    topic: "no spaces"
    dead_letter_topic: "a b"
    table: nodot
    write_time: header.at
    extra: 1
    primary_key: id
    columns:
      - {name: id, type: uuid, from: value.id}
      - {name: id, type: text, from: value.x}
      - {name: n, type: varchar, from: value.n}
      - {name: k, type: double, from: key}
      - {name: c, type: text, from: value.c, const: x}
      - {name: d, type: text}
      - {name: e, type: int, const: many}
      - {name: f, type: text, from: "value..x"}
      - {name: g, type: text, from: header.x}
      - {name: h, type: list<text>, const: x}
      - {name: i, type: text, from: value.i, required: maybe}
  - name: users
    topic: t
    table: k.t
    primary_key: missing
    columns:
      - {name: a, type: text, from: value.a}
  - name: twice
    topic: t
    table: k.t
    primary_key: a
    columns: [{name: a, type: text, from: key}]
  - name: twice
    topic: t
    table: k.t
    primary_key: a
    columns: [{name: a, type: text, from: key}]
  - name: nocolumns
    topic: t
    table: k.t
    primary_key: a
    write_time: value.a..b
`, []string{
			`f.yaml:2: dataset "Bad-Name": want a name of a-z`,
			`f.yaml:3: dataset Bad-Name: topic "no spaces": want a Kafka topic name`,
			`f.yaml:4: dataset Bad-Name: dead_letter_topic "a b"`,
			`f.yaml:5: dataset Bad-Name: table "nodot": want keyspace.table`,
			`f.yaml:6: dataset Bad-Name: write_time "header.at": want kafka.timestamp (the default) or value.<path>`,
			`f.yaml:7: dataset: unknown field "extra"`,
			`f.yaml:8: dataset Bad-Name: primary key column id must be required`,
			`f.yaml:11: dataset Bad-Name: column id declared twice (first at line 10)`,
			`f.yaml:12: dataset Bad-Name: column n: type "varchar": want one of text, uuid`,
			`f.yaml:13: dataset Bad-Name: column k: from key cannot fill a double column: want text or uuid or int or bigint`,
			`f.yaml:14: dataset Bad-Name: column c: from and const both given`,
			`f.yaml:15: dataset Bad-Name: column d: no from`,
			`f.yaml:16: dataset Bad-Name: column e: const "many": want a whole number that fits an int`,
			`f.yaml:17: dataset Bad-Name: column f: from "value..x": a path part is empty`,
			`f.yaml:18: dataset Bad-Name: column g: from "header.x": want value.<path>`,
			`f.yaml:19: dataset Bad-Name: column h: const "x": a list<text> column cannot be a const`,
			`f.yaml:20: dataset Bad-Name: column i: required "maybe": want true or false`,
			`f.yaml:21: dataset users: a built-in dataset has that name`,
			`f.yaml:24: dataset users: primary_key names missing, which is no declared column`,
			`f.yaml:32: dataset twice is declared twice (first at line 27)`,
			`f.yaml:37: dataset nocolumns: no columns`,
			`f.yaml:41: dataset nocolumns: write_time "value.a..b": a path part is empty`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDeclared("f.yaml", []byte(tt.file))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.True(t, slices.IsSortedFunc(lineNumbers(err), cmp.Compare), "in the order of the file's lines:\n%v", err)
		})
	}
}

// lineNumbers are the line numbers of the problems listed by err.
func lineNumbers(err error) []int {
	var out []int
	for _, l := range strings.Split(err.Error(), "\n")[1:] {
		if _, rest, ok := strings.Cut(l, "f.yaml:"); ok {
			n, _ := strconv.Atoi(rest[:strings.Index(rest, ":")])
			out = append(out, n)
		}
	}
	return out
}

// TestDeclaredRecordID: a declared dataset chooses where its row id comes from: the
// key or a value field, with the record's derived id (streaming.RecordID) for records
// that lack them, or always the derived id.
func TestDeclaredRecordID(t *testing.T) {
	ds, err := ParseDeclared("ids.yaml", []byte(`datasets:
  - name: by_key
    topic: a
    table: k.a
    primary_key: id
    columns:
      - {name: id, type: uuid, from: key, if_absent: kafka.record_id}
      - {name: v, type: text, from: value}
  - name: by_field
    topic: b
    table: k.b
    primary_key: id
    columns:
      - {name: id, type: uuid, from: value.id, if_absent: kafka.record_id}
  - name: always
    topic: c
    table: k.c
    primary_key: id
    columns:
      - {name: id, type: uuid, from: kafka.record_id}
`))
	require.NoError(t, err)
	const id = "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b"
	keyless := kafka.Message{Topic: "a", Partition: 2, Offset: 5, Value: []byte(`"x"`)}
	derived := streaming.RecordID(keyless)
	for _, tc := range []struct {
		d    int
		m    kafka.Message
		want string
	}{
		{0, keyless, derived.String()},
		{0, kafka.Message{Topic: "a", Partition: 2, Offset: 5, Key: []byte(id), Value: []byte(`"x"`)}, id},
		{1, kafka.Message{Topic: "a", Partition: 2, Offset: 5, Value: []byte(`{}`)}, derived.String()},
		{1, kafka.Message{Topic: "a", Partition: 2, Offset: 5, Value: []byte(`{"id": null}`)}, derived.String()},
		{1, kafka.Message{Topic: "a", Partition: 2, Offset: 5, Value: []byte(`{"id": "` + id + `"}`)}, id},
		{2, kafka.Message{Topic: "a", Partition: 2, Offset: 5, Key: []byte(id)}, derived.String()},
	} {
		row, err := ds[tc.d].Rows.(*Declared).DecodeMessage(tc.m)
		require.NoError(t, err)
		assert.Equal(t, tc.want, row.Values[0].(gocql.UUID).String(), "%s: key %q value %s", ds[tc.d].Name, tc.m.Key, tc.m.Value)
	}

	_, err = ParseDeclared("bad.yaml", []byte(`datasets:
  - name: bad
    topic: a
    table: k.a
    primary_key: id
    columns:
      - {name: id, type: text, from: key, if_absent: kafka.record_id}
      - {name: n, type: uuid, from: kafka.offset}
      - {name: m, type: uuid, from: value.m, if_absent: key}
`))
	require.Error(t, err)
	assert.ErrorContains(t, err, "bad.yaml:7: dataset bad: column id: if_absent: only a uuid column from key or value.<path>")
	assert.ErrorContains(t, err, "bad.yaml:8: dataset bad: column n: from kafka.offset cannot fill a uuid column")
	assert.ErrorContains(t, err, `bad.yaml:9: dataset bad: column m: if_absent "key": want kafka.record_id`)
}

func TestLoadFileNamesAMissingFile(t *testing.T) {
	_, err := LoadFile("no/such/file.yaml")
	assert.ErrorContains(t, err, "reading declared datasets: open no/such/file.yaml")
}

func orders(t *testing.T) *Declared {
	t.Helper()
	ds, err := ParseDeclared("good.yaml", []byte(goodFile))
	require.NoError(t, err)
	return ds[0].Rows.(*Declared)
}

func TestDeclaredDecode(t *testing.T) {
	d := orders(t)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	m := kafka.Message{Key: []byte("acc-1"), Partition: 2, Offset: 41, Time: at, Value: []byte(`{
		"id": "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b", "note": "hi", "amount": 12.5, "count": {"items": 9000000000},
		"small": 7, "paid": true, "day": "2026-01-31", "at": "2026-02-01T10:00:00Z", "tags": ["a", "b"]}`)}
	row, err := d.DecodeMessage(m)
	require.NoError(t, err)
	byName := map[string]any{}
	for i, c := range d.Columns() {
		byName[c.Name] = row.Values[i]
	}
	id, _ := gocql.ParseUUID("0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b")
	assert.Equal(t, map[string]any{
		"account": "acc-1", "note": "hi", "id": id, "amount": 12.5, "items": int64(9000000000), "small": int32(7),
		"paid": true, "day": time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC).UnixMilli(),
		"at": time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC), "tags": []string{"a", "b"},
		"written": at, "part": int32(2), "off": int64(41), "origin": "web", "version": int32(3),
	}, byName)

	// Absent and null optional fields are left unset, not written as null.
	row, err = d.DecodeMessage(kafka.Message{Key: []byte("acc-1"), Value: []byte(`{"id": "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b", "note": null}`)})
	require.NoError(t, err)
	for i, c := range d.Columns() {
		if c.Name == "note" || c.Name == "amount" || c.Name == "tags" || c.Name == "items" {
			assert.Equal(t, gocql.UnsetValue, row.Values[i], c.Name)
		}
	}
}

// TestDeclaredTextTakesAnyJSON: a text column, and a list<text>'s elements, take
// any JSON value as Spark's from_json does for a StringType field: a number, a
// boolean, an object or an array as its JSON text.
func TestDeclaredTextTakesAnyJSON(t *testing.T) {
	d := orders(t)
	const id = `"id": "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b"`
	for value, want := range map[string]map[string]any{
		`{` + id + `, "note": 15836}`:               {"note": "15836"},
		`{` + id + `, "note": 1.50e3}`:              {"note": "1.50e3"},
		`{` + id + `, "note": false}`:               {"note": "false"},
		`{` + id + `, "note": {"b": 1, "a": [2]}}`:  {"note": `{"a":[2],"b":1}`},
		`{` + id + `, "tags": ["a", 1, true, [3]]}`: {"tags": []string{"a", "1", "true", "[3]"}},
	} {
		row, err := d.DecodeMessage(kafka.Message{Key: []byte("acc-1"), Value: []byte(value)})
		require.NoError(t, err, value)
		for name, v := range want {
			i := slices.IndexFunc(d.Columns(), func(c streaming.Column) bool { return c.Name == name })
			assert.Equal(t, v, row.Values[i], "%s of %s", name, value)
		}
	}
}

func TestDeclaredDecodeReasons(t *testing.T) {
	d := orders(t)
	const id = `"id": "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b"`
	tests := []struct {
		key, value, reason, detail string
	}{
		{"a", `{"id":`, streaming.ReasonNotJSON, ""},
		{"a", `{} {}`, streaming.ReasonNotJSON, "more than one JSON value"},
		{"a", `[1]`, streaming.ReasonWrongType, "the record is a JSON array, not an object"},
		{"a", `{"note": "x"}`, streaming.ReasonMissingID, "no field id"},
		{"", `{` + id + `}`, streaming.ReasonMissingID, "no key"},
		{"a", `{"id": "nope"}`, streaming.ReasonInvalidID, `field id "nope": not a UUID`},
		{"a", `{` + id + `, "amount": "12"}`, streaming.ReasonWrongType, "field amount is a JSON string, want a number"},
		{"a", `{` + id + `, "small": 3000000000}`, streaming.ReasonInvalidValue, "field small is 3000000000"},
		{"a", `{` + id + `, "small": 1.5}`, streaming.ReasonInvalidValue, "field small is 1.5"},
		{"a", `{` + id + `, "paid": "yes"}`, streaming.ReasonWrongType, "field paid is a JSON string, want a boolean"},
		{"a", `{` + id + `, "day": "31/01/2026"}`, streaming.ReasonInvalidValue, "want a date like 2026-01-31"},
		{"a", `{` + id + `, "at": "yesterday"}`, streaming.ReasonInvalidValue, "want an RFC 3339 time"},
		{"a", `{` + id + `, "count": 3}`, streaming.ReasonWrongType, "field count is a JSON number, not an object"},
		{"a", `{` + id + `, "tags": ["a", null]}`, streaming.ReasonWrongType, "field tags[1] is a JSON null, want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, err := d.DecodeMessage(kafka.Message{Key: []byte(tt.key), Value: []byte(tt.value)})
			var ie *streaming.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.reason, ie.Reason, ie.Detail)
			assert.Contains(t, ie.Detail, tt.detail)
		})
	}
}

// timedFile declares a dataset whose write time is a field of the value.
const timedFile = `
datasets:
  - name: events
    topic: events
    table: k.events
    primary_key: id
    write_time: value.meta.updated_at
    columns:
      - {name: id, type: text, from: value.id, required: true}
      - {name: note, type: text, from: value.note}
`

func TestDeclaredWriteTimeFromTheValue(t *testing.T) {
	ds, err := ParseDeclared("timed.yaml", []byte(timedFile))
	require.NoError(t, err)
	d := ds[0].Rows.(*Declared)
	assert.True(t, d.WriteTimeFromValue())
	assert.False(t, orders(t).WriteTimeFromValue(), "kafka.timestamp by default")
	assert.Len(t, d.Columns(), 2, "the write time is no column")

	at := time.Date(2026, 1, 31, 12, 0, 0, 123e6, time.UTC)
	for _, v := range []string{`"2026-01-31T12:00:00.123Z"`, `"2026-01-31T13:00:00.123+01:00"`, `1769860800123`} {
		t.Run(v, func(t *testing.T) {
			row, err := d.DecodeMessage(kafka.Message{Value: []byte(`{"id": "a", "meta": {"updated_at": ` + v + `}}`)})
			require.NoError(t, err)
			assert.True(t, at.Equal(row.WriteTime), "%v", row.WriteTime)
			assert.Equal(t, []any{"a", gocql.UnsetValue}, row.Values)
		})
	}

	for _, tt := range []struct{ value, detail string }{
		{`{"id": "a"}`, "the write time: no field meta.updated_at"},
		{`{"id": "a", "meta": {"updated_at": null}}`, "the write time: no field meta.updated_at"},
		{`{"id": "a", "meta": 3}`, "the write time: field meta is a JSON number, not an object"},
		{`{"id": "a", "meta": {"updated_at": true}}`, "the write time: field meta.updated_at is a JSON boolean, want a string"},
		{`{"id": "a", "meta": {"updated_at": 1.5}}`, "the write time: field meta.updated_at is 1.5: want Unix milliseconds"},
		{`{"id": "a", "meta": {"updated_at": "2026-01-31 12:00"}}`, "the write time: field meta.updated_at \"2026-01-31 12:00\": want an RFC 3339 time"},
		{`{"note": "no id either"}`, "the write time: no field meta.updated_at"}, // looked at first
	} {
		t.Run(tt.value, func(t *testing.T) {
			_, err := d.DecodeMessage(kafka.Message{Value: []byte(tt.value)})
			var ie *streaming.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, streaming.ReasonBadTimestamp, ie.Reason)
			assert.Contains(t, ie.Detail, tt.detail)
		})
	}
	// 1 ms after 1970 is a write time here; the worker dead-letters it (before 2000).
	row, err := d.DecodeMessage(kafka.Message{Value: []byte(`{"id": "a", "meta": {"updated_at": 1}}`)})
	require.NoError(t, err)
	assert.Equal(t, time.UnixMilli(1).UTC(), row.WriteTime)
}

// docs/examples/declared-orders.yaml maps the message its comment shows.
func TestDeclaredOrdersExample(t *testing.T) {
	ds, err := LoadFile("../docs/examples/declared-orders.yaml")
	require.NoError(t, err)
	require.Len(t, ds, 1)
	d := ds[0].Rows.(*Declared)
	row, err := d.DecodeMessage(kafka.Message{Key: []byte("acc-1"), Partition: 1, Value: []byte(`{
		"id": "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b", "updated_at": "2026-01-31T12:00:00Z",
		"n": 5, "counts": {"big": 9000000000}, "amount": 12.5, "paid": true, "day": "2026-01-31",
		"placed": 1769860800123, "tags": ["gift"], "note": "ring twice"}`)})
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC), row.WriteTime)
	assert.Equal(t, []any{"acc-1", gocql.UUID{0x0b, 0x7e, 0x2f, 0x4a, 0x3c, 0x1d, 0x5e, 0x6f, 0x8a, 0x9b, 0x0c, 0x1d, 0x2e, 0x3f, 0x4a, 0x5b},
		int32(5), int64(9000000000), 12.5, true, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC).UnixMilli(),
		time.UnixMilli(1769860800123).UTC(), []string{"gift"}, "ring twice", int32(1), "web"}, row.Values)
}

// The worked example of docs/declared-datasets.md maps a users message to the very
// row the built-in users dataset makes (the end-to-end equivalence on the real stack
// is streaming's TestDeclaredUsersWriteTheBuiltInRows).
func TestDeclaredUsersExampleIsTheBuiltInMapping(t *testing.T) {
	data, err := os.ReadFile("../docs/examples/declared-users.yaml")
	require.NoError(t, err)
	ds, err := ParseDeclared("declared-users.yaml", data)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	declared, builtIn := ds[0].Rows, Users.Rows
	assert.Equal(t, builtIn.Columns(), declared.Columns())
	assert.Equal(t, builtIn.PrimaryKey(), declared.PrimaryKey())
	value := `{"id":"0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b","first_name":"Zoë","last_name":"O'Neil","gender":"female",
		"address":"1 Rue, Paris, IDF, France","post_code":"75001","email":"z@example.com","username":"zoe",
		"dob":"1990-01-02T03:04:05.000Z","registered_date":"2010-01-02T03:04:05.000Z","phone":"01","picture":"p.jpg","source":"faker"}`
	want, err := builtIn.Decode(nil, []byte(value))
	require.NoError(t, err)
	got, err := declared.Decode(nil, []byte(value))
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func FuzzParseDeclared(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte(`{"datasets": [{"name": "e", "topic": "e", "table": "k.e", "primary_key": "id", "columns": [{"name": "id", "type": "uuid", "from": "value.id", "required": true}]}]}`))
	f.Add([]byte("datasets:\n  - name: x\n    columns: [{}]\n"))
	f.Add([]byte("datasets: [[], 1, {name: [1]}]"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte(timedFile))
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := ParseDeclared("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") && !strings.HasPrefix(err.Error(), "declared datasets:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, d := range ds {
			require.NotEmpty(t, d.Rows.Columns())
			_, _ = d.Rows.Decode([]byte("k"), []byte(`{"a": 1}`)) // never panics
		}
	})
}

func FuzzDeclaredDecode(f *testing.F) {
	f.Add([]byte("acc"), []byte(`{"id": "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b", "tags": ["a"], "count": {"items": 1}}`))
	f.Add([]byte(""), []byte(`null`))
	f.Add([]byte("x"), []byte(`{"id": 1, "at": 1700000000000, "small": -0}`))
	f.Add([]byte("x"), []byte(`{"id": "a", "meta": {"updated_at": "2026-01-31T12:00:00Z"}}`))
	var decls []*Declared
	f.Fuzz(func(t *testing.T, key, value []byte) {
		if decls == nil {
			for _, file := range []string{goodFile, timedFile} {
				ds, err := ParseDeclared("f.yaml", []byte(file))
				require.NoError(t, err)
				decls = append(decls, ds[0].Rows.(*Declared))
			}
		}
		for _, d := range decls {
			row, err := d.Decode(key, value)
			if err != nil {
				var ie *streaming.InvalidError
				require.ErrorAs(t, err, &ie)
				continue
			}
			require.Len(t, row.Values, len(d.Columns()))
			require.Equal(t, d.WriteTimeFromValue(), !row.WriteTime.IsZero())
		}
	})
}

// TestDeclaredTombstone: a declared dataset whose primary key is one column from the
// key deletes that key's row on a tombstone; one keyed by a value field cannot name
// the row, and dead-letters it.
func TestDeclaredTombstone(t *testing.T) {
	ds, err := ParseDeclared("t.yaml", []byte(`datasets:
  - name: by_key
    topic: a
    table: k.a
    primary_key: id
    columns:
      - {name: note, type: text, from: value.note}
      - {name: id, type: uuid, from: key}
  - name: by_value
    topic: b
    table: k.b
    primary_key: id
    columns:
      - {name: id, type: uuid, from: value.id, required: true}
`))
	require.NoError(t, err)
	const id = "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b"
	row, err := ds[0].Rows.(*Declared).Tombstone([]byte(id))
	require.NoError(t, err)
	assert.Equal(t, id, row.Values[0].(gocql.UUID).String(), "the key, at the place of the partition key")
	assert.Nil(t, row.Values[1])
	_, err = ds[0].Rows.(*Declared).Tombstone([]byte("nope"))
	assert.ErrorContains(t, err, "not a UUID")
	_, err = ds[1].Rows.(*Declared).Tombstone([]byte(id))
	assert.ErrorContains(t, err, "not named by the key")
}
