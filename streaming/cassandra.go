package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// Connect opens a session to the Cassandra of cfg (Hosts, Username, Password, TLS,
// LocalDC, Consistency, Logger), as the worker does: token-aware, preferring the
// local data centre if one is set, looking for hosts that come back every 2 s.
// Errors that retrying will not cure (rejected credentials, an untrusted certificate,
// a wrong data centre) say so, naming the user or the variable to fix.
func Connect(cfg Config) (*gocql.Session, error) {
	s, err := connect(cfg)
	if g, ok := errors.AsType[giveUp](err); ok {
		return nil, g.err
	}
	return s, err
}

// connect opens a session. Errors that retrying will not cure are wrapped in giveUp.
func connect(cfg Config) (*gocql.Session, error) {
	cluster := gocql.NewCluster(cfg.Hosts...)
	cluster.Consistency = gocql.ParseConsistency(cfg.Consistency)
	cluster.ConnectTimeout = 5 * time.Second
	cluster.Timeout = 10 * time.Second
	// Look for hosts that came back every 2 s, not every minute, so that writes resume
	// soon after a Cassandra restart.
	cluster.ReconnectInterval = 2 * time.Second
	cluster.MaxWaitSchemaAgreement = driverSchemaWait
	cluster.Logger = gocqlLogger{cfg.Logger.With("component", "gocql")}
	if cfg.Username != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: cfg.Username, Password: cfg.Password}
	}
	if cfg.TLS != nil {
		cluster.SslOpts = &gocql.SslOptions{Config: cfg.TLS, EnableHostVerification: true}
	}
	// Each write goes to a replica of its row, in the local data centre if one is set
	// (then to the others there, and only then elsewhere), so that LOCAL_QUORUM
	// writes are coordinated and acknowledged in it. A policy serves one session
	// only, so every attempt gets its own.
	fallback := gocql.RoundRobinHostPolicy()
	if cfg.LocalDC != "" {
		fallback = gocql.DCAwareRoundRobinPolicy(cfg.LocalDC)
	}
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(fallback, gocql.ShuffleReplicas())
	session, err := cluster.CreateSession()
	if err != nil {
		if why := connectRefused(cfg, err); why != nil {
			return nil, giveUp{why}
		}
		return nil, err
	}
	if err := inLocalDC(cfg, session.GetHosts()); err != nil {
		session.Close()
		return nil, giveUp{err}
	}
	return session, nil
}

