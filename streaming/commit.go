package streaming

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

const (
	// commitTimeout bounds an offset commit.
	commitTimeout = 10 * time.Second
)

// commitLoop commits, for each batch received from commits, the offsets after its
// last messages. A commit that fails (Kafka is down, the group is rebalancing) is
// retried with backoff until it succeeds or the next batch's offsets supersede it:
// the records are written, so at worst they are consumed and upserted again. It
// returns once commits is closed and its offsets committed, or ctx is done.
func (w *Worker) commitLoop(ctx context.Context, src source, commits <-chan []kafka.Message) {
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
		err := src.commit(cctx, msgs)
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
