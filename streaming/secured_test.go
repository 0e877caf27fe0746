package streaming_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkaprobe"
	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/internal/stacktest"
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
	k := stacktest.PrivateKafka(t, stackScript(t), stacktest.Secured)
	password := readPassword(t, k)

	t.Run("the producer and the streaming worker run through SASL_SSL", func(t *testing.T) {
		p := newPipeOn(t, k, 3)
		const ticks, perTick = 10, 200
		a := activities.New(activities.Config{KafkaBrokers: k.Brokers, KafkaSecurity: k.Security,
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

		p := newPipeOn(t, k, 1)
		cfg := p.config()
		cfg.Security = sec
		logs := &lockedBuffer{}
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		start := time.Now()
		err := runToError(t, cfg)
		require.ErrorContains(t, err, want)
		assert.Less(t, time.Since(start), 30*time.Second, "a refused login is not an outage to wait out")
		a := activities.New(activities.Config{KafkaBrokers: k.Brokers, KafkaSecurity: sec}, cfg.Logger)
		defer a.Close()
		_, pubErr := a.PublishTick(t.Context(), activities.TickInput{WorkflowID: "wrong", RunID: "run", Due: time.Now(),
			Interval: time.Second, Records: 1, Topic: p.topic})
		require.ErrorContains(t, pubErr, want)
		for _, s := range []string{err.Error(), pubErr.Error(), a.CheckKafka(t.Context()).Error(), logs.String()} {
			assert.NotContains(t, s, wrongPassword)
			assert.NotContains(t, s, password)
		}
	})

	t.Run("a plaintext client at the TLS port hears that the broker expects TLS", func(t *testing.T) {
		start := time.Now()
		err := kafkaprobe.Metadata(t.Context(), nil, k.Brokers)
		require.ErrorContains(t, err, "the broker expects TLS: set KAFKA_TLS=true")
		assert.Less(t, time.Since(start), 5*time.Second)

		p := newPipeOn(t, k, 1)
		cfg := p.config()
		cfg.Security = nil
		require.ErrorContains(t, runToError(t, cfg), "the broker expects TLS")
		assert.Less(t, time.Since(start), 30*time.Second)
	})

	t.Run("a certificate from an untrusted CA is refused as not trusted", func(t *testing.T) {
		sec := securityOf(t, k, "KAFKA_TLS_CA_FILE="+otherCA(t))
		err := kafkaprobe.Metadata(t.Context(), sec, k.Brokers)
		require.ErrorContains(t, err, "the broker's certificate is not trusted")
		a := activities.New(activities.Config{KafkaBrokers: k.Brokers, KafkaSecurity: sec}, slog.New(slog.DiscardHandler))
		defer a.Close()
		require.ErrorContains(t, a.CheckKafka(t.Context()), "the broker's certificate is not trusted")
	})

	t.Run("no client certificate: the broker refuses the handshake", func(t *testing.T) {
		sec := securityOf(t, k, "KAFKA_TLS_CERT_FILE=", "KAFKA_TLS_KEY_FILE=")
		require.ErrorContains(t, kafkaprobe.Metadata(t.Context(), sec, k.Brokers),
			"the broker refused the TLS handshake: if it requires client certificates, set KAFKA_TLS_CERT_FILE")
	})

	t.Run("TLS to a plaintext port: the broker does not speak TLS", func(t *testing.T) {
		require.ErrorContains(t, kafkaprobe.Metadata(t.Context(), k.Security, stacktest.KafkaBrokers(t)),
			"the broker does not speak TLS at this address")
	})

	t.Run("SCRAM-SHA-256 and PLAIN log in too", func(t *testing.T) {
		for _, m := range []string{kafkasec.ScramSHA256, kafkasec.Plain} {
			sec := securityOf(t, k, "KAFKA_SASL_MECHANISM="+m)
			assert.NoError(t, kafkaprobe.Metadata(t.Context(), sec, k.Brokers), m)
		}
	})

	t.Run("Kafka's own tools connect through client.properties", func(t *testing.T) {
		out, err := k.Run("kafka-topics", "--list")
		require.NoError(t, err, "%s", out)
	})
}

// runToError runs a users worker with cfg and returns the error it stops with, which
// it must within a minute.
func runToError(t *testing.T, cfg streaming.Config) error {
	t.Helper()
	w, err := streaming.New(cfg, streaming.Users{}, streaming.NewMetrics(prometheus.NewRegistry()))
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
	vars := map[string]string{}
	for _, kv := range append(k.Env, changes...) {
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
	for _, kv := range k.Env {
		if file, ok := strings.CutPrefix(kv, "KAFKA_SASL_PASSWORD_FILE="); ok {
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatal("secure.env sets no KAFKA_SASL_PASSWORD_FILE")
	return ""
}

// otherCA writes a CA certificate of the test's own, which signed nothing the
// broker has, and returns its file.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the stack's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "other-ca.pem")
	require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return file
}
