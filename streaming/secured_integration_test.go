package streaming_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
	"github.com/streampipe/streampipe/streaming"
)

// wrongPassword is recognisable: no error or log line may hold it.
const wrongPassword = "Wr0ng-kafkasec-Pa55word"

// TestSecuredKafka runs the pipeline through a Kafka of its own started as
// `STACK_SECURE=1 stack/stack.sh up kafka` does (SASL_SSL, the stack's
// certificates, SCRAM users made by Kafka's storage tool), and each way of getting
// its security wrong, which must say what is wrong, quickly, and never the password.
func TestSecuredKafka(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	t.Parallel() // it waits on servers (or a Spark job) of its own: beside the other such tests
	args := watchArgs()
	k := stacktest.PrivateKafka(t, stackScript(t), "STACK_SECURE=1")
	seen := args()
	secured := securedBus(t, k)
	password := readPassword(t, k)

	t.Run("no password was a process argument while the stack made and started Kafka", func(t *testing.T) {
		assertNoSecretIn(t, k.Dir, seen, "kafka.tools.StorageTool", "kafka.Kafka")
	})

	t.Run("the producer and the streaming worker run through SASL_SSL", func(t *testing.T) {
		p := newPipeAt(t, secured, sharedStore(t), 3)
		const ticks, perTick = 10, 200
		a := activities.New(activities.Config{KafkaBrokers: k.Brokers, AllowedTopics: []string{"*"}, KafkaSecurity: secured.sec,
			RandomUserURL: "http://127.0.0.1:1/"}, slog.New(slog.NewTextHandler(t.Output(), nil))) // the faker serves
		defer a.Close()
		for i := range ticks {
			res, err := a.PublishTick(t.Context(), activities.TickInput{WorkflowID: "secured-" + p.topic, RunID: "run",
				Tick: i, Due: time.Now(), Interval: time.Second, Records: perTick, Topic: p.topic})
			require.NoError(t, err)
			require.Equal(t, perTick, res.Records)
		}
		w := startProc(t, p, "secured") // the program, reading KAFKA_* as secure.env has them
		p.waitCaughtUp(2 * time.Minute)
		var rows int
		require.NoError(t, p.session.Query("SELECT COUNT(*) FROM "+testKeyspace+"."+p.table).Scan(&rows))
		assert.Equal(t, ticks*perTick, rows, "rows in %s.%s", testKeyspace, p.table)
		require.NoError(t, w.terminate(time.Minute))
		assert.Contains(t, w.logs.String(), `kafka_security="SASL_SSL (SCRAM-SHA-512 as streampipe)"`)
		assert.NotContains(t, w.logs.String(), password)
	})

	t.Run("a wrong password names the user and the mechanism, never the password", func(t *testing.T) {
		sec := securityOf(t, k, "KAFKA_SASL_PASSWORD_FILE=", "KAFKA_SASL_PASSWORD="+wrongPassword)
		want := `kafka refused the credentials of user "streampipe" for SASL SCRAM-SHA-512`

		p := newPipeAt(t, secured, sharedStore(t), 1)
		cfg := p.config()
		cfg.Security = sec
		logs := &lockedBuffer{}
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		start := time.Now()
		err := runToError(t, cfg)
		require.ErrorContains(t, err, want)
		assert.Less(t, time.Since(start), 30*time.Second, "a refused login is not an outage to wait out")
		a := activities.New(activities.Config{KafkaBrokers: k.Brokers, AllowedTopics: []string{"*"}, KafkaSecurity: sec}, cfg.Logger)
		defer a.Close()
		_, pubErr := a.PublishTick(t.Context(), activities.TickInput{WorkflowID: "wrong", RunID: "run", Due: time.Now(),
			Interval: time.Second, Records: 1, Topic: p.topic})
		require.ErrorContains(t, pubErr, want)
		t.Logf("the streaming worker stops with: %v\nthe producer's activity fails with: %v", err, pubErr)
		for _, s := range []string{err.Error(), pubErr.Error(), a.CheckKafka(t.Context()).Error(), logs.String()} {
			assert.NotContains(t, s, wrongPassword)
			assert.NotContains(t, s, password)
		}
	})

	t.Run("a plaintext client at the TLS port hears that the broker expects TLS", func(t *testing.T) {
		start := time.Now()
		err := kafkasec.Metadata(t.Context(), nil, k.Brokers)
		require.ErrorContains(t, err, "the broker expects TLS: set KAFKA_TLS=1")
		assert.Less(t, time.Since(start), 5*time.Second)

		p := newPipeAt(t, secured, sharedStore(t), 1)
		cfg := p.config()
		cfg.Security = nil
		err = runToError(t, cfg)
		require.ErrorContains(t, err, "the broker expects TLS")
		t.Logf("the streaming worker stops with: %v", err)
		assert.Less(t, time.Since(start), 30*time.Second)
	})

	t.Run("a certificate from an untrusted CA is refused as not trusted", func(t *testing.T) {
		ca, _ := testcerts.SelfSignedCA(t, "not the stack's CA")
		sec := securityOf(t, k, "KAFKA_TLS_CA_FILE="+ca)
		err := kafkasec.Metadata(t.Context(), sec, k.Brokers)
		require.ErrorContains(t, err, "the broker's certificate is not trusted")
		t.Logf("metadata: %v", err)
		a := activities.New(activities.Config{KafkaBrokers: k.Brokers, AllowedTopics: []string{"*"}, KafkaSecurity: sec}, slog.New(slog.DiscardHandler))
		defer a.Close()
		require.ErrorContains(t, a.CheckKafka(t.Context()), "the broker's certificate is not trusted")
	})

	t.Run("no client certificate: the broker refuses the handshake", func(t *testing.T) {
		sec := securityOf(t, k, "KAFKA_TLS_CERT_FILE=", "KAFKA_TLS_KEY_FILE=")
		require.ErrorContains(t, kafkasec.Metadata(t.Context(), sec, k.Brokers),
			"the broker refused the TLS handshake: if it requires client certificates, set KAFKA_TLS_CERT_FILE")
	})

	t.Run("a certificate for another name is refused as such", func(t *testing.T) {
		sec := securityOf(t, k, "KAFKA_TLS_SERVER_NAME=kafka.elsewhere.example")
		require.ErrorContains(t, kafkasec.Metadata(t.Context(), sec, k.Brokers),
			`the broker's certificate is not for "kafka.elsewhere.example": set KAFKA_TLS_SERVER_NAME`)
	})

	t.Run("TLS without SASL at a SASL_SSL port: the error suggests SASL", func(t *testing.T) {
		sec := securityOf(t, k, "KAFKA_SASL_MECHANISM=", "KAFKA_SASL_USERNAME=", "KAFKA_SASL_PASSWORD_FILE=")
		require.ErrorContains(t, kafkasec.Metadata(t.Context(), sec, k.Brokers),
			"the broker closed the connection; if it requires SASL, set KAFKA_SASL_MECHANISM")
	})

	t.Run("TLS to a plaintext port: the broker does not speak TLS", func(t *testing.T) {
		require.ErrorContains(t, kafkasec.Metadata(t.Context(), secured.sec, stacktest.KafkaBrokers(t)),
			"the broker does not speak TLS at this address")
	})

	t.Run("SCRAM-SHA-256 and PLAIN log in too", func(t *testing.T) {
		for _, m := range []string{kafkasec.ScramSHA256, kafkasec.Plain} {
			sec := securityOf(t, k, "KAFKA_SASL_MECHANISM="+m)
			assert.NoError(t, kafkasec.Metadata(t.Context(), sec, k.Brokers), m)
		}
	})

	t.Run("Kafka's own tools connect through client.properties", func(t *testing.T) {
		out, err := k.Script(nil, "kafka-topics", "--list")
		require.NoError(t, err, "%s", out)
	})

	t.Run("the stack's folder is its owner's only", func(t *testing.T) { assertPrivate(t, k.Dir) })

	t.Run("the controller listener wants TLS, a client certificate and the controller's login", func(t *testing.T) {
		controller := controllerAddr(t, k)
		dial := func(sec *kafkasec.Security) error {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			conn, err := sec.Dialer().DialContext(ctx, "tcp", controller)
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = conn.ReadPartitions()
			return err
		}
		controllerFile := filepath.Join(k.Dir, "kafka", "controller.password")
		as := func(changes ...string) *kafkasec.Security {
			return securityOf(t, k, append([]string{"KAFKA_SASL_MECHANISM=PLAIN"}, changes...)...)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		conn, err := as("KAFKA_SASL_USERNAME=controller", "KAFKA_SASL_PASSWORD_FILE="+controllerFile).Dialer().DialContext(ctx, "tcp", controller)
		require.NoError(t, err, "the controller's own login")
		require.NoError(t, conn.Close())

		assert.ErrorContains(t, dial(as()), "SASL Authentication Failed", "the programs' user is not the controller's")
		assert.ErrorContains(t, dial(as("KAFKA_SASL_USERNAME=controller")), "SASL Authentication Failed", "a wrong password")
		assert.Error(t, dial(securityOf(t, k, "KAFKA_SASL_MECHANISM=", "KAFKA_SASL_USERNAME=", "KAFKA_SASL_PASSWORD_FILE=")),
			"TLS without a login")
		assert.Error(t, dial(securityOf(t, k, "KAFKA_TLS_CERT_FILE=", "KAFKA_TLS_KEY_FILE=",
			"KAFKA_SASL_USERNAME=controller", "KAFKA_SASL_PASSWORD_FILE="+controllerFile)), "no client certificate")
		assert.Error(t, dial(&kafkasec.Security{}), "plaintext")
	})
}

// watchArgs starts recording the command line of every process of the host, what any
// local user reads with ps, every 50 ms; the function it returns stops and returns
// them.
func watchArgs() func() map[string]bool {
	stop, done := make(chan struct{}), make(chan map[string]bool)
	go func() {
		seen := map[string]bool{}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range paths {
				if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
					seen[strings.ReplaceAll(string(b), "\x00", " ")] = true
				}
			}
			select {
			case <-stop:
				done <- seen
				return
			case <-tick.C:
			}
		}
	}()
	return func() map[string]bool { close(stop); return <-done }
}

