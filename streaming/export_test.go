package streaming

import (
	"context"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/streampipe/streampipe/rows"
)

// ReplicaSets is the worker's grouping of rows by the replicas that own them, for
// the benchmarks' grouped ceiling: it groups exactly as the worker does.
type ReplicaSets = owners

// NewReplicaSets returns the replica sets of the rows of keyspace.table, once the
// session's metadata knows the table (at most 10 s).
func NewReplicaSets(s *gocql.Session, keyspace, table string, cols []rows.Column) *ReplicaSets {
	o := newOwners(s, keyspace, table, cols)
	o.awaitMetadata(context.Background(), 10*time.Second)
	return o
}

// Of names the replicas that own row's partition; "" when unknown.
func (o *owners) Of(row rows.Row) string { return o.of(row) }
