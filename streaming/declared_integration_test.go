package streaming_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

// The users dataset re-declared in a file (docs/examples/declared-users.yaml) writes
// the same rows as the built-in one for the same messages, on the real stack: two
// workers consume one topic in groups of their own, each into its own table, and
// every column of every row is equal, write time included. A record that does not
// fit goes to each one's dead-letter topic with the same reason. The one difference
// the reference documents: a field that is absent is "" in the built-in row and
// unset (null) in the declared one.
func TestDeclaredUsersWriteTheBuiltInRows(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	data, err := os.ReadFile("../docs/examples/declared-users.yaml")
	require.NoError(t, err)
	declared, err := datasets.ParseDeclared("declared-users.yaml", data)
	require.NoError(t, err)
	require.Len(t, declared, 1)

	p := newPipe(t, 3)
	builtIn := p.config()
	decl := p.config()
	decl.GroupID, decl.Table, decl.DLQTopic = p.group+"-declared", p.table+"_declared", p.topic+".declared.dlq"
	t.Cleanup(func() {
		if !t.Failed() {
			_ = p.session.Query("DROP TABLE IF EXISTS " + testKeyspace + "." + decl.Table).Exec()
			_, _ = p.client.DeleteTopics(t.Context(), &kafka.DeleteTopicsRequest{Topics: []string{decl.DLQTopic}})
		}
	})
	metrics := streaming.NewMetrics(prometheus.NewRegistry())
	w1, err := streaming.New(builtIn, datasets.Users.Rows, metrics)
	require.NoError(t, err)
	w2, err := streaming.New(decl, declared[0].Rows, metrics)
	require.NoError(t, err)
	group := streaming.NewGroup(w1, w2)
	stop := runUntilStopped(t, group.Run)
	defer func() { assert.NoError(t, stop()) }()
	require.Eventually(t, func() bool { return group.Ready() == nil }, time.Minute, 100*time.Millisecond)

	const n = 200
	var msgs []kafka.Message
	var ids []string
	for i := range n {
		u := datasets.User{ID: uuid.NewString(), FirstName: fmt.Sprintf("Zoë %d", i), LastName: "O'Neil", Gender: "female",
			Address: fmt.Sprintf("%d Rue de la Paix, Paris, IDF, France", i), PostCode: "75001", Email: fmt.Sprintf("z%d@example.com", i),
			Username: fmt.Sprintf("zoe%d", i), DOB: "1990-01-02T03:04:05.000Z", RegisteredDate: "2010-01-02T03:04:05.000Z",
			Phone: "01 23 45", Picture: "https://randomuser.me/api/portraits/med/women/1.jpg", Source: "faker"}
		if i == 0 {
			u.Phone = "" // present and empty: "" in both
		}
		b, err := json.Marshal(u)
		require.NoError(t, err)
		msgs = append(msgs, kafka.Message{Key: []byte(u.ID), Value: b, Time: time.Now()})
		ids = append(ids, u.ID)
	}
	absent := uuid.NewString() // a user without a phone field
	msgs = append(msgs,
		kafka.Message{Key: []byte(absent), Value: []byte(`{"id":"` + absent + `","first_name":"No Phone"}`), Time: time.Now()},
		kafka.Message{Key: []byte("poison-1"), Value: []byte(`{"id": "not-a-uuid"}`), Time: time.Now()},
		kafka.Message{Key: []byte("poison-2"), Value: []byte(`not json`), Time: time.Now()},
		kafka.Message{Key: []byte("poison-3"), Value: []byte(`{"first_name": "no id"}`), Time: time.Now()},
	)
	p.produce(msgs)

	var names []string
	for _, c := range datasets.Users.Rows.Columns() {
		names = append(names, c.Name)
	}
	columns := strings.Join(names, ", ")
	tableRows := func(table string) map[string]map[string]any {
		out := map[string]map[string]any{}
		require.Eventually(t, func() bool {
			iter := p.session.Query(fmt.Sprintf("SELECT %s, writetime(first_name) AS written FROM %s.%s", columns, testKeyspace, table)).Iter()
			out = map[string]map[string]any{}
			for {
				row := map[string]any{}
				if !iter.MapScan(row) {
					break
				}
				out[row["id"].(gocql.UUID).String()] = row
			}
			require.NoError(t, iter.Close())
			return len(out) == n+1
		}, time.Minute, 200*time.Millisecond, "%s has the %d rows", table, n+1)
		return out
	}
	want, got := tableRows(builtIn.Table), tableRows(decl.Table)
	for _, id := range ids {
		assert.Equal(t, want[id], got[id], "row %s", id)
	}
	assert.Equal(t, "", want[ids[0]]["phone"])
	phone := func(table string) *string {
		var s *string
		require.NoError(t, p.session.Query(fmt.Sprintf("SELECT phone FROM %s.%s WHERE id = ?", testKeyspace, table), absent).Scan(&s))
		return s
	}
	if assert.NotNil(t, phone(builtIn.Table), "built in: an absent field is an empty string") {
		assert.Equal(t, "", *phone(builtIn.Table))
	}
	assert.Nil(t, phone(decl.Table), "declared: an absent optional field is left unset")

	reasons := func(topic string) map[string]string {
		out := map[string]string{}
		require.Eventually(t, func() bool {
			out = map[string]string{}
			for _, m := range p.readAll(topic) {
				for _, h := range m.Headers {
					if h.Key == "dlq.reason" {
						out[string(m.Key)] = string(h.Value)
					}
				}
			}
			return len(out) == 3
		}, time.Minute, 500*time.Millisecond)
		return out
	}
	assert.Equal(t, map[string]string{"poison-1": rows.ReasonInvalidID, "poison-2": rows.ReasonNotJSON,
		"poison-3": rows.ReasonMissingID}, reasons(builtIn.DLQTopic))
	assert.Equal(t, reasons(builtIn.DLQTopic), reasons(decl.DLQTopic), "the same reasons")
}

