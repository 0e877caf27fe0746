package stack_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

// `stack.sh temporal-front` (what `up` does for Temporal when STACK_SECURE=1) puts
// the running Temporal behind a front requiring mutual TLS with the stack's
// certificates and an API key, and writes the clients' settings as the TEMPORAL_*
// lines of secure.env, leaving the other lines: the worker's and the starter's
// configuration read from those lines connects; `down temporal` stops the front.
func TestTemporalFront(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsScript)
	dir := filepath.Join(t.TempDir(), "stack")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	secureEnv := filepath.Join(dir, "secure.env")
	require.NoError(t, os.WriteFile(secureEnv, []byte("KAFKA_TLS=true\nTEMPORAL_ADDRESS=stale:1\n"), 0o600))
	port := strconv.Itoa(stacktest.FreePort(t))
	script := func(args ...string) string {
		cmd := exec.Command("./stack.sh", args...)
		cmd.Env = append(os.Environ(), "STREAMPIPE_STACK_DIR="+dir, "STACK_TEMPORAL_TLS_PORT="+port)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	t.Cleanup(func() { script("down", "temporal") })

	out := script("temporal-front")
	assert.Contains(t, out, "temporal-front answers after")
	assert.Contains(t, out, "SERVING through TLS and API key", "the temporal CLI reads the same settings")
	env := readEnvFile(t, secureEnv)
	assert.Equal(t, "true", env["KAFKA_TLS"], "the other services' lines stay")
	assert.Equal(t, "127.0.0.1:"+port, env["TEMPORAL_ADDRESS"])
	info, err := os.Stat(secureEnv)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	cfg, err := config.LoadStarter(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := config.DialTemporal(ctx, cfg, nil)
	require.NoError(t, err)
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	c.Close()
	require.NoError(t, err)

	delete(env, "TEMPORAL_API_KEY_FILE")
	env["TEMPORAL_TLS"] = "true"
	cfg, err = config.LoadStarter(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	require.NoError(t, err)
	_, err = config.DialTemporal(ctx, cfg, nil)
	require.Error(t, err, "the front requires the API key")
	assert.Contains(t, err.Error(), "Temporal wants credentials")

	assert.Contains(t, script("down", "temporal"), "stopping temporal-front")
}

// readEnvFile reads NAME=value lines.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), "="); ok {
			env[name] = value
		}
	}
	require.NoError(t, sc.Err())
	return env
}
