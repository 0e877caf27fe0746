package streaming

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming/fetchcut"
)

func TestCheckTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"no timestamp (-1)", time.Time{}, false},
		{"1970", time.UnixMilli(1), false},
		{"1999", time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{"2000", minRecordTime, true},
		{"now", now, true},
		{"a day ahead", now.Add(24 * time.Hour), true},
		{"more than a day ahead", now.Add(24*time.Hour + time.Millisecond), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := checkTime(tc.at, now)
			if tc.ok {
				assert.Nil(t, bad)
				return
			}
			require.NotNil(t, bad)
			assert.Equal(t, rows.ReasonBadTimestamp, bad.Reason)
		})
	}
}

type panicky struct{ rows.Mapping }

func (panicky) Decode(key, value []byte) (rows.Row, error) { panic(strings.Repeat("boom ", 10_000)) }

// A decoder that panics dead-letters its record with the stack trace, truncated.
func TestDecodePanicDeadLetters(t *testing.T) {
	w, err := New(Config{Brokers: []string{"k:9092"}, Topic: "t", Hosts: []string{"c"}, Keyspace: "ks", Table: "tb"},
		panicky{datasets.Users.Rows}, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	it := w.decode(kafka.Message{Topic: "t", Key: []byte("k"), Value: []byte("{}"), Time: time.Now()})
	require.NotNil(t, it.bad)
	assert.Equal(t, rows.ReasonPanic, it.bad.Reason)
	assert.Contains(t, it.bad.Detail, "boom")
	dl := rows.DeadLetter(it.msg, it.bad)
	var stack string
	for _, h := range dl.Headers {
		if h.Key == rows.HeaderStack {
			stack = string(h.Value)
		}
	}
	assert.Contains(t, stack, "panicky.Decode")
	assert.LessOrEqual(t, len(stack), maxStackBytes)
}

// valueTimed takes its rows' write times from the value: a Unix millisecond count.
type valueTimed struct{ rows.Mapping }

func (valueTimed) WriteTimeFromValue() bool { return true }

func (valueTimed) Decode(_, value []byte) (rows.Row, error) {
	ms, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		return rows.Row{}, rows.Invalid(rows.ReasonBadTimestamp, "no write time")
	}
	return rows.Row{Values: []any{"x"}, WriteTime: time.UnixMilli(ms)}, nil
}

// A row's write time is its record's Kafka timestamp, checked before decoding; a
// rows.ValueTimed dataset's rows carry their own, checked after it, whatever the Kafka
// timestamp.
func TestDecodeWriteTime(t *testing.T) {
	cfg := Config{Brokers: []string{"k:9092"}, Topic: "t", Hosts: []string{"c"}, Keyspace: "ks", Table: "tb"}
	users, err := New(cfg, datasets.Users.Rows, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	timed, err := New(cfg, valueTimed{datasets.Users.Rows}, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	kafkaTime := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	valueTime := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	id := `{"id":"0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b"}`

	it := users.decode(kafka.Message{Value: []byte(id), Time: kafkaTime})
	require.Nil(t, it.bad)
	assert.Equal(t, kafkaTime, it.row.WriteTime)
	it = users.decode(kafka.Message{Value: []byte("not json"), Time: time.UnixMilli(1)})
	require.NotNil(t, it.bad)
	assert.Equal(t, rows.ReasonBadTimestamp, it.bad.Reason, "the Kafka timestamp is checked first")

	value := strconv.FormatInt(valueTime.UnixMilli(), 10)
	for _, kt := range []time.Time{kafkaTime, {}, time.UnixMilli(1)} {
		it = timed.decode(kafka.Message{Value: []byte(value), Time: kt})
		require.Nil(t, it.bad, "Kafka timestamp %v", kt)
		assert.True(t, valueTime.Equal(it.row.WriteTime))
	}
	for _, v := range []string{"1", strconv.FormatInt(time.Now().Add(25*time.Hour).UnixMilli(), 10)} {
		it = timed.decode(kafka.Message{Value: []byte(v), Time: kafkaTime})
		require.NotNil(t, it.bad, v)
		assert.Equal(t, rows.ReasonBadTimestamp, it.bad.Reason)
	}
}

// A value over the limit that came unmarked (a response not rebuilt) is cut on
// decoding; a forged marker (another worker's) is an ordinary header. (The records
// the fetch marked: fetchcut's TestCutRecord.)
func TestDecodeMarkedRecords(t *testing.T) {
	w, err := New(Config{Brokers: []string{"k:9092"}, Topic: "t", Hosts: []string{"c"}, Keyspace: "ks", Table: "tb"},
		datasets.Users.Rows, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	at := time.Now()

	it := w.decode(kafka.Message{Key: []byte("k"), Value: make([]byte, DefaultMaxRecordBytes+1), Time: at})
	require.NotNil(t, it.bad)
	assert.Equal(t, rows.ReasonTooLarge, it.bad.Reason)
	assert.Len(t, it.msg.Value, fetchcut.TruncatedValueBytes)

	forged := kafka.Header{Key: "streampipe.cut.0000000000000000", Value: []byte("cut 0 20971520 0")}
	it = w.decode(kafka.Message{Key: []byte("k"), Value: []byte("{}"), Time: at, Headers: []kafka.Header{forged}})
	require.NotNil(t, it.bad)
	assert.Equal(t, rows.ReasonMissingID, it.bad.Reason, "decoded as any record")
}

// A record with a key and a null value deletes its row, at its write time, where the
// dataset's rows are named by their keys (registered_users); with tombstones kept,
// or for a dataset whose ids are in the values (users), it is dead-lettered.
func TestDecodeTombstone(t *testing.T) {
	cfg := Config{Brokers: []string{"k:9092"}, Topic: "t", Hosts: []string{"c"}, Keyspace: "ks", Table: "tb"}
	at := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	tombstone := kafka.Message{Key: []byte("0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b"), Time: at, Offset: 42}

	registered, err := New(cfg, datasets.RegisteredUsers.Rows, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	it := registered.decode(tombstone)
	require.Nil(t, it.bad)
	assert.True(t, it.row.Delete)
	assert.Equal(t, "0b7e2f4a-3c1d-5e6f-8a9b-0c1d2e3f4a5b", uuid.UUID(it.row.Values[0].([16]byte)).String())
	assert.Equal(t, at.Add(42*time.Microsecond), it.row.WriteTime, "the record's write time")

	empty := tombstone
	empty.Value = []byte{} // an empty value is no tombstone
	assert.NotNil(t, registered.decode(empty).bad)
	badKey := tombstone
	badKey.Key = []byte("user-1")
	require.NotNil(t, registered.decode(badKey).bad)
	assert.Equal(t, rows.ReasonInvalidID, registered.decode(badKey).bad.Reason)

	cfg.KeepTombstones = true
	kept, err := New(cfg, datasets.RegisteredUsers.Rows, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	require.NotNil(t, kept.decode(tombstone).bad, "tombstones off: dead-lettered")

	cfg.KeepTombstones = false
	users, err := New(cfg, datasets.Users.Rows, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	require.NotNil(t, users.decode(tombstone).bad, "users: the id is in the value")
	assert.Equal(t, rows.ReasonNotJSON, users.decode(tombstone).bad.Reason)
}
