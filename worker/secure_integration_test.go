package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/internal/testkit/temporaltest"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
	"github.com/streampipe/streampipe/workflows"
)

// environ is env as NAME=value lines.
func environ(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// The worker program reaches Temporal through a front that requires mutual TLS
// (certificates the test makes) and the API key as bearer token, and runs a run to
// its end; neither the key nor the client's private key shows in its log (at
// debug level) or in the run's history.
func TestRunThroughMutualTLSAndAPIKey(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	s := newStack(t)
	f := temporaltest.SecureFront(t)
	w := s.startWorker(t, randomusertest.NewServer(t).URL, append(environ(f.Env()), "LOG_LEVEL=debug")...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run := s.start(t, ctx, workflows.UserAutomationInput{Duration: "3s", RecordsPerTick: 2})
	var res workflows.UserAutomationResult
	require.NoError(t, run.Get(ctx, &res))
	assert.Equal(t, 3, res.Ticks)
	assert.Equal(t, 6, res.UsersPublished)
	assert.Equal(t, "ok\n", w.get(t, "/healthz"), "the health check goes through the front too")

	logs := w.logs.String()
	assert.Contains(t, logs, "worker started")
	assert.Contains(t, logs, "temporal="+f.Addr+" namespace=default temporal_tls=true temporal_api_key=true")
	assert.NotContains(t, logs, temporaltest.APIKey)
	assert.NotContains(t, logs, f.Client.KeyMaterial())
	history := s.client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, 0)
	events := 0
	for history.HasNext() {
		e, err := history.Next()
		require.NoError(t, err)
		events++
		assert.NotContains(t, e.String(), temporaltest.APIKey)
	}
	assert.Positive(t, events)
}

// A wrong API key, an untrusted server, an expired client certificate, a key that
// is not the certificate's, credentials with TLS off and host verification turned
// off without the unsafe variable each stop the worker with a message that says
// which, and that never shows the key: exit 2, a configuration error, whether the
// worker finds it reading its settings or the server refuses them.
func TestRefusedCredentialsSayWhich(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	f := temporaltest.SecureFront(t)
	expired := f.CA.ExpiredClient("expired")
	tests := []struct {
		name   string
		change map[string]string
		code   int
		want   string
	}{
		{"wrong API key", map[string]string{"TEMPORAL_API_KEY": "sp-wrong-api-key"}, 2,
			"connecting to Temporal at " + f.Addr + ", namespace default: Temporal refused the API key (TEMPORAL_API_KEY)"},
		{"wrong CA", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": testcerts.NewCA(t, "other").CertFile}, 2,
			"the server's certificate is not trusted"},
		{"expired client certificate", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": expired.CertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH": expired.KeyFile}, 2,
			`TEMPORAL_TLS_CLIENT_CERT_PATH="` + expired.CertFile + `": the client certificate expired on`},
		{"key of another certificate", map[string]string{"TEMPORAL_TLS_CLIENT_KEY_PATH": expired.KeyFile}, 2,
			`TEMPORAL_TLS_CLIENT_KEY_PATH="` + expired.KeyFile + `": not the private key of the certificate of TEMPORAL_TLS_CLIENT_CERT_PATH`},
		{"credentials with TLS off", map[string]string{"TEMPORAL_TLS": "false"}, 2,
			`TEMPORAL_TLS="false" turns TLS off, yet TEMPORAL_API_KEY is set and a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH=`},
		{"host verification off", map[string]string{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"}, 2,
			`refused unless TEMPORAL_TLS_INSECURE_SKIP_VERIFY=1 asks for it too`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := f.Env()
			env["WORKER_METRICS_ADDR"] = "off"
			for k, v := range tt.change {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			code := runMain(nil, func(name string) (string, bool) { v, ok := env[name]; return v, ok }, &stdout, &stderr)
			assert.Equal(t, tt.code, code)
			assert.Contains(t, stderr.String(), tt.want)
			for _, key := range []string{temporaltest.APIKey, "sp-wrong-api-key", expired.KeyMaterial()} {
				assert.NotContains(t, stderr.String(), key)
			}
		})
	}
}

// -h lists Temporal's connection variables, and never shows a value of them.
func TestHelpListsTheTemporalConnection(t *testing.T) {
	env := map[string]string{"TEMPORAL_API_KEY": temporaltest.APIKey}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, runMain([]string{"-h"}, func(name string) (string, bool) { v, ok := env[name]; return v, ok }, &stdout, &stderr))
	for _, name := range []string{"TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE", "TEMPORAL_API_KEY ", "TEMPORAL_API_KEY_FILE", "TEMPORAL_TLS ",
		"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME"} {
		assert.Contains(t, stdout.String(), "  "+name)
	}
	assert.NotContains(t, stdout.String(), temporaltest.APIKey)
}
