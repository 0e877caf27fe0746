package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/rows"
)

const (
	// commitTimeout bounds an offset commit.
	commitTimeout = 10 * time.Second
	// quietProbe: during an outage, a fetch that sees neither a message nor an error
	// for this long makes the worker ask the brokers whether they are back.
	quietProbe = 3 * time.Second
	// fetchSettle: a fetched message ends an outage only this long after its last
	// error (the reader may hand out messages it fetched before the outage).
	fetchSettle = 2 * time.Second
)

// Worker consumes one dataset's topic in a consumer group and writes its table.
type Worker struct {
	cfg     Config
	dataset rows.Mapping
	metrics *Metrics
	log     *slog.Logger
	ready   atomic.Bool
	waiting atomic.Pointer[status] // what start-up waits for; nil when it does not

	// What the worker waits for after start-up: each outage is logged once and named
	// on /healthz.
	kafka     *outage // the brokers: fetches and commits
	cassandra *outage // writes of rows
	dlqTopic  *outage // writes of dead letters

	bounds *fetchBounds // of what the reader fetches
	// keyColumns are the places of the primary key in a row, to supersede rows;
	// nil for a dataset whose write times come from the values, which decide.
	keyColumns []int
}

// New checks cfg and returns a Worker for dataset that reports to metrics.
func New(cfg Config, dataset rows.Mapping, metrics *Metrics) (*Worker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("dataset", dataset.Name(), "topic", cfg.Topic)
	var keyColumns []int
	if !writeTimeFromValue(dataset) {
		keyColumns = primaryKeyColumns(dataset)
	}
	return &Worker{
		keyColumns: keyColumns,
		cfg:        cfg,
		dataset:    dataset,
		metrics:    metrics,
		log:        log,
		kafka:      newOutage(cfg.kafkaServer(), log),
		cassandra:  newOutage(cfg.cassandraServer(), log),
		dlqTopic:   newOutage(cfg.dlqServer(), log),
		bounds:     newFetchBounds(cfg),
	}, nil
}

// Name is the dataset's name.
func (w *Worker) Name() string { return w.dataset.Name() }

// Ready reports whether the worker is consuming and waits for nothing.
func (w *Worker) Ready() bool { return w.ready.Load() && w.problem().public == "" }

// problem says what the worker waits for after start-up, e.g. "waiting for kafka
// (KAFKA_BROKERS) since 2026-12-01T10:00:00Z (12s)"; nothing when it waits for
// nothing.
func (w *Worker) problem() status {
	return join(w.kafka.problem(), w.cassandra.problem(), w.dlqTopic.problem())
}

// startup says what start-up waits for (e.g. "waiting for kafka (KAFKA_BROKERS)
// since …"); nothing when it waits for nothing.
func (w *Worker) startup() status {
	if s := w.waiting.Load(); s != nil {
		return *s
	}
	return status{}
}

