package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/internal/misconfig"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/internal/testkit/temporaltest"
	"github.com/streampipe/streampipe/internal/testkit/testcerts"
)

// load reads the starter's configuration from env alone.
func load(t *testing.T, env map[string]string) Producer {
	t.Helper()
	cfg, err := LoadStarter(func(n string) (string, bool) { v, ok := env[n]; return v, ok })
	require.NoError(t, err)
	return cfg
}

func dial(t *testing.T, cfg Producer) (client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return DialTemporal(ctx, cfg, nil)
}

// Through a front that requires mutual TLS and an API key, the client completes
// the handshake with the test's certificates and its key is accepted.
func TestDialCompletesMutualTLSWithTheAPIKey(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	f := temporaltest.SecureFront(t)
	c, err := dial(t, load(t, f.Env()))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.CheckHealth(context.Background(), &client.CheckHealthRequest{})
	require.NoError(t, err)
	ns, err := c.WorkflowService().DescribeNamespace(context.Background(),
		&workflowservice.DescribeNamespaceRequest{Namespace: stacktest.TemporalNamespace()})
	require.NoError(t, err)
	assert.Equal(t, stacktest.TemporalNamespace(), ns.NamespaceInfo.Name, "the front forwards Temporal's calls")
}

// Each refusal says what was refused and which variable to look at, and never
// shows the API key.
func TestRefusalsSayWhich(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	f := temporaltest.SecureFront(t)
	other := testcerts.NewCA(t, "other")
	strangerCert := other.Client("stranger")
	tests := []struct {
		name string
		env  func(map[string]string)
		cfg  func(*Producer)
		want string
	}{
		{"wrong API key", func(env map[string]string) { env["TEMPORAL_API_KEY"] = "sp-wrong-key" }, nil,
			"Temporal refused the API key (TEMPORAL_API_KEY): failed reaching server: rpc error: code = Unauthenticated desc = the API key was refused"},
		{"no API key", func(env map[string]string) {
			delete(env, "TEMPORAL_API_KEY")
			env["TEMPORAL_TLS"] = "true"
		}, nil, "Temporal wants credentials: set TEMPORAL_API_KEY"},
		{"wrong CA", func(env map[string]string) { env["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] = other.CertFile }, nil,
			"the server's certificate is not trusted: it is not signed by the CA of TEMPORAL_TLS_SERVER_CA_CERT_PATH"},
		{"wrong server name", func(env map[string]string) { env["TEMPORAL_TLS_SERVER_NAME"] = "temporal.example" }, nil,
			"the server's certificate is not for this host name: TEMPORAL_TLS_SERVER_NAME"},
		{"client certificate of another CA", func(env map[string]string) {
			env["TEMPORAL_TLS_CLIENT_CERT_PATH"], env["TEMPORAL_TLS_CLIENT_KEY_PATH"] = strangerCert.CertFile, strangerCert.KeyFile
		}, nil, "TEMPORAL_TLS_CLIENT_CERT_PATH"}, // the alert, or with TLS 1.3 often only the closed connection
		{"plaintext", func(env map[string]string) { // no credentials: they are for TLS only
			for _, name := range []string{"TEMPORAL_API_KEY", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"} {
				delete(env, name)
			}
			env["TEMPORAL_TLS"] = "false"
		}, nil, "the server closed the plaintext connection: does it expect TLS? (TEMPORAL_TLS=true)"},
		{"TLS to a plaintext server", func(env map[string]string) {
			env["TEMPORAL_ADDRESS"] = stacktest.TemporalAddress(t)
			delete(env, "TEMPORAL_API_KEY")
		}, nil, "the server does not speak TLS: set TEMPORAL_TLS=false"},
		// The configuration refuses an expired certificate before connecting; here
		// it is given to the client directly, to show that the front refuses it too.
		{"expired client certificate", nil, func(cfg *Producer) {
			cfg.TemporalOptions.ConnectionOptions.TLS.Certificates = []tls.Certificate{f.CA.ExpiredClient("expired").TLS}
		}, "TEMPORAL_TLS_CLIENT_CERT_PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := f.Env()
			if tt.env != nil {
				tt.env(env)
			}
			cfg := load(t, env)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := dial(t, cfg)
			require.Error(t, err)
			require.True(t, misconfig.Is(err), "a misconfiguration: %v", err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), temporaltest.APIKey)
		})
	}
}

// One profile of a TOML file serves the worker and the starter and the temporal
// CLI: TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE alone choose the front, its
// namespace, the mutual TLS and the API key.
func TestOneProfileServesStreampipeAndTheCLI(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsScript)
	f := temporaltest.SecureFront(t)
	file := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`
[profile.default]
address = "127.0.0.1:1"

[profile.secured]
address = %q
namespace = %q
api_key = %q
[profile.secured.tls]
client_cert_path = %q
client_key_path = %q
server_ca_cert_path = %q
`, f.Addr, stacktest.TemporalNamespace(), temporaltest.APIKey, f.Client.CertFile, f.Client.KeyFile, f.CA.CertFile)), 0o600))
	profile := map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "secured"}

	cfg := load(t, profile)
	assert.Equal(t, f.Addr, cfg.TemporalAddress)
	c, err := dial(t, cfg)
	require.NoError(t, err)
	c.Close()

	temporal, err := exec.Command("../../stack/stack.sh", "tool", "temporal").Output()
	require.NoError(t, err)
	cli := exec.Command(strings.TrimSpace(string(temporal)), "operator", "namespace", "describe", "-n", stacktest.TemporalNamespace())
	cli.Env = []string{"TEMPORAL_CONFIG_FILE=" + file, "TEMPORAL_PROFILE=secured"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") { // the profile alone says where and how
			cli.Env = append(cli.Env, kv)
		}
	}
	out, err := cli.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), stacktest.TemporalNamespace())
}
