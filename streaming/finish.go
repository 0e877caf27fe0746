package streaming

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
)

// sink is where a worker writes its rows: the Cassandra table (cassandra.go), or
// an in-memory fake in unit tests.
type sink interface {
	// awaitSlots waits until half the write slots are free, or ctx is done.
	awaitSlots(ctx context.Context) error
	// start starts writing rows, each once, and returns once each has its write slot.
	start(ctx context.Context, rows []pendingRow) *writes
	// write writes rows, each once, and returns those that failed, each with its
	// error, and the first error.
	write(ctx context.Context, rows []pendingRow) (failed []pendingRow, err error)
	// rejected reports whether a row's write error says the sink refuses the row for
	// good: its record is then dead-lettered instead of retried.
	rejected(err error) bool
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
func (w *Worker) consume(ctx, work context.Context, tbl sink, items <-chan item, f *finishing) error {
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
func (w *Worker) start(ctx context.Context, tbl sink, batch []item) *inHand {
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
	if w.supersedes {
		h.rows, h.superseded = supersede(h.rows, w.keyColumns)
	}
	h.writes = tbl.start(ctx, h.rows)
	return h
}

// finishBatches finishes the batches received from started, in order, and hands
// their commit positions to f.commits as the committer takes them: a batch does not
// wait for the commit of the previous one, the committer gets the newest positions.
// On an error that ends the worker it hands over the positions of the batches
// finished before, calls stop, waits for the writes of the batches still coming,
// and returns the error. Once ctx is done the committer is gone: the positions not
// handed over are dropped (their records are consumed again).
func (w *Worker) finishBatches(ctx context.Context, tbl sink, started <-chan *inHand, f *finishing, stop func()) error {
	unsent := map[int]kafka.Message{} // by partition: the newest commit position not handed over
	positions := func() []kafka.Message { return slices.Collect(maps.Values(unsent)) }
	handOver := func() {
		if len(unsent) > 0 {
			select {
			case f.commits <- positions():
			case <-ctx.Done():
			}
		}
	}
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
				handOver()
				return nil
			}
			done, err := w.finish(ctx, tbl, h, f)
			if err != nil {
				handOver()
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

// finish waits for a started batch's writes and retries its failed rows until they
// are written, hands its invalid records to the dead-letter writer, and then
// returns what each of its partitions may commit: its last record, or the record
// before its first dead letter not yet written. The bytes of the records are given
// back to held, those of the dead letters once they are written.
func (w *Worker) finish(ctx context.Context, tbl sink, h *inHand, f *finishing) ([]kafka.Message, error) {
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
			if !tbl.rejected(r.err) {
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