// Run connects to Cassandra and creates what is missing there, then creates the
// topics missing in Kafka, waiting for each server while it is unreachable, for at
// most StartupTimeout, and retrying the creations once it answers until they
// succeed. It then joins the consumer group and processes micro-batches until ctx
// is done, finishes the batches in hand (for at most DrainTimeout), commits them,
// leaves the group and returns nil. Any other return is an error that retrying will
// not cure.
func (w *Worker) Run(ctx context.Context) (runErr error) {
	defer w.ready.Store(false)
	w.metrics.init(w.dataset.Name())
	tbl, err := w.openTable(ctx)
	if err != nil {
		return w.startupErr(ctx, err)
	}
	defer tbl.close()
	// The source topic too: a group that joins before its topic exists is assigned
	// nothing, and stays so when the topic appears (on a fresh stack the producer's
	// first run creates it).
	transport := w.cfg.Security.Transport()
	defer transport.CloseIdleConnections()
	if err := w.await(ctx, w.cfg.kafkaServer(), "check the broker list and that Kafka is running and listens there",
		func(ctx context.Context) error { return kafkasec.Dial(ctx, w.cfg.Brokers) }); err != nil {
		return w.startupErr(ctx, err)
	}
	if err := w.prepare(ctx, w.cfg.kafkaServer(), "creating the topics",
		func(ctx context.Context) error {
			if err := ensureTopic(ctx, w.cfg, transport, w.cfg.Topic); err != nil {
				return err
			}
			return ensureTopic(ctx, w.cfg, transport, w.cfg.DLQTopic,
				kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(dlqMaxMessageBytes)})
		}); err != nil {
		return w.startupErr(ctx, err)
	}
	w.warnDLQSmaller(ctx, transport)
	dlq := newDLQWriter(w.cfg, transport)
	defer dlq.Close()
	cons := newConsumer(w.cfg, w.log, w.bounds)
	defer cons.close()

	// The batches in hand are finished after ctx is done, for at most DrainTimeout.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.DrainTimeout, cancel) })
	defer stop()

	// Fetch and decode the next batch while this one is being written.
	items := make(chan item, w.cfg.BatchRows)
	fetchErr := make(chan error, 1)
	fetchCtx, stopFetch := context.WithCancel(ctx)
	fetched := make(chan struct{})
	defer func() { stopFetch(); <-fetched }()
	held := newBudget(w.cfg.MaxBufferBytes)
	go func() {
		defer close(fetched)
		defer close(items)
		if err := w.fetch(fetchCtx, cons, items, held); err != nil {
			fetchErr <- err
		}
	}()

	// Commit in order, off the write path: the next batch is written while the
	// previous batch's commit is in flight. Run returns only after the last commit.
	commits := make(chan []kafka.Message, 1)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		w.commitLoop(work, cons, commits)
	}()
	defer func() {
		close(commits)
		<-committed
	}()

	// Dead letters are written in the background: a dead-letter topic that cannot be
	// written holds the commit of the partitions whose dead letters wait, not the
	// others. Its defer runs before the committer's: the last commit follows the last
	// dead letter.
	offs := newOffsets()
	dead := newDeadQueue()
	deadDone := make(chan struct{})
	go func() {
		defer close(deadDone)
		w.writeDeadLoop(work, dlq, dead, offs, held, commits)
	}()
	defer func() {
		dead.close()
		if runErr != nil { // a worker that stops on an error does not wait for the dead-letter topic
			cancel()
		}
		<-deadDone
	}()

	w.ready.Store(true)
	w.log.Info("consuming", "group", w.cfg.GroupID, "kafka_security", w.cfg.Security.String(), "table", w.cfg.Keyspace+"."+w.cfg.Table,
		"batch_rows", w.cfg.BatchRows, "batch_wait", w.cfg.BatchWait)
	if err := w.consume(ctx, work, tbl, items, &finishing{queue: dead, offs: offs, held: held, commits: commits}); err != nil {
		return err
	}
	select {
	case err := <-fetchErr:
		return err
	default:
	}
	w.log.Info("stopping: the batches in hand are written; committing them")
	return nil
}

// consume collects micro-batches from items until ctx is done or items is closed,
// starts writing each at once and has finishBatches finish them in order, with
// work, which outlives ctx by DrainTimeout. It returns once every batch in hand is
// finished, or the first error that ends the worker.
//
// A batch is collected once the batch before the previous one is written and half
// the write slots (Concurrency) are free, and takes what was fetched meanwhile: its
// writes start while the previous batch's last writes are in flight, so that
// Cassandra always has writes to do (a batch that waited for all its writes before
// the next one was collected left Cassandra idle at the end of every batch), and
// it is large enough to fill its groups (batches collected whenever a record
// arrives would be written a few rows at a time). The byte budget bounds the
// records the batches in hand hold.
func (w *Worker) consume(ctx, work context.Context, tbl *table, items <-chan item, f *finishing) error {
	loop, stop := context.WithCancel(ctx) // stopped by a batch that ends the worker
	defer stop()
	// At most two batches are being written; more wait only while the oldest is
	// retried (Cassandra is down, say), where they would fail too.
	started := make(chan *inHand, 2)
	f.free = make(chan []item, 2)
	finished := make(chan error, 1)
	go func() { finished <- w.finishBatches(work, tbl, started, f, stop) }()
	var writing []*writes // of the last batches started, oldest first
	for tbl.awaitSlots(loop) == nil {
		if len(writing) == writingBatches {
			writing[0].awaitEnd()
			writing = writing[1:]
		}
		var buf []item
		select {
		case buf = <-f.free:
		default:
			buf = make([]item, 0, w.cfg.BatchRows)
		}
		batch, more := collect(loop, items, w.cfg.BatchRows, w.cfg.BatchWait, buf)
		if len(batch) > 0 {
			h := w.start(work, tbl, batch)
			writing = append(writing, h.writes)
			started <- h // the finishing owns h from here
		}
		if !more {
			break
		}
	}
	close(started)
	return <-finished
}

