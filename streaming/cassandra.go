package streaming

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/rows"
)

// table writes one dataset's rows: prepared upserts with bound values, in unlogged
// batches of rows owned by the same replicas, routed to one of them, at most
// Concurrency batches in flight.
type table struct {
	written     atomic.Bool // a row was written: the statement itself is good
	session     *gocql.Session
	owners      *owners // of each row, to group rows by replica set
	insert      string
	delete      string // of a row by its primary key
	keyColumns  []int  // the places in rows.Row.Values of the delete's key values, in its order
	consistency gocql.Consistency
	slots       *budget             // of writes (batches or rows) in flight: Config.Concurrency
	groupRows   int                 // most rows in a batch
	groupBytes  int                 // most bytes of records in a batch
	writeRows   prometheus.Observer // rows per successful write
}

// metadataWait bounds how long start-up waits for the driver to learn the table's
// partition key, without which rows cannot be grouped by replica set.
const metadataWait = 10 * time.Second

// pendingRow is a row on its way to the table. Its write time (rows.Row.WriteTime, its
// record's Kafka timestamp unless the dataset takes it from the value) makes a
// replayed older record never overwrite a newer version of the row.
type pendingRow struct {
	rows.Row
	msg  *kafka.Message // its record
	err  error          // why its latest write failed
	size int            // what its record holds against the byte budget
}

// openTable connects to Cassandra, retrying while it is unreachable for up to
// StartupTimeout, and makes sure keyspace and table exist with every column of the
// dataset, retrying that until it succeeds or fails for a reason retrying will not
// cure.
func (w *Worker) openTable(ctx context.Context) (*table, error) {
	cfg, ds := w.cfg, w.dataset
	var session *gocql.Session
	if err := w.await(ctx, cfg.cassandraServer(), "check the host list and that Cassandra is running and accepts CQL on that port",
		func(context.Context) (err error) {
			session, err = connect(cfg)
			return err
		}); err != nil {
		return nil, err
	}
	if err := w.prepare(ctx, cfg.cassandraServer(), "creating keyspace and table",
		func(ctx context.Context) error { return ensureSchema(ctx, session, cfg, ds) }); err != nil {
		session.Close()
		return nil, err
	}
	names := make([]string, len(ds.Columns()))
	for i, c := range ds.Columns() {
		names[i] = c.Name
	}
	owners := newOwners(session, cfg.Keyspace, cfg.Table, ds.Columns())
	owners.awaitMetadata(ctx, metadataWait)
	return &table{
		session: session,
		owners:  owners,
		insert: fmt.Sprintf("INSERT INTO %s.%s (%s) VALUES (%s) USING TIMESTAMP ?",
			cfg.Keyspace, cfg.Table, strings.Join(names, ", "), strings.Repeat("?, ", len(names)-1)+"?"),
		delete:      deleteStatement(cfg.Keyspace, cfg.Table, ds),
		keyColumns:  w.keyColumns,
		consistency: gocql.ParseConsistency(cfg.Consistency),
		slots:       newBudget(cfg.Concurrency),
		groupRows:   cfg.GroupRows,
		groupBytes:  cfg.GroupBytes,
		writeRows:   w.metrics.writeRows.WithLabelValues(ds.Name()),
	}, nil
}

func (t *table) close() { t.session.Close() }

// awaitSlots waits until half the write slots are free, or ctx is done.
func (t *table) awaitSlots(ctx context.Context) error {
	return t.slots.await(ctx, max(1, t.slots.max/2))
}

// write upserts rows, each once, in unlogged batches of rows owned by the same
// replicas, and returns those that failed, each with its error, and the first error.
func (t *table) write(ctx context.Context, rows []pendingRow) (failed []pendingRow, err error) {
	return t.start(ctx, rows).wait()
}

// start starts upserting rows, each once, in unlogged batches of rows owned by the
// same replicas (at most groupRows rows and groupBytes bytes of records each), and
// returns once each batch has its write slot: the writes of every caller share
// Concurrency slots, so that the next micro-batch's writes start as the previous
// one's free their slots, while its last writes are still in flight. A batch that
// gets no slot before ctx is done fails with ctx's error.
func (t *table) start(ctx context.Context, rows []pendingRow) *writes {
	groups := groupRows(rows, t.owners.lookup(), t.groupRows, t.groupBytes)
	ws := &writes{rows: len(rows)}
	for i, group := range groups {
		if t.slots.acquire(ctx, 1) != nil {
			for _, g := range groups[i:] {
				for _, r := range g {
					r.err = ctx.Err()
					ws.fail(r)
				}
			}
			return ws
		}
		ws.wg.Go(func() {
			defer t.slots.release(1)
			for _, r := range t.writeGroup(ctx, group) {
				ws.fail(r)
			}
		})
	}
	return ws
}

// writes are the Cassandra writes of a set of rows, started by table.start.
type writes struct {
	rows   int // how many
	wg     sync.WaitGroup
	mu     sync.Mutex
	failed []pendingRow
}

