package streaming_test

import (
	"crypto/x509"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/progtest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
	"github.com/streampipe/streampipe/streaming"
)

// A Cassandra of the test's own with PasswordAuthenticator (the stack's
// CASSANDRA_AUTH=1): wrong credentials stop the worker at once with an error naming
// the host and the user, without waiting out the start-up retries; the right ones
// write every row.
func TestCassandraCredentials(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsScript)
	t.Parallel() // it waits on servers (or a Spark job) of its own: beside the other such tests
	db := stacktest.PrivateCassandra(t, "../stack/stack.sh", "CASSANDRA_AUTH=1")
	p := newPipeAt(t, bus{brokers: stacktest.KafkaBrokers(t)}, store{hosts: db.Hosts, user: "cassandra", password: "cassandra", // the stack's superuser
		env: []string{"CASSANDRA_HOSTS=" + strings.Join(db.Hosts, ","), "CASSANDRA_USERNAME=cassandra", "CASSANDRA_PASSWORD=cassandra"}}, 3)

	msg := refusedAtOnce(t, p, func(c *streaming.Config) { c.Password = "not-the-password" })
	assert.Contains(t, msg, `rejected the credentials of user "cassandra": check CASSANDRA_USERNAME and CASSANDRA_PASSWORD`)
	assert.NotContains(t, msg, "not-the-password", "the error never shows the password")

	l := newLoad()
	p.produce(l.messages(newIDs(500), 1, 50, time.Now()))
	_, stop := runInProcess(t, p.config(), streaming.NewMetrics(prometheus.NewRegistry()))
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop())
	p.checkRows(l)
	p.checkDLQ(l, true)
}

