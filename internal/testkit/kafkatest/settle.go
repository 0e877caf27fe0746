package kafkatest

import (
	"context"
	"fmt"
	"time"

	"github.com/streampipe/streampipe/internal/kafkasec"
)

// settleWait bounds how long a helper asks again while Kafka answers that it is in
// passage. A group's coordinator loads the group's offsets for about half a second
// after a restart or a move, and on a loaded machine for some seconds; on a fresh
// Kafka the first group request creates __consumer_offsets, which takes a few seconds.
const settleWait = 30 * time.Second

// settled calls do until it returns nil or an error that is not settling, ctx ends or
// settleWait has passed, and returns the settling errors it waited out and do's last
// error (saying how long it waited, if it did).
func settled(ctx context.Context, do func() error) (waited []error, err error) {
	start := time.Now()
	pause := 50 * time.Millisecond
	for {
		err = do()
		if !kafkasec.Settling(err) {
			return waited, err
		}
		if time.Since(start) > settleWait {
			return waited, fmt.Errorf("%w (still, after %d tries in %s)", err, len(waited)+1, time.Since(start).Round(time.Millisecond))
		}
		waited = append(waited, err)
		select {
		case <-ctx.Done():
			return waited, fmt.Errorf("%w (waiting for kafka to settle: %w)", ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}