// assertNoSecretIn checks that no password of the stack in dir (its *.password and
// store.pass files) is in the command lines seen, which must show each of the
// commands want (the sampling saw the moments that matter).
func assertNoSecretIn(t *testing.T, dir string, seen map[string]bool, want ...string) {
	t.Helper()
	var secrets []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".password") || d.Name() == "store.pass") {
			return err
		}
		b, err := os.ReadFile(path)
		secrets = append(secrets, strings.TrimSpace(string(b)))
		return err
	}))
	require.NotEmpty(t, secrets, "the stack's passwords under %s", dir)
	for _, w := range want {
		assert.True(t, slices.ContainsFunc(slices.Collect(maps.Keys(seen)), func(c string) bool { return strings.Contains(c, w) }),
			"the sampling saw no %s among %d command lines", w, len(seen))
	}
	for cmdline := range seen {
		for _, s := range secrets {
			if strings.Contains(cmdline, s) { // the message shows where, not the password
				t.Errorf("a password of %s in a process's arguments: %s", dir, strings.ReplaceAll(cmdline, s, "<password>"))
			}
		}
	}
	t.Logf("%d passwords looked for in %d command lines seen", len(secrets), len(seen))
}

// assertPrivate checks that nothing under dir, a secured stack's folder (its keys,
// configs with passwords, the servers' data and logs), is open to anyone but its
// owner: stack/stack.sh makes it all with umask 077.
func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) { // a server removed it meanwhile (compaction, a segment)
			return nil
		}
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		files++
		assert.Zero(t, info.Mode().Perm()&0o077, "%s has mode %v", path, info.Mode().Perm())
		return nil
	}))
	assert.Greater(t, files, 10, "files under %s", dir)
}

