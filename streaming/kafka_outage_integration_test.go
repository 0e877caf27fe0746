package streaming_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

// Kafka stopped for 20 s mid-stream, on a Kafka of the test's own: the worker waits,
// says so on /healthz, and resumes by itself; every record is in Cassandra once.
func TestKafkaOutage20s(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsCassandra, stacktest.NeedsScript)
	t.Parallel() // it waits on servers (or a Spark job) of its own: beside the other such tests
	kafkaOutage(t, 20*time.Second)
}

// The same for 2 minutes: longer than the session timeout, every backoff cap and the
// reader's rebuild interval.
func TestKafkaOutage2m(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsCassandra, stacktest.NeedsScript)
	t.Parallel() // it waits on servers (or a Spark job) of its own: beside the other such tests
	kafkaOutage(t, 2*time.Minute)
}

func kafkaOutage(t *testing.T, outage time.Duration) {
	kafka := stacktest.PrivateKafka(t, "../stack/stack.sh")
	p := newPipeOn(t, kafka.Brokers, 3)
	w := startProc(t, p, "worker")

	// Produce 100 records/s (one in six invalid) before, during and after the
	// outage; a batch that fails is sent again until Kafka takes it.
	l := newLoad()
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopProducing := make(chan struct{})
	produced := make(chan struct{})
	var lastWrite atomic.Int64 // Unix nanoseconds of the latest write Kafka took
	go func() {
		defer close(produced)
		for {
			mu.Lock()
			msgs := l.messages(newIDs(10), 1, 5, time.Now())
			mu.Unlock()
			for p.producer.WriteMessages(ctx, msgs...) != nil {
				if sleepCtx(ctx, 200*time.Millisecond) != nil {
					return
				}
			}
			lastWrite.Store(time.Now().UnixNano())
			select {
			case <-stopProducing:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	require.Eventually(t, func() bool {
		_, committed, err := p.partitionOffsets(context.Background())
		return err == nil && committed[0]+committed[1]+committed[2] > 300
	}, time.Minute, 100*time.Millisecond, "nothing committed before the outage")

	down := time.Now()
	kafka.Stop()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body, _ := w.healthz()
		assert.Equal(c, http.StatusServiceUnavailable, code)
		assert.Contains(c, body, "users: waiting for kafka (KAFKA_BROKERS) since")
		assert.NotContains(c, body, kafka.Brokers[0], "/healthz shows no addresses")
	}, outage, 100*time.Millisecond, "/healthz does not say that the worker waits for Kafka")
	t.Logf("/healthz said 503 %.1f s after `stack.sh down kafka` began", time.Since(down).Seconds())
	for time.Since(down) < outage {
		require.True(t, w.alive(), "the worker exited while Kafka was down")
		code, _, _ := w.healthz()
		require.Equal(t, http.StatusServiceUnavailable, code, "/healthz while Kafka is down")
		time.Sleep(time.Second)
	}

	written, err := w.metric("streaming_rows_written_total")
	require.NoError(t, err)
	kafka.Start()
	back := time.Now()
	require.Eventually(t, func() bool { return lastWrite.Load() > back.UnixNano() }, time.Minute, 10*time.Millisecond,
		"the producer does not get through")
	firstWrite := time.Unix(0, lastWrite.Load()).Sub(back)
	w.waitMetric("streaming_rows_written_total", written+1, 2*time.Minute)
	firstRow := time.Since(back)
	w.waitHealthy(t, "/healthz after Kafka came back")
	healthy := time.Since(back)
	t.Logf("Kafka down for %v; from Kafka answering again to the producer's first write: %.1f s; "+
		"to the first new row: %.1f s; to /healthz 200: %.1f s", outage, firstWrite.Seconds(), firstRow.Seconds(), healthy.Seconds())

	time.Sleep(5 * time.Second) // records flow after the outage too
	close(stopProducing)
	<-produced
	require.NoError(t, ctx.Err())
	p.waitCaughtUp(2 * time.Minute)
	require.True(t, w.alive(), "the worker exited")
	retries, err := w.metric(`streaming_retries_total{dataset="users",stage="fetch"}`)
	require.NoError(t, err)
	assert.Positive(t, retries, "fetch retries counted")
	require.NoError(t, w.terminate(30*time.Second), "the worker's exit")

	logs := w.logs.String()
	warns := strings.Count(logs, `level=WARN msg="waiting for kafka at `+kafka.Brokers[0])
	infos := strings.Count(logs, `level=INFO msg="kafka at `+kafka.Brokers[0]+` (KAFKA_BROKERS) answers again`)
	t.Logf("log lines about the outage: %d WARN, %d INFO, of %d lines", warns, infos, strings.Count(logs, "\n"))
	assert.Positive(t, warns, "a warning when the outage starts")
	assert.LessOrEqual(t, warns, 3, "a warning per outage, not per retry")
	assert.Positive(t, infos, "an info line when it ends")
	if testing.Verbose() {
		t.Logf("the worker's log:\n%s", logs)
	}

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d valid and %d invalid records produced", len(l.users), len(l.invalid))
	p.checkRows(l)
	p.checkDLQ(l, false)
}

// alive reports whether the process is still running.
func (pr *proc) alive() bool {
	select {
	case err := <-pr.done:
		pr.done <- err // leave it for Cleanup
		return false
	default:
		return true
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