// writingBatches is how many batches may be being written at once.
const writingBatches = 2

// finishing is where finished batches go: their dead letters to queue, their
// commit positions (offs) to commits, their records' bytes back to held, their
// buffers to free.
type finishing struct {
	queue   *deadQueue
	offs    *offsets
	held    *budget
	commits chan<- []kafka.Message
	free    chan []item
}

// inHand is a micro-batch whose writes are started.
type inHand struct {
	batch  []item
	rows   []pendingRow // its valid records' rows
	dl     deadLetters  // its invalid records' dead letters, and its rows' Cassandra rejects
	writes *writes      // the rows' first writes
	start  time.Time
	// superseded counts the rows not written because a later record of the batch
	// overwrites them (supersede): they count as written.
	superseded int
}

// start splits a batch into rows and dead letters and starts writing the rows.
func (w *Worker) start(ctx context.Context, tbl *table, batch []item) *inHand {
	h := &inHand{batch: batch, rows: make([]pendingRow, 0, len(batch)), start: time.Now()}
	for i := range batch {
		it := &batch[i]
		m := it.msg
		if it.skipped {
			continue
		}
		if it.bad != nil {
			w.log.Warn("invalid record: sending it to the dead-letter topic", "reason", it.bad.Reason,
				"error", it.bad.Detail, "partition", m.Partition, "offset", m.Offset)
			h.dl.add(m, it.bad, it.size)
			continue
		}
		h.rows = append(h.rows, pendingRow{Row: it.row, msg: &it.msg, size: it.size})
	}
	h.rows, h.superseded = supersede(h.rows, w.keyColumns)
	h.writes = tbl.start(ctx, h.rows)
	return h
}

// finishBatches finishes the batches received from started, in order, and hands
// their commit positions to f.commits as the committer takes them: a batch does not
// wait for the commit of the previous one, the committer gets the newest positions.
// On an error that ends the worker it hands over the positions of the batches
// finished before, calls stop, waits for the writes of the batches still coming,
// and returns the error.
func (w *Worker) finishBatches(ctx context.Context, tbl *table, started <-chan *inHand, f *finishing, stop func()) error {
	unsent := map[int]kafka.Message{} // by partition: the newest commit position not handed over
	positions := func() []kafka.Message { return slices.Collect(maps.Values(unsent)) }
	for {
		var out chan<- []kafka.Message // nil, which never takes, while nothing is unsent
		if len(unsent) > 0 {
			out = f.commits
		}
		select {
		case out <- positions():
			clear(unsent)
			continue
		case h, ok := <-started:
			if !ok {
				if len(unsent) > 0 {
					f.commits <- positions()
				}
				return nil
			}
			done, err := w.finish(ctx, tbl, h, f)
			if err != nil {
				if len(unsent) > 0 {
					f.commits <- positions()
				}
				stop()
				for h := range started {
					_, _ = h.writes.wait()
				}
				return err
			}
			for _, m := range done {
				unsent[m.Partition] = m
			}
			clear(h.batch) // the buffer is reused: it holds no records any more
			select {
			case f.free <- h.batch[:0]:
			default:
			}
		}
	}
}

// startupErr is what Run returns when start-up failed with err: nil if ctx is done,
// since a stop asked for during start-up is no failure.
func (w *Worker) startupErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		w.log.Info("stopped during start-up", "err", err)
		return nil
	}
	return err
}

