package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSettled(t *testing.T) {
	calls := 0
	waited, err := settled(context.Background(), func() error {
		calls++
		switch calls {
		case 1:
			return kafka.GroupCoordinatorNotAvailable
		case 2:
			return fmt.Errorf("reading: %w", kafka.GroupLoadInProgress)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, waited, 2)
	assert.Equal(t, 3, calls)

	calls = 0
	_, err = settled(context.Background(), func() error { calls++; return kafka.UnknownTopicOrPartition })
	assert.ErrorIs(t, err, kafka.UnknownTopicOrPartition)
	assert.Equal(t, 1, calls, "an error that is not settling is returned at once")

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = settled(ctx, func() error { return kafka.NotCoordinatorForGroup })
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, kafka.NotCoordinatorForGroup, "the last answer is said")
}
