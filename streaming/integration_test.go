package streaming_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// seedCreateTable is the seed's own CREATE TABLE: no dob column.
const seedCreateTable = `CREATE TABLE IF NOT EXISTS %s.%s (
	id UUID PRIMARY KEY, first_name TEXT, last_name TEXT, gender TEXT, address TEXT,
	post_code TEXT, email TEXT, username TEXT, registered_date TEXT, phone TEXT, picture TEXT)`

// The same messages produced twice, and an older version replayed after a newer one:
// one row per id holding the newest version. The table starts as the seed made it.
func TestProducedTwiceNewestWins(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 3)
	require.NoError(t, p.session.Query(fmt.Sprintf(seedCreateTable, testKeyspace, p.table)).Exec())

	l := newLoad()
	ids := newIDs(1000)
	now := time.Now()
	v1 := l.messages(ids, 1, 50, now.Add(-2*time.Minute))
	v2 := l.messages(ids, 2, 0, now.Add(-time.Minute))
	p.produce(v1)
	p.produce(v1) // produced twice
	p.produce(v2)
	p.produce(v1) // an old version replayed after the new one
	for key := range l.invalid {
		l.invalid[key] = 3
	}

	_, stop := runInProcess(t, p.config(), streaming.NewMetrics(prometheus.NewRegistry()))
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop())
	p.checkRows(l) // the v2 emails, and dob, a column the seed's table lacked
	p.checkDLQ(l, true)
}

// On a fresh stack the worker starts before anything created its topic: it creates
// it, and consumes what arrives. Partitions added later are consumed without a restart.
func TestTopicMissingAtStartThenGrown(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 0)
	w, stop := runInProcess(t, p.config(), streaming.NewMetrics(prometheus.NewRegistry()))
	require.Eventually(t, w.Ready, time.Minute, 100*time.Millisecond, "the worker consumes")

	l := newLoad()
	p.produce(l.messages(newIDs(200), 1, 0, time.Now()))
	p.waitCaughtUp(time.Minute)

	res, err := p.client.CreatePartitions(t.Context(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: p.topic, Count: 4}},
	})
	require.NoError(t, err)
	for _, e := range res.Errors {
		require.NoError(t, e)
	}
	// Wait until the writer sees four partitions, so the next records reach them all.
	require.Eventually(t, func() bool {
		md, err := p.client.Metadata(t.Context(), &kafka.MetadataRequest{Topics: []string{p.topic}})
		return err == nil && len(md.Topics) == 1 && len(md.Topics[0].Partitions) == 4
	}, 30*time.Second, 200*time.Millisecond)
	p.produce(l.messages(newIDs(400), 1, 0, time.Now()))
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop())
	p.checkRows(l)
	end, _, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)
	require.Len(t, end, 4)
	for partition, offset := range end {
		require.Positive(t, offset, "partition %d got records", partition)
	}
}

// Cassandra stopped for ~20 s mid-stream: the worker backs off, commits nothing it
// has not written, and resumes by itself. The Cassandra is the test's own, so that
// the rest of make test, which shares the stack's, runs meanwhile.
func TestCassandraOutage(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsScript)
	t.Parallel() // it waits on servers (or a Spark job) of its own: beside the other such tests
	db := stacktest.PrivateCassandra(t, stackScript(t))
	p := newPipeAt(t, bus{brokers: stacktest.KafkaBrokers(t)},
		store{hosts: db.Hosts, env: []string{"CASSANDRA_HOSTS=" + strings.Join(db.Hosts, ",")}}, 3)
	w, stop := runInProcess(t, p.config(), streaming.NewMetrics(prometheus.NewRegistry()))

	// Produce 100 records/s throughout, outage included.
	l := newLoad()
	var mu sync.Mutex
	produced := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer close(produced)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for range 450 { // 45 s
			mu.Lock()
			msgs := l.messages(newIDs(10), 1, 5, time.Now())
			mu.Unlock()
			if p.producer.WriteMessages(ctx, msgs...) != nil {
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()

	require.Eventually(t, func() bool {
		_, committed, err := p.partitionOffsets(context.Background())
		return err == nil && committed[0]+committed[1]+committed[2] > 100
	}, 30*time.Second, 100*time.Millisecond, "nothing committed before the outage")
	db.Stop()
	down := time.Now()
	require.Eventually(t, func() bool { return !w.Ready() }, 20*time.Second, 50*time.Millisecond,
		"the worker did not notice that Cassandra is down")
	before := p.committed()
	for time.Since(down) < 20*time.Second { // the outage lasts 20 s; watch the commits meanwhile
		require.Equal(t, before, p.committed(), "offsets committed while Cassandra was down")
		time.Sleep(500 * time.Millisecond)
	}
	db.Start()

	<-produced
	require.NoError(t, ctx.Err())
	require.Eventually(t, w.Ready, time.Minute, 100*time.Millisecond, "the worker did not resume")
	p.waitCaughtUp(2 * time.Minute)
	require.NoError(t, stop())
	mu.Lock()
	defer mu.Unlock()
	p.checkRows(l)
	p.checkDLQ(l, true)
}

// kill -9 the worker mid-batch and start it again: nothing lost, replays absorbed.
func TestKilledMidBatch(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 3)
	l := newLoad()
	p.produce(l.messages(newIDs(20_000), 1, 100, time.Now()))

	slow := "STREAMING_CONCURRENCY=4" // so that the kill lands mid-stream
	first := startProc(t, p, "first", slow)
	first.waitMetric("streaming_rows_written_total", 2000, time.Minute)
	first.kill()
	end, committed, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, end, committed, "the first worker had finished before the kill")

	second := startProc(t, p, "second")
	p.waitCaughtUp(2 * time.Minute)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		lag, err := second.metric("streaming_consumer_lag")
		if assert.NoError(c, err) {
			assert.Zero(c, lag, "consumer lag once caught up")
		}
	}, 10*time.Second, 100*time.Millisecond)
	p.checkRows(l)
	p.checkDLQ(l, false)
}

