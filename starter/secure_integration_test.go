package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/internal/testkit/temporaltest"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
)

// secureConfig is the starter's configuration for the front f, on the task queue,
// schedule and topic of plain (a worker's).
func secureConfig(t *testing.T, f *temporaltest.Front, plain config.Producer, change map[string]string) config.Producer {
	t.Helper()
	env := f.Env()
	for k, v := range change {
		env[k] = v
	}
	cfg, err := config.LoadStarter(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	require.NoError(t, err)
	cfg.TaskQueue, cfg.ScheduleID, cfg.KafkaTopic = plain.TaskQueue, plain.ScheduleID, plain.KafkaTopic
	return cfg
}

// `starter run` starts and follows a run through a front that requires mutual TLS
// and the API key; the key shows nowhere: not in its output, the ids file or the
// run's history (its input).
func TestRunThroughMutualTLSAndAPIKey(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	plain := startWorker(t)
	f := temporaltest.SecureFront(t)
	cfg := secureConfig(t, f, plain, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	idsFile := filepath.Join(t.TempDir(), "ids")

	err := dispatch(ctx, []string{"run", "-id", plain.TaskQueue, "-duration", "3s", "-users-per-tick", "2", "-ids-file", idsFile},
		cfg, nil, &stdout, &stderr)

	require.NoError(t, err, stderr.String())
	assert.Contains(t, stdout.String(), `"records_published": 6,`)
	ids, err := os.ReadFile(idsFile)
	require.NoError(t, err)
	for _, out := range []string{stdout.String(), stderr.String(), string(ids)} {
		assert.NotContains(t, out, temporaltest.APIKey)
	}
	c, err := client.Dial(client.Options{HostPort: plain.TemporalAddress, Namespace: plain.TemporalNamespace, Logger: quietLogger(cli.LogText)})
	require.NoError(t, err)
	defer c.Close()
	history := c.GetWorkflowHistory(ctx, plain.TaskQueue, jsonField(t, stdout.Bytes(), "run_id"), false, 0)
	for history.HasNext() {
		e, err := history.Next()
		require.NoError(t, err)
		assert.NotContains(t, e.String(), temporaltest.APIKey)
	}
}

// A refused API key and an untrusted server each stop the starter with a message
// that says which, before it starts anything.
func TestStarterRefusalsSayWhich(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	f := temporaltest.SecureFront(t)
	plain := config.Producer{TaskQueue: "never-started", ScheduleID: "never-started", KafkaTopic: "never-started"}
	for _, tt := range []struct {
		change map[string]string
		want   string
	}{
		{map[string]string{"TEMPORAL_API_KEY": "sp-wrong-api-key"},
			"connecting to Temporal at " + f.Addr + " (namespace default): Temporal refused the API key (TEMPORAL_API_KEY)"},
		{map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": testcerts.NewCA(t, "other").CertFile},
			"the server's certificate is not trusted"},
	} {
		cfg := secureConfig(t, f, plain, tt.change)
		err := dispatch(context.Background(), []string{"schedule", "describe"}, cfg, nil, &bytes.Buffer{}, &bytes.Buffer{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
		assert.NotContains(t, err.Error(), "make stack-up", "the server answered: it runs")
		assert.NotContains(t, err.Error(), "sp-wrong-api-key")
	}
}
