package streaming_test

import (
	"encoding/json"
	"fmt"
	"os"
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
	"github.com/streampipe/streampipe/internal/stacktest"
	"github.com/streampipe/streampipe/record"
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
		u := record.User{ID: uuid.NewString(), FirstName: fmt.Sprintf("Zoë %d", i), LastName: "O'Neil", Gender: "female",
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
	rows := func(table string) map[string]map[string]any {
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
	want, got := rows(builtIn.Table), rows(decl.Table)
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
	assert.Equal(t, map[string]string{"poison-1": streaming.ReasonInvalidID, "poison-2": streaming.ReasonNotJSON,
		"poison-3": streaming.ReasonMissingID}, reasons(builtIn.DLQTopic))
	assert.Equal(t, reasons(builtIn.DLQTopic), reasons(decl.DLQTopic), "the same reasons")
}