// declaredOrders is docs/examples/declared-orders.yaml: every declared type, a
// compound key, a nested path, the Kafka metadata, a const, and its write time from
// the value. The tests write it into a table of their own (the pipe's), not the
// file's.
func declaredOrders(t *testing.T) rows.Mapping {
	t.Helper()
	ds, err := datasets.LoadFile("../docs/examples/declared-orders.yaml")
	require.NoError(t, err)
	return ds[0].Rows
}

// A declared dataset's missing table is created as declared (every type, the
// compound key), its rows' write time is the value's updated_at whatever the Kafka
// timestamp, so that an older record consumed later loses; an optional field that is
// absent leaves its column as it was; a record without a sensible write time is
// dead-lettered as bad_timestamp.
func TestDeclaredDatasetCreatesItsTableAndWritesAtTheValuesTime(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 1)
	w, err := streaming.New(p.config(), declaredOrders(t), streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	stop := runUntilStopped(t, w.Run)
	require.Eventually(t, w.Ready, time.Minute, 100*time.Millisecond)

	cols := p.columns(p.table)
	slices.Sort(cols)
	assert.Equal(t, []string{
		"account text partition_key", "amount double regular", "big bigint regular", "day date regular",
		"id uuid clustering", "n int regular", "note text regular", "origin text regular", "paid boolean regular",
		"part int regular", "placed timestamp regular", "tags list<text> regular",
	}, cols, "the table as declared")

	id := uuid.NewString()
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t0, t2 := t1.Add(-time.Hour), t1.Add(time.Hour)
	now := time.Now()
	msg := func(key, value string, at time.Time) kafka.Message {
		return kafka.Message{Key: []byte(key), Value: []byte(value), Time: at}
	}
	p.produce([]kafka.Message{
		msg("acc-1", `{"id": "`+id+`", "updated_at": "2026-01-01T00:00:00Z", "n": 5, "counts": {"big": 9000000000},
			"amount": 1.5, "paid": true, "day": "2026-01-31", "placed": "2026-02-01T10:00:00.5Z", "tags": ["a", "b"],
			"note": "first"}`, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)), // a Kafka timestamp that plays no part
		msg("acc-1", `{"id": "`+id+`", "updated_at": `+strconv.FormatInt(t0.UnixMilli(), 10)+`, "n": 99, "note": "older"}`, now),
		msg("acc-1", `{"id": "`+id+`", "updated_at": "2026-01-01T02:00:00+01:00", "amount": 7}`, now), // t2, no note
		msg("from-1999", `{"id": "`+uuid.NewString()+`", "updated_at": "1999-12-31T23:59:59Z"}`, now),
		msg("no-time", `{"id": "`+uuid.NewString()+`"}`, now),
		msg("in-two-days", `{"id": "`+uuid.NewString()+`", "updated_at": `+strconv.FormatInt(now.Add(48*time.Hour).UnixMilli(), 10)+`}`, now),
	})
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop(), "the worker's Run")

	var (
		n, part               int
		big, noteAt, amountAt int64
		amount                float64
		paid                  bool
		day, placed           time.Time
		tags                  []string
		note, origin          string
		count                 int
	)
	require.NoError(t, p.session.Query(fmt.Sprintf(`SELECT n, big, amount, paid, day, placed, tags, note, part, origin,
		writetime(note), writetime(amount) FROM %s.%s WHERE account = 'acc-1' AND id = ?`, testKeyspace, p.table), id).
		Scan(&n, &big, &amount, &paid, &day, &placed, &tags, &note, &part, &origin, &noteAt, &amountAt))
	assert.Equal(t, 5, n, "the older record (n 99) lost")
	assert.Equal(t, int64(9000000000), big)
	assert.Equal(t, 7.0, amount, "the newer record won")
	assert.True(t, paid)
	assert.Equal(t, "2026-01-31", day.UTC().Format(time.DateOnly))
	assert.Equal(t, time.Date(2026, 2, 1, 10, 0, 0, 5e8, time.UTC), placed.UTC())
	assert.Equal(t, []string{"a", "b"}, tags)
	assert.Equal(t, "first", note, "absent in the newer record: left as it was, not nulled")
	assert.Equal(t, 0, part)
	assert.Equal(t, "web", origin)
	assert.Equal(t, t1.UnixMicro(), noteAt, "the write time is the value's updated_at")
	assert.Equal(t, t2.UnixMicro(), amountAt)
	require.NoError(t, p.session.Query(fmt.Sprintf("SELECT count(*) FROM %s.%s", testKeyspace, p.table)).Scan(&count))
	assert.Equal(t, 1, count)

	dead := map[string]string{}
	for _, m := range p.readAll(p.dlq) {
		for _, h := range m.Headers {
			if h.Key == rows.HeaderReason {
				dead[string(m.Key)] = string(h.Value)
			}
		}
	}
	assert.Equal(t, map[string]string{"from-1999": rows.ReasonBadTimestamp, "no-time": rows.ReasonBadTimestamp,
		"in-two-days": rows.ReasonBadTimestamp}, dead)
}