// finish waits for a started batch's writes and retries its failed rows until they
// are written, hands its invalid records to the dead-letter writer, and then
// returns what each of its partitions may commit: its last record, or the record
// before its first dead letter not yet written. The bytes of the records are given
// back to held, those of the dead letters once they are written.
func (w *Worker) finish(ctx context.Context, tbl *table, h *inHand, f *finishing) ([]kafka.Message, error) {
	name := w.dataset.Name()
	// A row Cassandra rejects as invalid, while the statement is known to be good,
	// is dead-lettered alone; the other failed rows are retried.
	pending, rejected := h.rows, 0
	first := h.writes // the first attempt, started with the batch
	if err := w.retry(ctx, "cassandra", w.cassandra, func(ctx context.Context) error {
		var failed []pendingRow
		var err error
		if first != nil {
			failed, err = first.wait()
			first = nil
		} else {
			failed, err = tbl.write(ctx, pending)
		}
		pending = failed[:0]
		for _, r := range failed {
			if !rowRejected(r.err, tbl) {
				pending = append(pending, r)
				continue
			}
			w.log.Warn("cassandra rejected a row: sending its record to the dead-letter topic",
				"error", r.err, "partition", r.msg.Partition, "offset", r.msg.Offset)
			h.dl.add(*r.msg, rows.Invalid(rows.ReasonRejected, "cassandra rejected the row: %v", r.err), r.size)
			rejected++
		}
		if len(pending) == 0 {
			return nil
		}
		if rejected > 0 { // err may be a rejected row's
			return fmt.Errorf("upserting %d of %d rows: %w", len(pending), len(h.rows), pending[0].err)
		}
		return err
	}); err != nil {
		return nil, err
	}
	now := time.Now()
	deleted := 0
	for _, r := range h.rows {
		if r.Delete {
			deleted++
		}
	}
	w.metrics.written.WithLabelValues(name).Add(float64(len(h.rows) + h.superseded - rejected - deleted))
	w.metrics.deleted.WithLabelValues(name).Add(float64(deleted))
	latency := w.metrics.latency.WithLabelValues(name)
	for _, r := range h.rows {
		latency.Observe(now.Sub(r.msg.Time).Seconds())
	}

	n := 0
	for _, it := range h.batch {
		n += it.size
	}
	f.held.release(n - h.dl.bytes)
	if len(h.dl.msgs) > 0 {
		f.queue.put(h.dl)
	}

	last := lastPerPartition(h.batch)
	for _, m := range last {
		w.metrics.setLag(name, m.Topic, m.Partition, m.Offset, m.HighWaterMark)
	}
	took := time.Since(h.start)
	w.metrics.batchRows.WithLabelValues(name).Observe(float64(len(h.batch)))
	w.metrics.batchTime.WithLabelValues(name).Observe(took.Seconds())
	w.log.Debug("batch written", "records", len(h.batch), "rows", len(h.rows), "dlq", len(h.dl.msgs), "took", took)
	return f.offs.done(last, h.dl.srcs), nil
}

// fetch fetches messages, decodes them and sends them to items until ctx is done or
// Kafka says something that waiting will not change (then it returns why). Every
// other fetch error is an outage: fetch retries with backoff, for as long as it
// lasts, and replaces the reader when it outlasts rebuildAfter. A quiet reader
// during an outage is asked about with a metadata request, so that an idle worker
// also sees Kafka come back.
func (w *Worker) fetch(ctx context.Context, cons *consumer, items chan<- item, held *budget) error {
	consumed := w.metrics.consumed.WithLabelValues(w.dataset.Name())
	retries := w.metrics.retries.WithLabelValues(w.dataset.Name(), "fetch")
	b := newBackoff()
	for {
		fetchCtx, cancel := ctx, context.CancelFunc(func() {})
		since, last, _ := w.kafka.down()
		if !since.IsZero() {
			fetchCtx, cancel = context.WithTimeout(ctx, quietProbe)
		}
		m, err := cons.reader().FetchMessage(fetchCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			err = w.cfg.Security.Explain(ctx, w.cfg.Brokers, err)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			b = newBackoff()
			w.kafka.okIfQuiet(fetchSettle)
		case errors.Is(err, context.DeadlineExceeded) && !since.IsZero():
			// No message and no error for quietProbe during an outage.
			if time.Since(last) >= quietProbe && kafkasec.Metadata(ctx, w.cfg.Security, w.cfg.Brokers, w.cfg.Topic) == nil {
				w.kafka.ok()
			}
			continue
		case kafkaFatal(err):
			return fmt.Errorf("fetching from topic %s of %s: %w", w.cfg.Topic, w.cfg.kafkaAt(), err)
		default:
			w.kafka.fail(fmt.Errorf("fetching from topic %s: %w", w.cfg.Topic, err))
			retries.Inc()
			if since, _, _ := w.kafka.down(); time.Since(since) >= rebuildAfter && cons.age() >= rebuildAfter {
				cons.rebuild()
			}
			if sleep(ctx, b.next()) != nil {
				return nil
			}
			continue
		}
		consumed.Inc()
		it := w.decode(m)
		if held.acquire(ctx, it.size) != nil {
			return nil
		}
		select {
		case items <- it:
		case <-ctx.Done():
			return nil
		}
	}
}

