package streaming_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// Cassandra with PasswordAuthenticator (the stack's CASSANDRA_AUTH=1): wrong
// credentials stop the worker at once with an error naming the host and the user,
// without waiting out the start-up retries; the right ones write every row.
func TestCassandraCredentials(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsCassandra, stacktest.NeedsScript)
	script := stackScript(t)
	restart := func(auth string) {
		t.Helper()
		runStack(t, script, "down", "cassandra")
		cmd := exec.Command(script, "up", "cassandra")
		cmd.Env = append(os.Environ(), "CASSANDRA_AUTH="+auth)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "CASSANDRA_AUTH=%s stack.sh up cassandra:\n%s", auth, out)
	}
	restart("1")
	t.Cleanup(func() { restart("0") })
	t.Setenv("CASSANDRA_USERNAME", "cassandra") // the stack's superuser
	t.Setenv("CASSANDRA_PASSWORD", "cassandra")
	p := newPipe(t, 3)

	wrong := p.config()
	wrong.Password = "not-the-password"
	wrong.StartupTimeout = 2 * time.Minute
	w, err := streaming.New(wrong, streaming.Users{}, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	start := time.Now()
	err = w.Run(t.Context())
	require.ErrorContains(t, err, `rejected the credentials of user "cassandra"`)
	require.ErrorContains(t, err, "check the username and password")
	assert.NotContains(t, err.Error(), "not-the-password", "the error never shows the password")
	assert.Less(t, time.Since(start), time.Minute, "rejected credentials end the start-up retries at once")

	l := newLoad()
	p.produce(l.messages(newIDs(500), 1, 50, time.Now()))
	_, stop := runInProcess(t, p.config(), streaming.NewMetrics(prometheus.NewRegistry()))
	p.waitCaughtUp(time.Minute)
	require.NoError(t, stop())
	p.checkRows(l)
	p.checkDLQ(l, true)
}
