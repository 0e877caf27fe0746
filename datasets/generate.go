package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/brianvoe/gofakeit/v6"
)

// Sources of records, as counted in results and written in record.User.Source.
const (
	SourceRandomUser = "randomuser"
	SourceFaker      = "faker"
)

// Tick names one tick of a run, for a generator.
type Tick struct {
	// WorkflowID and RunID identify the run; RunID is the run id of its first
	// execution.
	WorkflowID, RunID string
	// Tick counts from 0.
	Tick int
	// Interval is the run's tick interval: a source that calls out gets at most half.
	Interval time.Duration
}

// Seeds derives the sources' seeds of a tick from the same names as RecordID: the
// text seed randomuser.me takes and the number gofakeit takes (never 0, which would
// make gofakeit pick a random seed).
func (t Tick) Seeds() (text string, number int64) {
	sum := sha256.Sum256(fmt.Appendf(nil, "seed %q %q %d", t.WorkflowID, t.RunID, t.Tick))
	number = int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
	if number == 0 {
		number = 1
	}
	return hex.EncodeToString(sum[:8]), number
}

// Generator makes a tick's record values, the i-th with id ids[i], ready for JSON
// encoding, and says where they came from and, if it fell back to the faker, why.
// The same tick and ids give the same records from the same source. Generators are
// plain functions, not closures: the workflow calls Lookup, and workflowcheck would
// follow a closure made there into gofakeit.
type Generator func(ctx context.Context, src Sources, t Tick, ids []string) (values []any, source string, fallback error)

// Sources are what the producer lends a generator that calls out.
type Sources interface {
	// RandomUsers are a tick's users, formatted as record.User with the given ids:
	// from randomuser.me, or from the faker when the API fails or is slow (then
	// fallback says why).
	RandomUsers(ctx context.Context, t Tick, ids []string) (values []any, source string, fallback error)
}

// faked makes the records of a dataset that only the faker makes: one gofakeit
// seeded from the tick makes every record of the tick, in index order.
func faked(t Tick, ids []string, record func(f *gofakeit.Faker, id string) any) []any {
	_, seed := t.Seeds()
	f := gofakeit.New(seed)
	values := make([]any, len(ids))
	for i, id := range ids {
		values[i] = record(f, id)
	}
	return values
}