// commitLoop commits, for each batch received from commits, the offsets after its
// last messages. A commit that fails (Kafka is down, the group is rebalancing) is
// retried with backoff until it succeeds or the next batch's offsets supersede it:
// the records are written, so at worst they are consumed and upserted again. It
// returns once commits is closed and its offsets committed, or ctx is done.
func (w *Worker) commitLoop(ctx context.Context, cons *consumer, commits <-chan []kafka.Message) {
	retries := w.metrics.retries.WithLabelValues(w.dataset.Name(), "commit")
	pending := map[int]kafka.Message{} // by partition: the last message written
	high := map[int]int64{}            // by partition: the offset of the last message committed
	// Batches and dead letters are done in two goroutines: their commit positions may
	// arrive out of order, and a commit never goes back.
	merge := func(last []kafka.Message) {
		for _, m := range last {
			if p, ok := pending[m.Partition]; ok && p.Offset >= m.Offset {
				continue
			}
			if h, ok := high[m.Partition]; ok && h >= m.Offset {
				continue
			}
			pending[m.Partition] = m
		}
	}
	b := newBackoff()
	for open := true; ; {
		if len(pending) == 0 {
			select {
			case last, ok := <-commits:
				if !ok {
					return
				}
				merge(last)
			case <-ctx.Done():
				return
			}
		}
	drain: // whatever else is queued: only the newest offsets matter
		for open {
			select {
			case last, ok := <-commits:
				if !ok {
					open = false
					break drain
				}
				merge(last)
			default:
				break drain
			}
		}
		msgs := make([]kafka.Message, 0, len(pending))
		for _, m := range pending {
			msgs = append(msgs, m)
		}
		cctx, cancel := context.WithTimeout(ctx, commitTimeout)
		err := cons.reader().CommitMessages(cctx, msgs...)
		cancel()
		switch {
		case err == nil:
			for _, m := range msgs {
				high[m.Partition] = m.Offset
			}
			clear(pending)
			b = newBackoff()
			w.kafka.ok()
			if !open {
				return
			}
			continue
		case ctx.Err() != nil:
			return
		case !open:
			w.log.Warn("committing the last offsets failed; their records are written and will be consumed again", "err", err)
			return
		}
		retries.Inc()
		w.kafka.fail(fmt.Errorf("committing offsets (the records are written; at worst they are consumed again): %w", err))
		select { // back off, taking newer offsets meanwhile
		case <-time.After(b.next()):
		case last, ok := <-commits:
			if !ok {
				open = false
			} else {
				merge(last)
			}
		case <-ctx.Done():
			return
		}
	}
}

// item is a fetched message and its decoding: a row, or why it cannot be one.
type item struct {
	msg  kafka.Message
	row  rows.Row
	bad  *rows.InvalidError
	size int // the bytes it holds, as counted against MaxBufferBytes
	// skipped: the message stands for a transaction marker or records of an aborted
	// transaction (fetchcut.go): no row and no dead letter, only an offset to commit.
	skipped bool
}