// A live table not made for the declared dataset, with columns of other types or
// another primary key, stops the worker at start, with an error that names each
// column and both its types, or both keys, and leaves the table as it was.
func TestDeclaredTableNotMadeForTheDatasetStopsTheWorker(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	for _, tc := range []struct{ name, columns, want string }{
		{"types", "account text, id uuid, amount decimal, note int, PRIMARY KEY ((account), id)",
			"column amount of %[1]s is decimal in the table but double in the dataset; " +
				"column note of %[1]s is int in the table but text in the dataset: " +
				"the table was not made for this dataset; alter or rename it by hand"},
		{"key", "account text, id uuid PRIMARY KEY, amount double",
			"the primary key of %[1]s is ((id)) in the table but ((account), id) in the dataset: " +
				"the table was not made for this dataset; alter or rename it by hand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipe(t, 1)
			require.NoError(t, p.session.Query(fmt.Sprintf("CREATE TABLE %s.%s (%s)", testKeyspace, p.table, tc.columns)).Exec())
			before := p.columns(p.table)
			w, err := streaming.New(p.config(), declaredOrders(t), streaming.NewMetrics(prometheus.NewRegistry()))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			err = w.Run(ctx)
			require.Error(t, err)
			assert.Equal(t, fmt.Sprintf(tc.want, testKeyspace+"."+p.table), err.Error())
			assert.False(t, w.Ready())
			assert.Equal(t, before, p.columns(p.table), "no column added")
		})
	}
}
