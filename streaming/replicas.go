package streaming

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/streampipe/streampipe/rows"
)

// ringRefresh is how often the worker rebuilds its map of who owns which rows, so
// that grouping follows nodes that join, leave or move.
const ringRefresh = 30 * time.Second

// owners tells which replicas own a row's partition, so that rows can be written in
// batches whose rows all live on the same replicas: such a batch costs the
// coordinator one mutation per replica, whereas one spanning replica sets makes it
// forward parts of it to other nodes and wait for them.
//
// gocql has no public call that names the replicas of a partition key, but its
// token-aware policy computes them to route a statement: owners keeps a policy of its
// own, fed with the session's hosts and keyspace metadata, whose fallback picks no
// host, and asks it to Pick for a statement that carries only a routing key. What
// Pick yields, up replicas of every data centre, is the row's replica set.
type owners struct {
	session  *gocql.Session
	keyspace string
	table    string
	cols     []rows.Column

	mu     sync.Mutex  // of key, policy and built: a micro-batch being started and one being retried group rows at once
	key    []keyColumn // the partition key, in order; nil while unknown
	policy gocql.HostSelectionPolicy
	built  time.Time
}

// keyColumn is a partition key column: its place in rows.Row.Values and its CQL type.
type keyColumn struct {
	index int
	typ   gocql.TypeInfo
}

// newOwners returns the owners of the rows of keyspace.table, whose values are
// those of the dataset's columns cols.
func newOwners(s *gocql.Session, keyspace, table string, cols []rows.Column) *owners {
	o := &owners{session: s, keyspace: keyspace, table: table, cols: cols}
	o.refresh()
	return o
}

// awaitMetadata waits, for at most d, until the driver's metadata, which it
// refreshes in the background after a schema change, holds the table: until then
// every row is written alone. A table just created takes about a second.
func (o *owners) awaitMetadata(ctx context.Context, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	deadline := time.Now().Add(d)
	for o.key == nil && time.Now().Before(deadline) && sleep(ctx, 100*time.Millisecond) == nil {
		o.refresh()
	}
}

// current returns the partition key (nil while unknown) and the policy that finds
// its replicas, refreshed if they are due.
func (o *owners) current() ([]keyColumn, gocql.HostSelectionPolicy) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if age := time.Since(o.built); age > ringRefresh || o.key == nil && age > time.Second {
		o.refresh()
	}
	return o.key, o.policy
}

// refresh reads the partition key from the session's metadata and rebuilds the
// policy from the session's current hosts. A policy serves one session and is
// initialised once, so each refresh makes a new one. It is called with mu held (or
// before the owners are shared).
func (o *owners) refresh() {
	o.key = o.partitionKey()
	p := gocql.TokenAwareHostPolicy(noHosts{}, gocql.DoNotShuffleReplicas(), gocql.NonLocalReplicasFallback())
	p.Init(o.session)
	hosts := o.session.GetHosts()
	for _, h := range hosts {
		if h.Partitioner() != "" {
			p.SetPartitioner(h.Partitioner())
			break
		}
	}
	for _, h := range hosts {
		p.AddHost(h)
	}
	p.KeyspaceChanged(gocql.KeyspaceUpdateEvent{Keyspace: o.keyspace, Change: gocql.SchemaChangeTypeUpdated})
	o.policy, o.built = p, time.Now()
}

// partitionKey maps the partition key columns of the table to the dataset's
// columns; nil while the driver's metadata, refreshed in the background after a
// schema change, does not hold the table yet.
func (o *owners) partitionKey() []keyColumn {
	ks, err := o.session.KeyspaceMetadata(o.keyspace)
	if err != nil {
		return nil
	}
	tm, ok := ks.Tables[o.table]
	if !ok {
		return nil
	}
	key := make([]keyColumn, 0, len(tm.PartitionKey))
	for _, pk := range tm.PartitionKey {
		i := slices.IndexFunc(o.cols, func(c rows.Column) bool { return strings.EqualFold(c.Name, pk.Name) })
		if i < 0 {
			return nil
		}
		key = append(key, keyColumn{index: i, typ: pk.Type})
	}
	return key
}

// of returns a key naming the replicas that own row's partition, the same for
// every row owned by the same replicas; "" when they are unknown (no routing
// information yet, a key that does not marshal, no replica up).
func (o *owners) of(row rows.Row) string { return o.lookup()(row) }

// lookup returns of for a set of rows: the partition key and the policy are taken
// once (under the lock, refreshed if due), not for each row.
func (o *owners) lookup() func(rows.Row) string {
	cols, policy := o.current()
	return func(row rows.Row) string { return ownersOf(cols, policy, o.keyspace, row) }
}

// ownersOf is of with the partition key cols and the policy given.
func ownersOf(cols []keyColumn, policy gocql.HostSelectionPolicy, keyspace string, row rows.Row) string {
	if cols == nil {
		return ""
	}
	key, err := routingKey(cols, row)
	if err != nil {
		return ""
	}
	next := policy.Pick(routed{key: key, keyspace: keyspace})
	ids := make([]string, 0, 8) // on the stack for up to 8 replicas; Join of one allocates nothing
	for h := next(); h != nil; h = next() {
		ids = append(ids, h.Info().HostID())
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// routingKey is the serialized partition key (columns cols) of row, as Cassandra
// hashes it: a single column's value, or for a composite key each component as a
// 2-byte length, the value and a 0 byte.
func routingKey(cols []keyColumn, row rows.Row) ([]byte, error) {
	if len(cols) == 1 {
		return gocql.Marshal(cols[0].typ, row.Values[cols[0].index])
	}
	var key []byte
	for _, c := range cols {
		b, err := gocql.Marshal(c.typ, row.Values[c.index])
		if err != nil {
			return nil, err
		}
		key = binary.BigEndian.AppendUint16(key, uint16(len(b)))
		key = append(append(key, b...), 0)
	}
	return key, nil
}

// routed is a statement that is nothing but a routing key, for Pick.
type routed struct {
	key      []byte
	keyspace string
}

func (r routed) GetRoutingKey() ([]byte, error) { return r.key, nil }
func (r routed) Keyspace() string               { return r.keyspace }
func (r routed) Table() string                  { return "" }
func (r routed) IsIdempotent() bool             { return true }
func (r routed) GetHostID() string              { return "" }
func (r routed) Statement() gocql.Statement     { return nil }

// noHosts is the fallback of owners' policy: it picks no host, so that Pick yields
// the replicas and nothing else. Every host counts as local: all replicas are
// wanted, whatever their data centre.
type noHosts struct{}

func (noHosts) AddHost(*gocql.HostInfo)                   {}
func (noHosts) RemoveHost(*gocql.HostInfo)                {}
func (noHosts) HostUp(*gocql.HostInfo)                    {}
func (noHosts) HostDown(*gocql.HostInfo)                  {}
func (noHosts) SetPartitioner(string)                     {}
func (noHosts) KeyspaceChanged(gocql.KeyspaceUpdateEvent) {}
func (noHosts) Init(*gocql.Session)                       {}
func (noHosts) IsLocal(*gocql.HostInfo) bool              { return true }
func (noHosts) Pick(gocql.ExecutableStatement) gocql.NextHost {
	return func() gocql.SelectedHost { return nil }
}