// controllerAddr is the address of k's controller listener, as its server.properties
// says.
func controllerAddr(t *testing.T, k *stacktest.Kafka) string {
	t.Helper()
	props, err := os.ReadFile(filepath.Join(k.Dir, "kafka", "server.properties"))
	require.NoError(t, err)
	var addr string
	for line := range strings.Lines(string(props)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "listeners="); ok {
			_, addr, _ = strings.Cut(rest, "CONTROLLER://") // the last listeners= wins, as in Kafka
			addr, _, _ = strings.Cut(addr, ",")
		}
	}
	require.NotEmpty(t, addr, "a CONTROLLER listener in server.properties")
	return addr
}

// runToError runs a users worker with cfg and returns the error it stops with, which
// it must within a minute.
func runToError(t *testing.T, cfg streaming.Config) error {
	t.Helper()
	w, err := streaming.New(cfg, datasets.Users.Rows, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = w.Run(ctx)
	require.Error(t, err)
	require.NoError(t, ctx.Err(), "the worker waited instead of stopping: %v", err)
	return err
}

// securityOf is k's client settings with changes, NAME=VALUE (an empty VALUE unsets
// NAME), as a program reads them.
func securityOf(t *testing.T, k *stacktest.Kafka, changes ...string) *kafkasec.Security {
	t.Helper()
	vars := maps.Clone(k.Env)
	for _, kv := range changes {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
		if value == "" {
			delete(vars, name)
		}
	}
	e := envvar.NewReader(func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	sec := kafkasec.Read(e)
	require.NoError(t, e.Err())
	return sec
}

// readPassword is the password of k's client user, from the file secure.env names.
func readPassword(t *testing.T, k *stacktest.Kafka) string {
	t.Helper()
	b, err := os.ReadFile(k.Env["KAFKA_SASL_PASSWORD_FILE"])
	require.NoError(t, err, "secure.env's KAFKA_SASL_PASSWORD_FILE")
	return strings.TrimSpace(string(b))
}

// tlsCostRecords is what each round of BenchmarkKafkaTLSCost drains.
const tlsCostRecords = 100_000

// BenchmarkKafkaTLSCost reports the streaming worker's rows/s draining a pre-filled
// topic from a plaintext Kafka and from a SASL_SSL one (SCRAM-SHA-512, mutual TLS),
// both of its own and started alike but for STACK_SECURE, in alternating rounds of
// one run, and the cores the worker used. Run it with -benchtime 1x.
func BenchmarkKafkaTLSCost(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsCassandra, stacktest.NeedsScript)
	kafkas := map[string]*stacktest.Kafka{
		"plaintext": stacktest.PrivateKafka(b, "../stack/stack.sh"),
		"sasl_ssl":  stacktest.PrivateKafka(b, "../stack/stack.sh", "STACK_SECURE=1"),
	}
	rate, cores := map[string]float64{}, map[string]float64{}
	const rounds = 2
	for round := range rounds {
		for _, mode := range []string{"plaintext", "sasl_ssl"} {
			at := bus{brokers: kafkas[mode].Brokers}
			if mode == "sasl_ssl" {
				at = securedBus(b, kafkas[mode])
			}
			p := newPipeAt(b, at, sharedStore(b), 6)
			l := newLoad()
			for range tlsCostRecords / 10_000 {
				p.produce(l.messages(newIDs(10_000), 1, 0, time.Now()))
			}
			w := startProc(b, p, mode)
			r, cpu, _ := drain(b, w, tlsCostRecords)
			require.NoError(b, w.terminate(time.Minute))
			b.Logf("round %d, %s: %.0f rows/s, worker %.2f cores", round+1, mode, r, cpu)
			rate[mode] += r / rounds
			cores[mode] += cpu / rounds
		}
	}
	b.ReportMetric(rate["plaintext"], "plaintext_rows/s")
	b.ReportMetric(rate["sasl_ssl"], "sasl_ssl_rows/s")
	b.ReportMetric(rate["sasl_ssl"]/rate["plaintext"], "sasl_ssl/plaintext")
	b.ReportMetric(cores["plaintext"], "plaintext_cores")
	b.ReportMetric(cores["sasl_ssl"], "sasl_ssl_cores")
	b.ReportMetric(0, "ns/op")
}