// Micro-batches overlap (the next one's writes start while earlier ones' are in
// flight, and a later one may finish first); killed -9 three times mid-stream, a
// worker has committed only offsets whose records, and all before them, are written.
// The last worker then finishes: nothing lost.
func TestKilledWhileBatchesOverlap(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 3)
	l := newLoad()
	p.produce(l.messages(newIDs(15_000), 1, 0, time.Now()))
	source := p.readAll(p.topic)

	// Small batches and groups, few write slots: many batches in hand at once.
	overlapping := []string{"STREAMING_BATCH_ROWS=100", "STREAMING_GROUP_ROWS=5", "STREAMING_CONCURRENCY=16"}
	for round := range 3 {
		w := startProc(t, p, fmt.Sprint(round), overlapping...)
		before, err := w.metric("streaming_rows_written_total")
		for err != nil || before == 0 {
			time.Sleep(10 * time.Millisecond)
			before, err = w.metric("streaming_rows_written_total")
		}
		w.waitMetric("streaming_rows_written_total", before+2000, time.Minute)
		w.kill()
		committed, rows := p.committed(), p.rowIDs()
		below, missing := 0, 0 // the records before the committed offsets, and those without a row
		for _, m := range source {
			if m.Offset < committed[m.Partition] {
				below++
				if !rows[string(m.Key)] {
					missing++
				}
			}
		}
		require.Positive(t, below, "round %d: nothing committed", round)
		assert.Zero(t, missing, "round %d: records committed (of %d) without their rows", round, below)
	}
	startProc(t, p, "last")
	p.waitCaughtUp(2 * time.Minute)
	p.checkRows(l)
}

// Three workers in the group, one killed: its partitions move to the others.
func TestThreeWorkersOneKilled(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 6)
	l := newLoad()

	var workers []*proc
	for i := range 3 {
		workers = append(workers, startProc(t, p, fmt.Sprint(i), "STREAMING_CONCURRENCY=2"))
	}
	// The records come once the three share the partitions: produced before, they
	// could all be written by the first two members while the third still joins.
	require.Eventually(t, func() bool { return p.groupStable(t, 3) }, 2*time.Minute, 200*time.Millisecond,
		"the group is stable with three members, each holding partitions")
	p.produce(l.messages(newIDs(30_000), 1, 100, time.Now()))
	for _, w := range workers { // every one holds partitions
		w.waitMetric("streaming_rows_written_total", 1, time.Minute)
	}
	workers[0].kill()
	p.waitCaughtUp(2 * time.Minute)
	for _, w := range workers[1:] {
		_, err := w.metric("streaming_rows_written_total")
		assert.NoError(t, err, "a surviving worker stopped serving")
	}
	p.checkRows(l)
	p.checkDLQ(l, false)
}

// SIGTERM drains: the batch in hand is written and committed before exit.
func TestSIGTERMDrains(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 3)
	l := newLoad()
	msgs := l.messages(newIDs(3000), 1, 100, time.Now())
	p.produce(msgs)

	// A batch that would wait an hour for more records: only the drain writes it.
	w := startProc(t, p, "worker", "STREAMING_BATCH_ROWS=100000", "STREAMING_BATCH_WAIT=1h")
	w.waitMetric("streaming_records_consumed_total", float64(len(msgs)), time.Minute)
	written, err := w.metric("streaming_rows_written_total")
	require.NoError(t, err)
	require.Zero(t, written, "the batch was written before SIGTERM")
	resp, err := http.Get("http://" + w.metrics + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "/healthz of a consuming worker")
	require.NoError(t, w.terminate(30*time.Second))

	end, committed, err := p.partitionOffsets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, end, committed, "committed offsets after the drain")
	p.checkRows(l)
	p.checkDLQ(l, true)
}

// An unreachable cluster gives up after the start-up timeout with an error naming it.
func TestUnreachableCassandraNamesTheHost(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 1)
	cfg := p.config()
	cfg.Hosts = []string{"127.0.0.1:1"}
	cfg.StartupTimeout = 2 * time.Second
	w, err := streaming.New(cfg, datasets.Users.Rows, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	err = w.Run(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "cassandra at 127.0.0.1:1 is unreachable after 2s")
}

// stackScript is the repository's stack/stack.sh, which starts a server of a test's own.
func stackScript(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs("../stack/stack.sh")
	require.NoError(t, err)
	require.FileExists(t, path, "servers of a test's own are started and stopped with stack/stack.sh")
	return path
}
