package streaming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/rows"
)

// In-memory fakes of the engine's three seams (source, sink, deadWriter), for unit
// tests of its ordering, commit and dead-letter logic. They prove the logic only:
// the integration tests prove it against real Kafka and Cassandra.

// kv is the engine tests' dataset: a record's key is its row's id, its value the
// row's value; a value that starts with "!" is invalid.
type kv struct{}

func (kv) Name() string { return "kv" }
func (kv) Columns() []rows.Column {
	return []rows.Column{{Name: "id", Type: "text"}, {Name: "v", Type: "text"}}
}
func (kv) PrimaryKey() string { return "id" }
func (kv) Decode(key, value []byte) (rows.Row, error) {
	if bytes.HasPrefix(value, []byte("!")) {
		return rows.Row{}, rows.Invalid(rows.ReasonNotJSON, "not a kv value: %q", value)
	}
	return rows.Row{Values: []any{string(key), string(value)}}, nil
}

// kvID is the key, and so the row id, of the record at offset o of partition p.
func kvID(p int, o int64) string { return strconv.Itoa(p) + "-" + strconv.FormatInt(o, 10) }

// newKVWorker returns a worker of the kv dataset, cfg over a minimal configuration.
func newKVWorker(t *testing.T, cfg Config) *Worker {
	t.Helper()
	cfg.Brokers, cfg.Topic, cfg.Hosts, cfg.Keyspace, cfg.Table = []string{"k:9092"}, "t", []string{"c"}, "ks", "tb"
	w, err := New(cfg, kv{}, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	return w
}

// memTopic is an in-memory topic with one consumer group: its partitions' records
// and the group's committed offsets, which outlive the sources (workers) that read
// it.
type memTopic struct {
	// check is called with each position committed, before it is taken; an error
	// refuses the commit.
	check func(m kafka.Message) error

	mu        sync.Mutex
	parts     [][]kafka.Message
	committed []int64 // per partition: the offset consumption resumes at
}

// newMemTopic returns a topic of partitions partitions of n records each, the one at
// offset o of partition p keyed kvID(p, o), with value(p, o) as its value.
func newMemTopic(partitions, n int, value func(p int, o int64) string) *memTopic {
	now := time.Now()
	t := &memTopic{parts: make([][]kafka.Message, partitions), committed: make([]int64, partitions)}
	for p := range t.parts {
		for o := range int64(n) {
			t.parts[p] = append(t.parts[p], kafka.Message{Topic: "t", Partition: p, Offset: o, HighWaterMark: int64(n),
				Key: []byte(kvID(p, o)), Value: []byte(value(p, o)), Time: now})
		}
	}
	return t
}

// plain is the value of every record of a topic whose records are all valid.
func plain(p int, o int64) string { return "v" + kvID(p, o) }

// positions returns where consumption resumes, by partition.
func (t *memTopic) positions() []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]int64(nil), t.committed...)
}

// done reports whether every record is committed.
func (t *memTopic) done() bool {
	for p, c := range t.positions() {
		if c < int64(len(t.parts[p])) {
			return false
		}
	}
	return true
}

// source returns a member of the group: it consumes from the committed offsets on.
func (t *memTopic) source() *memSource {
	return &memSource{t: t, next: t.positions()}
}

// memSource is a worker's consumer of a memTopic, partitions in turn.
type memSource struct {
	t       *memTopic
	next    []int64 // by partition: the offset fetched next
	p       int     // the partition fetched from next
	fetched atomic.Int64
	// refusing: commits fail, as while the group coordinator is unreachable.
	refusing atomic.Bool
}

func (s *memSource) fetch(ctx context.Context) (kafka.Message, error) {
	s.t.mu.Lock()
	for range s.next {
		p := s.p
		s.p = (s.p + 1) % len(s.next)
		if s.next[p] < int64(len(s.t.parts[p])) {
			m := s.t.parts[p][s.next[p]]
			s.next[p]++
			s.t.mu.Unlock()
			s.fetched.Add(1)
			return m, nil
		}
	}
	s.t.mu.Unlock()
	<-ctx.Done() // every record fetched: a long poll that never ends
	return kafka.Message{}, ctx.Err()
}