// decode turns a message into a row, or says why it cannot become one. A decoder
// that panics dead-letters the message (reason panic, the stack in a header) instead
// of killing the process, which would then crash-loop on the same record.
func (w *Worker) decode(m kafka.Message) (it item) {
	defer func() { it.size = it.bytes() }()
	if bad, skipped := w.bounds.cutRecord(&m); skipped || bad != nil {
		return item{msg: m, bad: bad, skipped: skipped}
	}
	if len(m.Value) > w.cfg.MaxRecordBytes {
		// A response kafka-go got unchanged (a fetch version fetchcut does not
		// rebuild): only the value's beginning is kept, in a copy, so that the whole
		// value is not held while it waits for its batch.
		bad := tooLarge(len(m.Value), w.cfg.MaxRecordBytes)
		m.Value = append([]byte(nil), truncate(m.Value, truncatedValueBytes)...)
		return item{msg: m, bad: bad}
	}
	valueTimed := writeTimeFromValue(w.dataset)
	if !valueTimed {
		if bad := checkTime(m.Time, time.Now()); bad != nil {
			return item{msg: m, bad: bad}
		}
	}
	defer func() {
		if r := recover(); r != nil {
			bad := rows.Invalid(rows.ReasonPanic, "the %s decoder panicked: %s", w.dataset.Name(),
				truncate(fmt.Appendf(nil, "%v", r), maxStackBytes/4))
			bad.Stack = truncate(debug.Stack(), maxStackBytes)
			it = item{msg: m, bad: bad}
		}
	}()
	if row, ok, err := w.tombstone(m, valueTimed); ok {
		if bad := rows.AsInvalid(err); bad != nil {
			return item{msg: m, bad: bad}
		}
		return item{msg: m, row: row}
	}
	row, err := decodeMessage(w.dataset, m)
	if err != nil {
		bad := rows.AsInvalid(err)
		if bad == nil {
			bad = rows.Invalid("invalid", "%v", err)
		}
		return item{msg: m, bad: bad}
	}
	if !valueTimed {
		row.WriteTime = recordWriteTime(m)
	} else if bad := checkTime(row.WriteTime, time.Now()); bad != nil {
		return item{msg: m, bad: bad}
	}
	return item{msg: m, row: row}
}

// bytes is what an item holds: its message's key, value and headers (each with its
// headerOverhead), twice for a record decoded into a row (the row holds its own copy of the values).
func (it item) bytes() int {
	n := len(it.msg.Key) + len(it.msg.Value)
	for _, h := range it.msg.Headers {
		n += len(h.Key) + len(h.Value) + headerOverhead
	}
	if it.bad == nil {
		n *= 2
	}
	return n
}

// Timestamps a record may carry: it is its row's write time (USING TIMESTAMP), so a
// record without one (-1) or with an absurd one would silently lose to, or forever
// win over, every other version of its row. The same bounds hold for a write time
// taken from the value (rows.ValueTimed).
var (
	minRecordTime    = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxRecordTimeAdd = 24 * time.Hour // after now
)

// tombstone decodes a record with a key and a null value into the deletion of its
// row, at the record's write time, where the dataset's rows are named by their keys
// and tombstones are not kept; ok is false for any other record, which is decoded.
func (w *Worker) tombstone(m kafka.Message, valueTimed bool) (row rows.Row, ok bool, err error) {
	ts, isTombstoner := w.dataset.(rows.Tombstoner)
	if m.Value != nil || len(m.Key) == 0 || !isTombstoner || valueTimed || w.cfg.KeepTombstones {
		return rows.Row{}, false, nil
	}
	row, err = ts.Tombstone(m.Key)
	row.Delete, row.WriteTime = true, recordWriteTime(m)
	return row, true, err
}

// recordWriteTime is the write time of the row of record m: its Kafka timestamp, a
// whole millisecond, plus its offset modulo 1000 in microseconds. Kafka timestamps
// have milliseconds only, and two versions of a row written at the same time tie in
// Cassandra, which then keeps the larger value, not the later one: the offset breaks
// the tie, so that of two versions of a key in one millisecond the later one wins,
// whatever their values, in one micro-batch or two, and on every redelivery (the
// write time depends on the record alone). Offsets that straddle a multiple of 1000
// within one millisecond would compare the wrong way round: within a micro-batch
// the earlier version is then not written at all (supersede); across micro-batches,
// that one case stays Cassandra's.
func recordWriteTime(m kafka.Message) time.Time {
	return m.Time.Truncate(time.Millisecond).Add(time.Duration(m.Offset%1000) * time.Microsecond)
}

