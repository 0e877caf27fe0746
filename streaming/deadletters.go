package streaming

import (
	"context"
	"slices"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
)

// offsets says, per partition, how far the worker may commit: up to the last record
// whose batch is done (rows written, dead letters handed over), but never past a
// record whose dead letter is not written yet. So a dead-letter topic that cannot be
// written holds the commit of the partitions with dead letters in waiting only; the
// others go on. Rows after a held record are written (upserts), their offsets wait.
type offsets struct {
	mu    sync.Mutex
	parts map[int]*partOffsets
}

type partOffsets struct {
	last kafka.Message // the last record done: topic, partition and offset only
	dead []int64       // offsets of the records whose dead letters are not written, ascending
}

func newOffsets() *offsets { return &offsets{parts: map[int]*partOffsets{}} }

// position is m without what a commit does not need (key, value, headers).
func position(m kafka.Message) kafka.Message {
	return kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, HighWaterMark: m.HighWaterMark}
}

func (o *offsets) part(p int) *partOffsets {
	po, ok := o.parts[p]
	if !ok {
		po = &partOffsets{}
		o.parts[p] = po
	}
	return po
}

// done records a batch as done: last holds its last record of each partition, dead
// the records whose dead letters are handed to the writer. It returns what may be
// committed for those partitions.
func (o *offsets) done(last, dead []kafka.Message) []kafka.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range dead {
		po := o.part(m.Partition)
		po.dead = append(po.dead, m.Offset)
		slices.Sort(po.dead) // in order already, unless the partition was consumed again
	}
	for _, m := range last {
		o.part(m.Partition).last = position(m)
	}
	return o.committable(last)
}

// written records the dead letters of the records at srcs as written and returns
// what may be committed for their partitions.
func (o *offsets) written(srcs []kafka.Message) []kafka.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range srcs {
		po := o.part(m.Partition)
		if i := slices.Index(po.dead, m.Offset); i >= 0 {
			po.dead = slices.Delete(po.dead, i, i+1)
		}
	}
	return o.committable(srcs)
}

// committable returns, for each partition of msgs (once), the last record that may
// be committed: the last one done, or the one before the first dead letter not yet
// written (committing it commits that dead letter's offset, where consumption
// resumes). A partition with nothing done yet is left out.
func (o *offsets) committable(msgs []kafka.Message) []kafka.Message {
	var out []kafka.Message
	seen := map[int]bool{}
	for _, m := range msgs {
		if seen[m.Partition] {
			continue
		}
		seen[m.Partition] = true
		po := o.parts[m.Partition]
		if po == nil || po.last.Topic == "" {
			continue
		}
		c := po.last
		if len(po.dead) > 0 && po.dead[0] <= c.Offset {
			c.Offset = po.dead[0] - 1
		}
		out = append(out, c)
	}
	return out
}

// deadLetters is dead letters handed to the background writer, with the records
// they stand for.
type deadLetters struct {
	msgs    []kafka.Message // the dead letters
	srcs    []kafka.Message // their records' positions
	reasons []string
	bytes   int // what their records hold against the byte budget
}

// add adds the dead letter of the record m, invalid for the reason bad, which holds
// size bytes against the byte budget.
func (dl *deadLetters) add(m kafka.Message, bad *rows.InvalidError, size int) {
	dl.msgs = append(dl.msgs, rows.DeadLetter(m, bad))
	dl.srcs = append(dl.srcs, position(m))
	dl.reasons = append(dl.reasons, bad.Reason)
	dl.bytes += size
}

// deadQueue is the dead letters waiting for the writer, in order. It is not bounded
// itself: the byte budget is, since a dead letter's bytes are released only once it
// is written, so a dead-letter topic that cannot be written stops the fetching once
// the dead letters in waiting fill the budget.
type deadQueue struct {
	mu     sync.Mutex
	q      deadLetters
	closed bool
	more   chan struct{} // holds a token when q is not empty or the queue is closed
}

func newDeadQueue() *deadQueue { return &deadQueue{more: make(chan struct{}, 1)} }

func (d *deadQueue) signal() {
	select {
	case d.more <- struct{}{}:
	default:
	}
}

// put hands dl to the writer.
func (d *deadQueue) put(dl deadLetters) {
	d.mu.Lock()
	d.q.msgs = append(d.q.msgs, dl.msgs...)
	d.q.srcs = append(d.q.srcs, dl.srcs...)
	d.q.reasons = append(d.q.reasons, dl.reasons...)
	d.q.bytes += dl.bytes
	d.mu.Unlock()
	d.signal()
}

// close says that nothing more will be put.
func (d *deadQueue) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.signal()
}

// take waits for dead letters and returns all those queued; ok is false once the
// queue is closed and empty, or ctx is done.
func (d *deadQueue) take(ctx context.Context) (dl deadLetters, ok bool) {
	for {
		d.mu.Lock()
		if len(d.q.msgs) > 0 {
			dl, d.q = d.q, deadLetters{}
			d.mu.Unlock()
			return dl, true
		}
		closed := d.closed
		d.mu.Unlock()
		if closed {
			return dl, false
		}
		select {
		case <-d.more:
		case <-ctx.Done():
			return dl, false
		}
	}
}

// writeDeadLoop writes the dead letters put in queue, retrying each write with
// backoff for as long as the dead-letter topic refuses it (named on /healthz and in
// streaming_stuck_seconds), and then hands their partitions' new commit positions to
// commits and gives their bytes back to held. It returns once queue is closed and
// empty, or ctx is done (then the dead letters not written are not committed: they
// are consumed again).
func (w *Worker) writeDeadLoop(ctx context.Context, dlq deadWriter, queue *deadQueue, offs *offsets,
	held *budget, commits chan<- []kafka.Message) {
	for {
		dl, ok := queue.take(ctx)
		if !ok {
			return
		}
		unsent := dl.msgs
		if err := w.retry(ctx, "dlq", w.dlqTopic, func(ctx context.Context) error {
			var err error
			unsent, err = w.writeDeadLetters(ctx, dlq, unsent)
			return err
		}); err != nil {
			w.log.Warn("stopping with dead letters not written; their records are not committed and will be consumed again",
				"count", len(unsent), "err", err)
			return
		}
		for _, r := range dl.reasons {
			w.metrics.dlq.WithLabelValues(w.dataset.Name(), r).Inc()
		}
		held.release(dl.bytes)
		select {
		case commits <- offs.written(dl.srcs):
		case <-ctx.Done(): // the committer is gone: the records are consumed again
			return
		}
	}
}