// A Cassandra of the test's own in the stack's secured mode: CQL over TLS only, a
// client certificate required, PasswordAuthenticator. The streaming binary, set up
// with nothing but the settings the stack wrote for its clients (CASSANDRA_LOCAL_DC
// included), writes a stream from the shared Kafka, and `starter verify` finds the
// rows with the same settings; every way of getting it wrong stops the worker at
// once, saying what is wrong, never the password.
func TestSecuredCassandra(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	t.Parallel() // it waits on servers (or a Spark job) of its own: beside the other such tests
	args := watchArgs()
	secured := stacktest.PrivateCassandra(t, "../stack/stack.sh", "STACK_SECURE=1")
	seen := args()
	db := securedStore(t, secured)

	t.Run("no password was a process argument while the stack made and started Cassandra", func(t *testing.T) {
		assertNoSecretIn(t, secured.Dir, seen, "keytool", "CassandraDaemon", "cqlsh --credentials")
	})
	assert.Equal(t, "datacenter1", db.localDC)
	p := newPipeAt(t, bus{brokers: stacktest.KafkaBrokers(t)}, db, 3)

	t.Run("the pipeline runs", func(t *testing.T) {
		l := newLoad()
		p.produce(l.messages(newIDs(2000), 1, 100, time.Now()))
		w := startProc(t, p, "secured")
		p.waitCaughtUp(2 * time.Minute)
		require.NoError(t, w.terminate(time.Minute))
		p.checkRows(l)
		p.checkDLQ(l, true)

		// starter verify, with the same settings, finds every row.
		ids := filepath.Join(t.TempDir(), "ids")
		require.NoError(t, os.WriteFile(ids, []byte(strings.Join(slices.Collect(maps.Keys(l.users)), "\n")), 0o600))
		cmd := exec.Command(progtest.Program(t, "starter"), "verify", "-ids-file", ids, "-timeout", "30s")
		cmd.Env = append(append(os.Environ(), db.env...), "CASSANDRA_KEYSPACE="+testKeyspace, "CASSANDRA_TABLE="+p.table)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "starter verify:\n%s", out)
		assert.Contains(t, string(out), "Rows in Cassandra for this run: 2000 of 2000 users published.")
	})

	t.Run("cqlsh and the stack's checks", func(t *testing.T) {
		out, err := secured.Script(nil, "cqlsh", "-e", "SELECT data_center FROM system.local")
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "datacenter1")
		out, err = secured.Script([]string{"STACK_SECURE=0"}, "up", "cassandra")
		require.Error(t, err)
		assert.Contains(t, string(out), "cassandra is running with STACK_SECURE=1, not 0: run 'stack/stack.sh down cassandra' first")
	})

	t.Run("the stack's folder is its owner's only", func(t *testing.T) { assertPrivate(t, secured.Dir) })

	t.Run("the programs' role is no superuser, the built-in cassandra cannot log in", func(t *testing.T) {
		role := map[string]any{}
		require.NoError(t, p.session.Query("LIST ROLES OF "+db.user).MapScan(role))
		assert.Equal(t, false, role["super"], "%s: %v", db.user, role)
		var re gocql.RequestError
		err := p.session.Query("CREATE ROLE streampipe_test_probe").Exec()
		require.ErrorAs(t, err, &re, "a superuser's statement")
		assert.Equal(t, gocql.ErrCodeUnauthorized, re.Code(), "%v", err)

		cluster := gocql.NewCluster(db.hosts...)
		cluster.SslOpts = &gocql.SslOptions{Config: db.tls, EnableHostVerification: true}
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: "cassandra", Password: "cassandra"}
		if s, err := cluster.CreateSession(); !assert.Error(t, err, "the built-in superuser logs in") {
			s.Close()
		}
		// The stack's own superuser (stack.sh cqlsh) sees cassandra no superuser, no login.
		out, err := secured.Script(nil, "cqlsh", "-e", "LIST ROLES OF cassandra")
		require.NoError(t, err, "%s", out)
		assert.Regexp(t, `cassandra \|\s+False \|\s+False`, string(out))
	})

	t.Run("a role granted its keyspace only runs the pipeline (docker-compose.yml's grants)", func(t *testing.T) {
		admin := gocql.NewCluster(db.hosts...)
		admin.SslOpts = &gocql.SslOptions{Config: db.tls, EnableHostVerification: true}
		password, err := os.ReadFile(filepath.Join(secured.Dir, "cassandra", "admin.password"))
		require.NoError(t, err)
		admin.Authenticator = gocql.PasswordAuthenticator{Username: "admin", Password: strings.TrimSpace(string(password))}
		session, err := admin.CreateSession()
		require.NoError(t, err)
		defer session.Close()
		role, rolePassword := "pipe_"+randomHex(4), randomHex(16)
		stmts := []string{"CREATE ROLE " + role + " WITH LOGIN = true AND PASSWORD = '" + rolePassword + "'"}
		for _, perm := range []string{"CREATE", "ALTER", "MODIFY", "SELECT"} {
			stmts = append(stmts, "GRANT "+perm+" ON KEYSPACE "+testKeyspace+" TO "+role)
		}
		for _, stmt := range stmts {
			require.NoError(t, session.Query(stmt).Exec(), "%s", strings.ReplaceAll(stmt, rolePassword, "…"))
		}
		defer func() { _ = session.Query("DROP ROLE " + role).Exec() }()

		q := newPipeAt(t, bus{brokers: stacktest.KafkaBrokers(t)}, db, 3)
		cfg := q.config()
		cfg.Username, cfg.Password = role, rolePassword
		l := newLoad()
		q.produce(l.messages(newIDs(300), 1, 50, time.Now()))
		_, stop := runInProcess(t, cfg, streaming.NewMetrics(prometheus.NewRegistry()))
		q.waitCaughtUp(time.Minute)
		require.NoError(t, stop())
		q.checkRows(l)
	})

	at := "cassandra at " + secured.Hosts[0] + " "

	t.Run("an untrusted server certificate", func(t *testing.T) {
		otherCA, _ := testcerts.SelfSignedCA(t, "other-ca")
		pem, err := os.ReadFile(otherCA)
		require.NoError(t, err)
		msg := refusedAtOnce(t, p, func(c *streaming.Config) {
			c.TLS = c.TLS.Clone()
			c.TLS.RootCAs = x509.NewCertPool()
			require.True(t, c.TLS.RootCAs.AppendCertsFromPEM(pem))
		})
		assert.Contains(t, msg, at+"presented a certificate that is not trusted")
		assert.Contains(t, msg, "set CASSANDRA_TLS_CA_FILE")
	})

	t.Run("a server certificate for other names", func(t *testing.T) {
		msg := refusedAtOnce(t, p, func(c *streaming.Config) {
			c.TLS = c.TLS.Clone()
			c.TLS.ServerName = "db.example.com" // the stack's certificate is for localhost and 127.0.0.1-3
		})
		assert.Contains(t, msg, at+"presented a certificate for other names than the host dialled")
		assert.Contains(t, msg, "CASSANDRA_TLS_SERVER_NAME")
	})

	t.Run("a wrong password", func(t *testing.T) {
		msg := refusedAtOnce(t, p, func(c *streaming.Config) { c.Password = "not-the-password" })
		assert.Contains(t, msg, at+`rejected the credentials of user "streampipe"`)
		assert.NotContains(t, msg, "not-the-password")
	})

	t.Run("no client certificate", func(t *testing.T) {
		msg := refusedAtOnce(t, p, func(c *streaming.Config) {
			c.TLS = c.TLS.Clone()
			c.TLS.Certificates = nil
		})
		assert.Contains(t, msg, at+"refused this client's certificate (mutual TLS)")
	})

	t.Run("a plaintext client at the TLS port", func(t *testing.T) {
		msg := refusedAtOnce(t, p, func(c *streaming.Config) { c.TLS = nil })
		assert.Contains(t, msg, at+"expects TLS: set CASSANDRA_TLS=1")
	})

	t.Run("a TLS client at a plaintext port", func(t *testing.T) {
		shared := stacktest.CassandraHosts(t)
		msg := refusedAtOnce(t, p, func(c *streaming.Config) { c.Hosts, c.Username, c.Password = shared, "", "" })
		assert.Contains(t, msg, "cassandra at "+strings.Join(shared, ",")+" does not speak TLS on that port")
	})

	t.Run("an unknown local data centre", func(t *testing.T) {
		msg := refusedAtOnce(t, p, func(c *streaming.Config) { c.LocalDC = "DataCenter1" })
		assert.Contains(t, msg, at+`has no host in the local data centre "DataCenter1" (CASSANDRA_LOCAL_DC): its data centres are datacenter1`)
	})
}

// refusedAtOnce runs a worker of p's configuration changed by change and returns why
// it stopped, checking that it did so at once rather than retrying until its
// StartupTimeout.
func refusedAtOnce(t *testing.T, p *pipe, change func(*streaming.Config)) string {
	t.Helper()
	cfg := p.config()
	cfg.StartupTimeout = 2 * time.Minute
	change(&cfg)
	w, err := streaming.New(cfg, datasets.Users.Rows, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	start := time.Now()
	err = w.Run(t.Context())
	require.Error(t, err)
	assert.Less(t, time.Since(start), time.Minute, "a refusal ends the start-up retries at once")
	t.Logf("refused: %v", err)
	return err.Error()
}