func (ws *writes) fail(r pendingRow) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.failed = append(ws.failed, r)
}

// awaitEnd waits for the writes to end.
func (ws *writes) awaitEnd() { ws.wg.Wait() }

// wait waits for the writes to end and returns the rows that failed, each with its
// error, and the first error.
func (ws *writes) wait() (failed []pendingRow, err error) {
	ws.awaitEnd()
	if len(ws.failed) == 0 {
		return nil, nil
	}
	return ws.failed, fmt.Errorf("upserting %d of %d rows: %w", len(ws.failed), ws.rows, ws.failed[0].err)
}

// writeGroup upserts a group of rows as one unlogged batch, each row with its own
// write time, and returns the rows that failed with their errors. When the batch
// fails for a reason one of its rows may cause (a value Cassandra refuses, a batch
// too large), its rows are written one by one, so that a bad row fails alone and the
// others are written.
func (t *table) writeGroup(ctx context.Context, group []pendingRow) (failed []pendingRow) {
	if len(group) > 1 {
		b := t.session.Batch(gocql.UnloggedBatch).Consistency(t.consistency)
		b.Entries = make([]gocql.BatchEntry, len(group))
		values := make([]any, 0, len(group)*(len(group[0].Values)+1))
		for i, r := range group {
			at := len(values)
			var stmt string
			stmt, values = t.statement(r, values)
			b.Entries[i] = gocql.BatchEntry{Stmt: stmt, Args: values[at:len(values):len(values)], Idempotent: true}
		}
		err := b.ExecContext(ctx)
		if err == nil {
			t.written.Store(true)
			t.writeRows.Observe(float64(len(group)))
			return nil
		}
		if !rowMayCause(err) {
			for _, r := range group {
				r.err = err
				failed = append(failed, r)
			}
			return failed
		}
	}
	values := make([]any, 0, len(group[0].Values)+1)
	for _, r := range group {
		stmt, args := t.statement(r, values[:0])
		r.err = t.session.Query(stmt, args...).Consistency(t.consistency).Idempotent(true).ExecContext(ctx)
		if r.err == nil {
			t.written.Store(true)
			t.writeRows.Observe(1)
			continue
		}
		failed = append(failed, r)
	}
	return failed
}

// statement is the statement that writes r, the upsert or, for a tombstone, the
// delete, and its values appended to values, rows.Unset bound as gocql's unset.
func (t *table) statement(r pendingRow, values []any) (string, []any) {
	if !r.Delete {
		for _, v := range r.Values {
			if v == rows.Unset {
				v = gocql.UnsetValue
			}
			values = append(values, v)
		}
		return t.insert, append(values, r.WriteTime.UnixMicro())
	}
	values = append(values, r.WriteTime.UnixMicro())
	for _, k := range t.keyColumns {
		values = append(values, r.Values[k])
	}
	return t.delete, values
}

// deleteStatement deletes a row of ds's table by its primary key, at a write time.
func deleteStatement(keyspace, table string, ds rows.Mapping) string {
	partition, clustering := splitKey(ds.PrimaryKey())
	where := make([]string, 0, len(partition)+len(clustering))
	for _, c := range append(partition, clustering...) {
		where = append(where, c+" = ?")
	}
	return fmt.Sprintf("DELETE FROM %s.%s USING TIMESTAMP ? WHERE %s", keyspace, table, strings.Join(where, " AND "))
}

// rowMayCause reports whether a batch's error may come from one of its rows: a
// value that does not marshal, one Cassandra refuses (Invalid, also a batch over its
// size limit), or a write that failed at a replica. These come back at once; after
// a timeout, an unavailable replica or a lost connection, which no row causes,
// writing the rows one by one would only multiply the waits.
func rowMayCause(err error) bool {
	if _, ok := errors.AsType[gocql.MarshalError](err); ok {
		return true
	}
	var re gocql.RequestError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Code() {
	case gocql.ErrCodeInvalid, gocql.ErrCodeWriteFailure, gocql.ErrCodeServer:
		return true
	}
	return false
}

// permanent reports whether a Cassandra error will recur however often the same
// statement is tried: a missing permission or a statement the server rejects.
func permanent(err error) bool {
	var re gocql.RequestError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Code() {
	case gocql.ErrCodeUnauthorized, gocql.ErrCodeSyntax, gocql.ErrCodeInvalid, gocql.ErrCodeCredentials:
		return true
	}
	return false
}

// rejected reports whether err says that Cassandra refuses this row's values
// (e.g. a key longer than 64 KiB) rather than the statement: an Invalid error once
// the statement has written a row. Before that, Invalid is taken for a table that
// does not fit the dataset, which ends the worker.
func (t *table) rejected(err error) bool {
	var re gocql.RequestError
	return errors.As(err, &re) && re.Code() == gocql.ErrCodeInvalid && t.written.Load()
}
