package streaming

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBudget(t *testing.T) {
	b := newBudget(100)
	ctx := t.Context()
	require.NoError(t, b.acquire(ctx, 60))
	require.NoError(t, b.acquire(ctx, 40)) // exactly full

	got := make(chan error, 1)
	go func() { got <- b.acquire(ctx, 10) }()
	select {
	case err := <-got:
		t.Fatalf("acquired beyond the budget: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(60)
	require.NoError(t, <-got)

	// Larger than the whole budget: waits until nothing is held, then passes.
	go func() { got <- b.acquire(ctx, 500) }()
	select {
	case err := <-got:
		t.Fatalf("acquired beyond the budget: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(50)
	require.NoError(t, <-got)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, b.acquire(short, 1), context.DeadlineExceeded)
}