func (s *memSource) commit(_ context.Context, msgs []kafka.Message) error {
	if s.refusing.Load() {
		return errors.New("group coordinator not available")
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	for _, m := range msgs {
		if s.t.check != nil {
			if err := s.t.check(m); err != nil {
				return err
			}
		}
		s.t.committed[m.Partition] = max(s.t.committed[m.Partition], m.Offset+1)
	}
	return nil
}

func (s *memSource) probe(context.Context) error { return nil }
func (s *memSource) failing(time.Duration)       {}

// memTable is an in-memory sink: the rows by id (upserts), with how often each was
// written and in which order. A row that held says yes to waits until hold is
// closed or its write's context is done (a stuck Cassandra); a row in failOnce fails
// its first write.
type memTable struct {
	held     func(id string) bool
	hold     chan struct{}
	failOnce map[string]bool
	// onRetry is called at each retried write (sink.write), before it.
	onRetry func()
	// onWritten is called after each row written, with how many were written so far.
	onWritten func(n int)

	mu      sync.Mutex
	rows    map[string]string
	writes  map[string]int
	order   []string
	retried []string
}

func newMemTable() *memTable {
	return &memTable{rows: map[string]string{}, writes: map[string]int{}, hold: make(chan struct{}), failOnce: map[string]bool{}}
}

func (s *memTable) awaitSlots(ctx context.Context) error { return ctx.Err() }

func (s *memTable) start(ctx context.Context, rs []pendingRow) *writes {
	ws := &writes{rows: len(rs)}
	ws.wg.Go(func() {
		for _, r := range rs {
			if r.err = s.writeRow(ctx, r.Row); r.err != nil {
				ws.fail(r)
			}
		}
	})
	return ws
}

func (s *memTable) writeRow(ctx context.Context, r rows.Row) error {
	id := r.Values[0].(string)
	if s.held != nil && s.held(id) {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return fmt.Errorf("write of %s: %w", id, ctx.Err())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failOnce[id] {
		delete(s.failOnce, id)
		return errors.New("write timed out")
	}
	s.rows[id] = r.Values[1].(string)
	s.writes[id]++
	s.order = append(s.order, id)
	if s.onWritten != nil {
		s.onWritten(len(s.order))
	}
	return nil
}

func (s *memTable) write(ctx context.Context, rs []pendingRow) ([]pendingRow, error) {
	if s.onRetry != nil {
		s.onRetry()
	}
	s.mu.Lock()
	for _, r := range rs {
		s.retried = append(s.retried, r.Values[0].(string))
	}
	s.mu.Unlock()
	return s.start(ctx, rs).wait()
}

func (s *memTable) rejected(error) bool { return false }

// written returns the ids of the rows written.
func (s *memTable) written() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[string]bool{}
	for id := range s.writes {
		ids[id] = true
	}
	return ids
}

// row returns the value of the row id.
func (s *memTable) row(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[id]
}

// timesWritten returns how often the row id was written.
func (s *memTable) timesWritten(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes[id]
}

// memDLQ is an in-memory dead-letter topic; while refusing, every write fails.
type memDLQ struct {
	refusing atomic.Bool

	mu      sync.Mutex
	letters []kafka.Message
}

func (d *memDLQ) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	if d.refusing.Load() {
		return errors.New("leader not available")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.letters = append(d.letters, msgs...)
	return nil
}

// has reports whether the record at offset o of partition p has a dead letter.
func (d *memDLQ) has(p int, o int64) bool {
	want := rows.Coordinates("t", p, o)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.letters {
		if coordinates(l) == want {
			return true
		}
	}
	return false
}

// coordinates are the source coordinates a dead letter's headers name, as the
// dead-letter tools read them.
func coordinates(l kafka.Message) string {
	d := rows.ParseLetter(l)
	return rows.Coordinates(d.SourceTopic, d.SourcePartition, d.SourceOffset)
}

// commitsOnlyWhatIsDone makes t refuse, and report as a test error, a commit
// position past a record that is neither written to tbl nor dead-lettered to dlq:
// the engine's promise that nothing committed is lost.
func commitsOnlyWhatIsDone(tb testing.TB, t *memTopic, tbl *memTable, dead *memDLQ) {
	checked := map[int]int64{} // by partition: offsets below are known done
	t.check = func(m kafka.Message) error {
		for o := checked[m.Partition]; o <= m.Offset; o++ {
			if tbl.timesWritten(kvID(m.Partition, o)) == 0 && !dead.has(m.Partition, o) {
				tb.Errorf("commit past offset %d of partition %d, which is neither written nor dead-lettered", o, m.Partition)
				return errors.New("commit past a record not done")
			}
			checked[m.Partition] = o + 1
		}
		return nil
	}
}

// runKV runs w on src, tbl and dlq until the returned stop is called; stop returns
// what the run returned.
func runKV(t *testing.T, w *Worker, src source, tbl sink, dead deadWriter) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ended := make(chan error, 1)
	go func() { ended <- w.process(ctx, src, tbl, dead) }()
	return func() error {
		cancel()
		select {
		case err := <-ended:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("the worker did not stop within 30 s of being told to")
			return nil
		}
	}
}
