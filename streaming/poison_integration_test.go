package streaming_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

// keyed is a test dataset of text keys and values whose decoder panics on keys that
// start with "panic".
type keyed struct{}

func (keyed) Name() string { return "keyed" }
func (keyed) Columns() []rows.Column {
	return []rows.Column{{Name: "key", Type: "text"}, {Name: "value", Type: "text"}}
}
func (keyed) PrimaryKey() string { return "key" }
func (keyed) Decode(key, value []byte) (rows.Row, error) {
	if strings.HasPrefix(string(key), "panic") {
		panic("keyed: a bug on " + string(key))
	}
	return rows.Row{Values: []any{string(key), string(value)}}, nil
}

// keyedRows reads the whole table of a keyed pipe: key → value.
func keyedRows(t *testing.T, p *pipe) map[string]string {
	t.Helper()
	rows := map[string]string{}
	iter := p.session.Query("SELECT key, value FROM " + testKeyspace + "." + p.table).Iter()
	var k, v string
	for iter.Scan(&k, &v) {
		rows[k] = v
	}
	require.NoError(t, iter.Close())
	return rows
}

// Records that cannot become rows go to the dead-letter topic alone, each with its
// reason, and the worker goes on with the rest of their batch: a decoder that
// panics (panic, with the stack trace), a row Cassandra rejects (a key over 64 KiB:
// rejected), a record without a sensible timestamp (bad_timestamp).
func TestPoisonRecordsDeadLetteredAlone(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 0)
	// A topic that takes any timestamp (Kafka 4 refuses those over an hour ahead).
	kafkatest.NewTopic(t, p.client, kafka.TopicConfig{Topic: p.topic, NumPartitions: 1, ConfigEntries: []kafka.ConfigEntry{
		{ConfigName: "message.timestamp.before.max.ms", ConfigValue: "9223372036854775807"},
		{ConfigName: "message.timestamp.after.max.ms", ConfigValue: "9223372036854775807"},
	}})
	w, err := streaming.New(p.config(), keyed{}, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	stop := runUntilStopped(t, w.Run)

	now := time.Now()
	want := map[string]string{} // the rows: key → value
	var first []kafka.Message
	for i := range 10 {
		k := fmt.Sprintf("first-%d", i)
		first = append(first, kafka.Message{Key: []byte(k), Value: []byte("v-" + k), Time: now})
		want[k] = "v-" + k
	}
	p.produce(first)
	p.waitCaughtUp(time.Minute)

	reasons := map[string]string{ // the dead letters: key → reason
		"panic-1":                   rows.ReasonPanic,
		strings.Repeat("k", 70_000): rows.ReasonRejected,
		"from-1990":                 rows.ReasonBadTimestamp,
		"from-tomorrow":             rows.ReasonBadTimestamp,
	}
	times := map[string]time.Time{"from-1990": time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), "from-tomorrow": now.Add(48 * time.Hour)}
	var mixed []kafka.Message // the poison in the middle of a batch
	for i := range 20 {
		k := fmt.Sprintf("second-%d", i)
		mixed = append(mixed, kafka.Message{Key: []byte(k), Value: []byte("v-" + k), Time: now})
		want[k] = "v-" + k
		if i == 9 {
			for k := range reasons {
				at, ok := times[k]
				if !ok {
					at = now
				}
				mixed = append(mixed, kafka.Message{Key: []byte(k), Value: []byte("poison"), Time: at})
			}
		}
	}
	p.produce(mixed)
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop(), "the worker's Run")

	assert.Equal(t, want, keyedRows(t, p), "the rows")

	dead := map[string]string{}
	for _, m := range p.readAll(p.dlq) {
		h := map[string]string{}
		for _, kv := range m.Headers {
			h[kv.Key] = string(kv.Value)
		}
		dead[string(m.Key)] = h[rows.HeaderReason]
		if h[rows.HeaderReason] == rows.ReasonPanic {
			assert.Contains(t, h[rows.HeaderError], "keyed: a bug on panic-1")
			assert.Contains(t, h[rows.HeaderStack], "keyed.Decode", "the stack trace names the decoder")
			assert.LessOrEqual(t, len(h[rows.HeaderStack]), 4<<10, "the stack trace is truncated")
		}
	}
	assert.Equal(t, reasons, dead, "the dead letters and their reasons")
}
