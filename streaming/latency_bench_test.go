package streaming_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/devstack/benchreport"
)

// Latency is measured from outside, alike for every system: a producer sends records
// at a steady rate, each stamped when sent, and a poller reads the system's table by
// key until each row is readable. The poller tracks about trackedPerSecond records a
// second whatever the rate, so that its own reads weigh the same on Cassandra in
// every run, and polls each tracked id again after max(pollFloor, a tenth of its
// age): to within 10% of a latency, and no more than every pollFloor.
const (
	tick             = 10 * time.Millisecond // how often the producer sends
	trackedPerSecond = 250
	pollFloor        = 5 * time.Millisecond
	pollChunk        = 100 // ids per SELECT ... WHERE id IN ?
	pollParallel     = 8   // SELECTs in flight
	producersBusy    = 16  // WriteMessages calls in flight
)

// tracked is one record the poller waits for.
type tracked struct {
	id   gocql.UUID
	sent time.Time
	next time.Time // when to poll it next
}

// poller finds when tracked records become readable in a table.
type poller struct {
	session *gocql.Session
	query   string

	mu       sync.Mutex
	pending  []*tracked
	inFlight int // tracked records taken by a SELECT that has not returned yet
	seen     []time.Duration
	lag      []time.Duration // how late each SELECT returned after the ids were due
}

func newPoller(session *gocql.Session, table string) *poller {
	return &poller{session: session, query: "SELECT id FROM " + table + " WHERE id IN ?"}
}

// track adds records sent at sent.
func (pl *poller) track(ids []gocql.UUID, sent time.Time) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for _, id := range ids {
		pl.pending = append(pl.pending, &tracked{id: id, sent: sent, next: sent})
	}
}

// due takes the pending records whose poll is due.
func (pl *poller) due(now time.Time) []*tracked {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	var due []*tracked
	pl.pending = slices.DeleteFunc(pl.pending, func(t *tracked) bool {
		if t.next.After(now) {
			return false
		}
		due = append(due, t)
		return true
	})
	pl.inFlight += len(due)
	return due
}

// run polls until ctx is done.
func (pl *poller) run(ctx context.Context) error {
	sem := make(chan struct{}, pollParallel)
	errs := make(chan error, 1)
	for ctx.Err() == nil {
		select {
		case err := <-errs:
			return err
		case <-time.After(pollFloor):
		case <-ctx.Done():
		}
		now := time.Now()
		for chunk := range slices.Chunk(pl.due(now), pollChunk) {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				if err := pl.poll(ctx, chunk, now); err != nil && ctx.Err() == nil {
					select {
					case errs <- err:
					default:
					}
				}
			}()
		}
	}
	for range pollParallel { // wait for the SELECTs in flight
		sem <- struct{}{}
	}
	return nil
}

// poll reads one chunk of due records: those readable are seen when the SELECT
// returned; the others go back to pending, due again after a tenth of their age.
func (pl *poller) poll(ctx context.Context, chunk []*tracked, due time.Time) error {
	ids := make([]gocql.UUID, len(chunk))
	for i, t := range chunk {
		ids[i] = t.id
	}
	iter := pl.session.Query(pl.query, ids).IterContext(ctx)
	found := map[gocql.UUID]bool{}
	var id gocql.UUID
	for iter.Scan(&id) {
		found[id] = true
	}
	err := iter.Close()
	now := time.Now()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.inFlight -= len(chunk)
	pl.lag = append(pl.lag, now.Sub(due))
	for _, t := range chunk {
		switch {
		case found[t.id]:
			pl.seen = append(pl.seen, now.Sub(t.sent))
		default:
			t.next = now.Add(max(pollFloor, now.Sub(t.sent)/10))
			pl.pending = append(pl.pending, t)
		}
	}
	return err
}

// left returns how many tracked records are still unseen: those waiting for their
// next poll, and those a SELECT in flight has taken (left out, the wait for the
// stragglers could end while the last ones are being read, and count them unseen).
func (pl *poller) left() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return len(pl.pending) + pl.inFlight
}

// latencyRun is what measureLatency found.
type latencyRun struct {
	latency  *benchreport.Latency
	sentRate float64       // records/s the producer achieved
	lagP99   time.Duration // the poller's SELECTs: p99 of their return after the ids were due
}

// measureLatency produces rate records/s for d into p's topic and measures, for the
// tracked ones, the time from send to readable in table (keyspace.name), waiting up
// to grace after the last send for the stragglers.
func measureLatency(b *testing.B, p *pipe, table string, rate int, d, grace time.Duration) latencyRun {
	pl := newPoller(p.session, table)
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan error, 1)
	go func() { polled <- pl.run(ctx) }()
	sent, elapsed := produceSteadily(b, p, rate, d, pl.track)
	deadline := time.Now().Add(grace)
	for pl.left() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	require.NoError(b, <-polled, "the poller's SELECTs")
	lag := &benchreport.Latency{Samples: pl.lag}
	return latencyRun{
		latency:  &benchreport.Latency{Samples: pl.seen, Lost: pl.left()},
		sentRate: float64(sent) / elapsed.Seconds(),
		lagP99:   lag.Quantile(0.99),
	}
}

// produceSteadily sends rate records/s for d into p's topic, keyed by id, each
// stamped when sent: every tick, as many as bring the count to rate × the time
// elapsed (a late tick catches up), in up to producersBusy concurrent writes so that
// a slow acknowledgement does not hold the next tick back. It hands about
// trackedPerSecond of them a second to track, and returns how many it sent and in
// what time.
func produceSteadily(b *testing.B, p *pipe, rate int, d time.Duration, track func([]gocql.UUID, time.Time)) (int, time.Duration) {
	w := &kafka.Writer{Addr: kafka.TCP(p.brokers...), Topic: p.topic, Balancer: &kafka.Hash{},
		BatchSize: max(rate/100, 1), BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: p.producer.Transport}
	defer w.Close()
	every := max(rate/trackedPerSecond, 1) // track one record in every
	busy := make(chan struct{}, producersBusy)
	errs := make(chan error, 1) // the first failure
	t := time.NewTicker(tick)
	defer t.Stop()
	start, sent := time.Now(), 0
	for time.Since(start) < d {
		<-t.C
		at := time.Now()
		ids := newIDs(int(float64(rate)*at.Sub(start).Seconds()) - sent)
		var follow []gocql.UUID
		for _, id := range ids {
			if sent++; sent%every == 0 {
				u, err := gocql.ParseUUID(id)
				require.NoError(b, err)
				follow = append(follow, u)
			}
		}
		if len(ids) == 0 {
			continue
		}
		msgs := newLoad().messages(ids, 1, 0, at)
		track(follow, at)
		busy <- struct{}{}
		go func() {
			defer func() { <-busy }()
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
		select {
		case err := <-errs:
			require.NoError(b, err)
		default:
		}
	}
	elapsed := time.Since(start)
	for range producersBusy {
		busy <- struct{}{}
	}
	select {
	case err := <-errs:
		require.NoError(b, err)
	default:
	}
	return sent, elapsed
}