// ensureSchema creates the keyspace and table if missing and adds the columns of ds a
// table lacks (a table made by the seed has no dob), and waits for the Cassandra
// nodes that answer to agree on the schema. It never drops anything. Errors that
// retrying will not cure are wrapped in giveUp.
func ensureSchema(ctx context.Context, s *gocql.Session, cfg Config, ds rows.Mapping) error {
	hosts := cfg.cassandraAt()
	agreed := func() error {
		if err := awaitAgreement(ctx, s, cfg.Logger); err != nil {
			return fmt.Errorf("waiting for schema agreement of %s: %w", hosts, err)
		}
		return nil
	}
	defs := make([]string, 0, len(ds.Columns())+1)
	for _, c := range ds.Columns() {
		defs = append(defs, c.Name+" "+c.Type)
	}
	defs = append(defs, "PRIMARY KEY ("+ds.PrimaryKey()+")")
	stmts := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (%s)", cfg.Keyspace, cfg.Table, strings.Join(defs, ", "))}
	// CREATE KEYSPACE IF NOT EXISTS wants CREATE on all keyspaces even when the keyspace
	// exists: a role granted its keyspace only (docker-compose.yml's) is not asked for it.
	var found string
	err := s.Query("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?",
		strings.ToLower(cfg.Keyspace)).ScanContext(ctx, &found)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		stmts = append([]string{fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", cfg.Keyspace, cfg.Replication)}, stmts...)
	case err != nil:
		return fmt.Errorf("looking for keyspace %s at %s: %w", cfg.Keyspace, hosts, err)
	}
	for _, stmt := range stmts {
		if err := s.Query(stmt).ExecContext(ctx); err != nil {
			return schemaError(hosts, cfg.Username, stmt, err)
		}
	}
	if err := agreed(); err != nil {
		return err
	}
	have, err := columnTypes(ctx, s, cfg.Keyspace, cfg.Table)
	if err != nil {
		return fmt.Errorf("reading the columns of %s.%s from %s: %w", cfg.Keyspace, cfg.Table, hosts, err)
	}
	if len(have) == 0 {
		return fmt.Errorf("table %s.%s is not visible yet on %s", cfg.Keyspace, cfg.Table, hosts)
	}
	if err := checkTable(cfg, ds, have); err != nil {
		return giveUp{err}
	}
	altered := false
	for _, c := range ds.Columns() {
		if _, ok := have[c.Name]; ok {
			continue
		}
		altered = true
		stmt := fmt.Sprintf("ALTER TABLE %s.%s ADD %s %s", cfg.Keyspace, cfg.Table, c.Name, c.Type)
		if err := s.Query(stmt).ExecContext(ctx); err != nil {
			// Another worker may have added it first.
			if again, rerr := columnTypes(ctx, s, cfg.Keyspace, cfg.Table); rerr != nil || again[c.Name].typ != c.Type {
				return schemaError(hosts, cfg.Username, stmt, err)
			}
		}
		cfg.Logger.Info("added missing column", "table", cfg.Keyspace+"."+cfg.Table, "column", c.Name, "type", c.Type)
	}
	if !altered {
		return nil
	}
	return agreed()
}

const (
	// driverSchemaWait bounds gocql's own wait for schema agreement after each schema
	// change, which then only logs. It counts the schema version that system.peers last
	// recorded for a node that is down, so with a node down it always waits this
	// long; awaitAgreement waits for the nodes that answer instead.
	driverSchemaWait = time.Second
	// schemaWait bounds how long awaitAgreement waits for the Cassandra nodes that
	// answer to agree on the schema; then start-up tries again.
	schemaWait = 30 * time.Second
)

// awaitAgreement waits, for at most schemaWait, until every Cassandra node that
// answers has the same schema version, asking each for its own. A node that has not
// the table yet would refuse the rows it coordinates, so start-up waits for those;
// not for a node that is down, which takes the schema from the others when it comes
// back: it is named in a warning.
func awaitAgreement(ctx context.Context, s *gocql.Session, log *slog.Logger) error {
	deadline := time.Now().Add(schemaWait)
	for {
		versions, silent := schemaVersions(ctx, s)
		distinct := map[gocql.UUID]bool{}
		for _, v := range versions {
			distinct[v] = true
		}
		if len(distinct) == 1 {
			if len(silent) > 0 {
				log.Warn("the schema change has not reached every cassandra node; going on: the nodes that answer have it, "+
					"the others take it when they come back", "nodes_not_answering", strings.Join(silent, ","))
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the cassandra nodes that answer did not agree on the schema within %v: versions %v (not answering: %v)",
				schemaWait, versions, silent)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// schemaVersions asks every node the session knows of for its schema version, and
// returns those of the nodes that answer, by address, and the addresses of the others.
func schemaVersions(ctx context.Context, s *gocql.Session) (versions map[string]gocql.UUID, silent []string) {
	versions = map[string]gocql.UUID{}
	for _, h := range s.GetHosts() {
		addr := h.ConnectAddressAndPort()
		var v gocql.UUID
		if !h.IsUp() || s.Query("SELECT schema_version FROM system.local WHERE key = 'local'").
			SetHostID(h.HostID()).Consistency(gocql.One).ScanContext(ctx, &v) != nil {
			silent = append(silent, addr)
			continue
		}
		versions[addr] = v
	}
	slices.Sort(silent)
	return versions, silent
}

// checkTable names every column of the table (whose columns are have) that has
// another type than ds's, and a primary key other than ds's, before anything is
// altered: a table not made for the dataset is left as it was.
func checkTable(cfg Config, ds rows.Mapping, have map[string]liveColumn) error {
	var wrong []string
	for _, c := range ds.Columns() {
		if l, ok := have[c.Name]; ok && l.typ != c.Type {
			wrong = append(wrong, fmt.Sprintf("column %s of %s.%s is %s in the table but %s in the dataset",
				c.Name, cfg.Keyspace, cfg.Table, l.typ, c.Type))
		}
	}
	if key, want := liveKey(have), keyClause(splitKey(ds.PrimaryKey())); key != want {
		wrong = append(wrong, fmt.Sprintf("the primary key of %s.%s is %s in the table but %s in the dataset",
			cfg.Keyspace, cfg.Table, key, want))
	}
	if len(wrong) == 0 {
		return nil
	}
	return fmt.Errorf("%s: the table was not made for this dataset; alter or rename it by hand", strings.Join(wrong, "; "))
}

// liveColumn is a column of a live table, as system_schema.columns describes it.
type liveColumn struct {
	typ      string
	kind     string // partition_key, clustering or regular
	position int    // its place in the partition key or among the clustering columns
}

// columnTypes returns the columns of a table by name.
func columnTypes(ctx context.Context, s *gocql.Session, keyspace, tbl string) (map[string]liveColumn, error) {
	iter := s.Query("SELECT column_name, type, kind, position FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
		keyspace, tbl).IterContext(ctx)
	cols := map[string]liveColumn{}
	var name string
	var c liveColumn
	for iter.Scan(&name, &c.typ, &c.kind, &c.position) {
		cols[name] = c
	}
	return cols, iter.Close()
}

// liveKey is the primary key of a table of columns cols, as keyClause writes it.
func liveKey(cols map[string]liveColumn) string {
	parts := map[string][]string{}
	for _, kind := range []string{"partition_key", "clustering"} {
		for name, c := range cols {
			if c.kind == kind {
				parts[kind] = append(parts[kind], name)
			}
		}
		slices.SortFunc(parts[kind], func(a, b string) int { return cols[a].position - cols[b].position })
	}
	return keyClause(parts["partition_key"], parts["clustering"])
}

// splitKey splits a primary key clause as rows.Mapping.PrimaryKey gives it ("id",
// "(account), at", "account, at") into its partition key and clustering columns.
func splitKey(clause string) (partition, clustering []string) {
	clause = strings.ToLower(strings.ReplaceAll(clause, " ", ""))
	var first, rest string
	if after, ok := strings.CutPrefix(clause, "("); ok {
		first, rest, _ = strings.Cut(after, ")")
	} else {
		first, rest, _ = strings.Cut(clause, ",")
	}
	comma := func(r rune) bool { return r == ',' }
	return strings.FieldsFunc(first, comma), strings.FieldsFunc(rest, comma)
}

// keyClause writes a primary key the one way: "((account), at)".
func keyClause(partition, clustering []string) string {
	return "((" + strings.Join(partition, ", ") + ")" + strings.Join(append([]string{""}, clustering...), ", ") + ")"
}

// schemaError is the error of a schema statement, wrapped in giveUp if retrying it
// will not cure it: a missing permission, a statement Cassandra rejects (a bad name,
// a replication it cannot take). A keyspace the coordinator says does not exist,
// right after it was created on a cluster, is retried: seen once, during make test,
// on three nodes.
func schemaError(hosts, user, stmt string, err error) error {
	var re gocql.RequestError
	if errors.As(err, &re) && re.Code() == gocql.ErrCodeUnauthorized {
		return giveUp{fmt.Errorf("%s: user %q lacks a permission for %q: grant it CREATE and ALTER "+
			"on the keyspace (or create keyspace and table beforehand) and MODIFY on the table: %w", hosts, user, stmt, err)}
	}
	keyspaceNotSeenYet := errors.As(err, &re) && re.Code() == gocql.ErrCodeInvalid &&
		strings.HasPrefix(re.Message(), "Keyspace ") && strings.HasSuffix(re.Message(), " doesn't exist")
	err = fmt.Errorf("%s: %s: %w", hosts, stmt, err)
	if keyspaceNotSeenYet { // created a moment ago: the coordinator of CREATE TABLE has not taken it yet
		return err
	}
	if permanent(err) || errors.As(err, &re) && re.Code() == gocql.ErrCodeConfig {
		return giveUp{err}
	}
	return err
}

// gocqlLogger hands gocql's log lines to slog at debug level: while a node is down it
// logs several errors a second, and the worker already logs each failed write.
type gocqlLogger struct{ log *slog.Logger }

func (l gocqlLogger) Error(msg string, f ...gocql.LogField)   { l.debug(msg, f) }
func (l gocqlLogger) Warning(msg string, f ...gocql.LogField) { l.debug(msg, f) }
func (l gocqlLogger) Info(msg string, f ...gocql.LogField)    { l.debug(msg, f) }
func (l gocqlLogger) Debug(msg string, f ...gocql.LogField)   { l.debug(msg, f) }

func (l gocqlLogger) debug(msg string, fields []gocql.LogField) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := make([]slog.Attr, len(fields))
	for i, f := range fields {
		attrs[i] = slog.Any(f.Name, f.Value.Any())
	}
	l.log.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
}
