package streaming_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

// A ceiling is what plain gocql can write into the worker's table: the limit the
// worker is measured against. Two client methods are measured, each at several
// settings, and the best setting of each is reported.

// writeFunc writes the next rows of one writer goroutine and returns how many.
type writeFunc func(ctx context.Context) (int, error)

// ceiling runs inFlight writers, made by newWriter on one session whose host
// selection policy is policy, for d and returns the rows/s they wrote.
func ceiling(b *testing.B, p *pipe, policy gocql.HostSelectionPolicy, inFlight int, d time.Duration,
	newWriter func(s *gocql.Session, writer int) writeFunc) float64 {
	cluster := gocql.NewCluster(p.db.hosts...)
	cluster.PoolConfig.HostSelectionPolicy = policy
	cluster.Consistency = gocql.LocalQuorum
	session, err := cluster.CreateSession()
	require.NoError(b, err)
	defer session.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var rows, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := range inFlight {
		write := newWriter(session, g)
		wg.Go(func() {
			for ctx.Err() == nil {
				n, err := write(ctx)
				switch {
				case err == nil:
					rows.Add(int64(n))
				case ctx.Err() == nil:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Zero(b, failed.Load(), "raw writes failed")
	return float64(rows.Load()) / time.Since(start).Seconds()
}

// userArgs are the insert statement's values for a new user numbered i, written now.
func userArgs(i int) (id gocql.UUID, args []any) {
	id, err := gocql.RandomUUID()
	if err != nil {
		panic(err)
	}
	u := user(id.String(), i, 1)
	return id, []any{id, u.FirstName, u.LastName, u.Gender, u.Address, u.PostCode,
		u.Email, u.Username, u.DOB, u.RegisteredDate, u.Phone, u.Picture, time.Now().UnixMicro()}
}

// rawCeiling upserts users one prepared insert at a time into the table for d,
// inFlight at a time, and returns rows/s.
func rawCeiling(b *testing.B, p *pipe, insert string, inFlight int, d time.Duration) float64 {
	policy := gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy(), gocql.ShuffleReplicas())
	return ceiling(b, p, policy, inFlight, d, func(s *gocql.Session, g int) writeFunc {
		i := g * 1_000_000
		return func(ctx context.Context) (int, error) {
			i++
			_, args := userArgs(i)
			return 1, s.Query(insert, args...).Idempotent(true).ExecContext(ctx)
		}
	})
}

// groupedCeiling upserts users into the table for d in unlogged batches of size
// rows that share a replica set, inFlight batches at a time, and returns rows/s.
// Each writer fills one bucket per replica set (as the Spark Cassandra connector
// does with batch.grouping.key = replica_set) and writes a bucket when it is full:
// a batch never spans replica sets, so on a cluster each goes to a replica of all
// its rows and no coordinator forwards rows elsewhere. The replica sets are the
// streaming worker's own (streaming.NewReplicaSets), so the ceiling groups exactly
// as the worker does. Each row keeps its own write timestamp.
func groupedCeiling(b *testing.B, p *pipe, insert string, size, inFlight int, d time.Duration) float64 {
	policy := gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	return ceiling(b, p, policy, inFlight, d, func(s *gocql.Session, g int) writeFunc {
		sets := streaming.NewReplicaSets(s, testKeyspace, p.table, datasets.Users.Rows.Columns())
		i := g * 1_000_000
		buckets := map[string][][]any{}
		return func(ctx context.Context) (int, error) {
			for {
				i++
				_, args := userArgs(i)
				set := sets.Of(rows.Row{Values: args[:len(args)-1]}) // the columns' values, without the write time
				if set == "" {
					return 0, errors.New("no replica is known for a row")
				}
				buckets[set] = append(buckets[set], args)
				if len(buckets[set]) < size {
					continue
				}
				batch := s.Batch(gocql.UnloggedBatch)
				for _, args := range buckets[set] {
					batch.Entries = append(batch.Entries, gocql.BatchEntry{Stmt: insert, Args: args, Idempotent: true})
				}
				delete(buckets, set)
				return size, batch.ExecContext(ctx)
			}
		}
	})
}

// bestCeiling is the best rows/s of one client method, the setting that gave it, and
// how to measure it again at that setting for a while.
type bestCeiling struct {
	rate    float64
	setting string
	again   func(d time.Duration) float64
}

// ceilingSettings are the settings each method is tried at, for ceilingDuration each.
type ceilingSettings struct {
	singleInFlight, groupSizes, groupInFlight []int
}

// oneNode are the settings for the one-node stack; more in flight wrote no more there.
var oneNode = ceilingSettings{
	singleInFlight: []int{64, 96, 128},
	groupSizes:     []int{10, 25, 50},
	groupInFlight:  []int{8, 16, 32},
}

const ceilingDuration = 5 * time.Second

// measureCeilings measures both client methods into p's table (made with
// createUsersTable), each at every setting of at after a warm-up, and returns the
// best of each.
func measureCeilings(b *testing.B, p *pipe, insert string, at ceilingSettings) (single, grouped bestCeiling) {
	rawCeiling(b, p, insert, at.singleInFlight[len(at.singleInFlight)-1], ceilingDuration) // warm-up
	for _, inFlight := range at.singleInFlight {
		r := rawCeiling(b, p, insert, inFlight, ceilingDuration)
		b.Logf("ceiling, single-row inserts, %d in flight: %.0f rows/s", inFlight, r)
		if r > single.rate {
			single = bestCeiling{r, fmt.Sprintf("%d in flight", inFlight),
				func(d time.Duration) float64 { return rawCeiling(b, p, insert, inFlight, d) }}
		}
	}
	for _, size := range at.groupSizes {
		for _, inFlight := range at.groupInFlight {
			r := groupedCeiling(b, p, insert, size, inFlight, ceilingDuration)
			b.Logf("ceiling, batches of %d rows by replica set, %d in flight: %.0f rows/s", size, inFlight, r)
			if r > grouped.rate {
				grouped = bestCeiling{r, fmt.Sprintf("%d rows × %d in flight", size, inFlight),
					func(d time.Duration) float64 { return groupedCeiling(b, p, insert, size, inFlight, d) }}
			}
		}
	}
	return single, grouped
}

// createUsersTable creates a table of the test keyspace with the users dataset's
// columns and returns the upsert the ceilings write with (its last value is the
// write timestamp).
func createUsersTable(b *testing.B, p *pipe, name string) (insert string) {
	cols := datasets.Users.Rows.Columns()
	defs := make([]string, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		defs[i], names[i] = c.Name+" "+c.Type, c.Name
	}
	table := testKeyspace + "." + name
	require.NoError(b, p.session.Query("CREATE TABLE "+table+" ("+strings.Join(defs, ", ")+", PRIMARY KEY (id))").Exec())
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) USING TIMESTAMP ?", table,
		strings.Join(names, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", "))
}

// BenchmarkCeilings reports the two ceilings alone: single-row prepared inserts and
// unlogged batches grouped by replica set, the best setting of each. Run it with
// -benchtime 1x.
func BenchmarkCeilings(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsCassandra)
	p := newPipe(b, 1)
	single, grouped := measureCeilings(b, p, createUsersTable(b, p, p.table), oneNode)
	b.Logf("best single-row: %.0f rows/s (%s); best grouped: %.0f rows/s (%s)", single.rate, single.setting, grouped.rate, grouped.setting)
	b.ReportMetric(single.rate, "single_rows/s")
	b.ReportMetric(grouped.rate, "grouped_rows/s")
	b.ReportMetric(0, "ns/op")
}
