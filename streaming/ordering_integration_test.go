package streaming_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// TestSameMillisecondLaterOffsetWins: versions of a key produced with the same
// record timestamp end as the later offset's version, though the earlier one's
// value compares larger (Cassandra would keep it on a tie): in one micro-batch, in
// micro-batches of one record each, and with the worker stopped between the two and
// the later one read after a restart. In the micro-batch, offsets 998 to 1001
// straddle a multiple of 1000, where the offset's tie-break wraps and the batch's
// supersede decides.
func TestSameMillisecondLaterOffsetWins(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	for _, tc := range []struct {
		name      string
		fill      int // records before the versions
		batchRows int
		restart   bool
	}{
		{"one micro-batch across offset 1000", 998, 5000, false},
		{"a micro-batch each", 0, 1, false},
		{"a restart between", 0, 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipe(t, 1)
			cfg := p.config()
			cfg.BatchRows = tc.batchRows
			at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
			id := newUUID()
			version := func(email string) kafka.Message {
				u := user(id, 0, 0)
				u.Email = email
				v, err := json.Marshal(u)
				require.NoError(t, err)
				return kafka.Message{Key: []byte(id), Value: v, Time: at}
			}
			var fill []kafka.Message
			for i := range tc.fill {
				fill = append(fill, kafka.Message{Key: fmt.Appendf(nil, "f%d", i), Value: []byte(`{"id":"` + newUUID() + `"}`), Time: at})
			}
			if len(fill) > 0 {
				p.produce(fill)
			}
			// Each older version's value is larger than the newer's: "z…" > "y…" > ….
			p.produce([]kafka.Message{version("z1@example.com"), version("y2@example.com")})
			if tc.restart {
				_, stop := runInProcess(t, cfg, streaming.NewMetrics(prometheus.NewRegistry()))
				p.waitCaughtUp(time.Minute)
				require.NoError(t, stop())
			}
			p.produce([]kafka.Message{version("x3@example.com"), version("w4@example.com")})
			_, stop := runInProcess(t, cfg, streaming.NewMetrics(prometheus.NewRegistry()))
			p.waitCaughtUp(time.Minute)
			require.NoError(t, stop())

			var email string
			require.NoError(t, p.session.Query("SELECT email FROM "+testKeyspace+"."+p.table+" WHERE id = ?", id).Scan(&email))
			require.Equal(t, "w4@example.com", email, "the last offset's version")
		})
	}
}
