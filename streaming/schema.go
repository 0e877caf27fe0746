package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/streampipe/streampipe/rows"
)

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