// checkTime says why a record's timestamp t cannot be its row's write time, or nil.
func checkTime(t, now time.Time) *rows.InvalidError {
	switch {
	case t.IsZero():
		return rows.Invalid(rows.ReasonBadTimestamp, "the record has no timestamp")
	case t.Before(minRecordTime):
		return rows.Invalid(rows.ReasonBadTimestamp, "timestamp %s is before %s", t.UTC().Format(time.RFC3339Nano), minRecordTime.Format(time.DateOnly))
	case t.After(now.Add(maxRecordTimeAdd)):
		return rows.Invalid(rows.ReasonBadTimestamp, "timestamp %s is more than %v in the future", t.UTC().Format(time.RFC3339Nano), maxRecordTimeAdd)
	}
	return nil
}

// maxStackBytes bounds the stack trace a dead letter carries.
const maxStackBytes = 4 << 10

// truncate returns b cut to at most n bytes.
func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n]
}

// retry calls fn until it succeeds, backing off between attempts (capped, with
// jitter), for as long as it takes: each failure goes to o, which logs the outage
// once. It gives up only on an error that will recur (fatal) or when ctx is done.
// The dead-letter topic has no fatal errors: one that is missing or that the worker
// may not write is waited for like an outage (named on /healthz, counted in
// streaming_stuck_seconds), so that granting the permission or creating the topic
// lets the worker go on by itself.
func (w *Worker) retry(ctx context.Context, stage string, o *outage, fn func(context.Context) error) error {
	stuck := w.metrics.stuck.WithLabelValues(w.dataset.Name(), stage)
	// After the first failure the gauge grows every second, also while an attempt
	// hangs (a write to a missing topic may wait for seconds). A batch written at the
	// first attempt, the usual case, starts nothing.
	var stopTicking func()
	defer func() {
		if stopTicking != nil {
			stopTicking()
		}
		stuck.Set(0)
	}()
	start := time.Now()
	for b := newBackoff(); ; {
		err := fn(ctx)
		if err == nil {
			o.ok()
			return nil
		}
		if stage != "dlq" && fatal(err) {
			return fmt.Errorf("writing a batch (%s), which cannot succeed: %w", stage, err)
		}
		o.fail(err)
		stuck.Set(time.Since(start).Seconds())
		if stopTicking == nil {
			stopTicking = tickStuck(stuck, start)
		}
		w.metrics.retries.WithLabelValues(w.dataset.Name(), stage).Inc()
		if sleep(ctx, b.next()) != nil {
			return fmt.Errorf("writing a batch (%s): gave up at shutdown, nothing committed: %w", stage, err)
		}
	}
}

// tickStuck sets the gauge to the time since start every second until the
// function it returns is called, which waits for it to stop.
func tickStuck(stuck prometheus.Gauge, start time.Time) (stop func()) {
	tick := time.NewTicker(time.Second)
	done := make(chan struct{})
	var ticking sync.WaitGroup
	ticking.Go(func() {
		for {
			select {
			case <-tick.C:
				stuck.Set(time.Since(start).Seconds())
			case <-done:
				return
			}
		}
	})
	return func() { close(done); tick.Stop(); ticking.Wait() }
}

// lastPerPartition returns the last message of each partition in batch.
func lastPerPartition(batch []item) []kafka.Message {
	idx := map[int]int{}
	var last []kafka.Message
	for _, it := range batch {
		m := it.msg
		if i, ok := idx[m.Partition]; ok {
			last[i] = m
			continue
		}
		idx[m.Partition] = len(last)
		last = append(last, m)
	}
	return last
}

// logf adapts a slog logger to kafka-go's printf-style logger.
func logf(l *slog.Logger, level slog.Level) func(string, ...any) {
	return func(format string, args ...any) {
		l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}
