package sparkpeer

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePeer is a Peer whose "python" is a shell script standing in for the job's
// driver: the process handling is tested without Spark (the real job runs in
// streaming's TestCutOverFromTheRealSparkJob).
func fakePeer(t *testing.T, script string) *Peer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "python3")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755))
	return &Peer{Python: path, Jars: t.TempDir(), JavaHome: t.TempDir(), Script: "spark_stream.py"}
}

func fakeJob(t *testing.T) Job {
	dir := t.TempDir()
	return Job{Brokers: []string{"127.0.0.1:9092"}, Topic: "users", Keyspace: "ks", Table: "t",
		Checkpoint: filepath.Join(dir, "checkpoint"), Log: filepath.Join(dir, "job.log")}
}

// The ready and batch lines become Run's JVM pid and Batches; every line goes to the log.
func TestRunParsesTheJobsLines(t *testing.T) {
	peer := fakePeer(t, `echo 'spark-peer ready {"jvm_pid": 4242, "query_id": "q"}'
echo 'some other line'
echo 'spark-peer batch {"batch": 0, "rows": 499, "end_offsets": {"0": 159, "1": 163, "2": 177}}'
echo 'spark-peer batch {"batch": 1, "rows": 3, "end_offsets": {"0": 160, "1": 164, "2": 178}}'
echo 'spark-peer stopped {"batches": 2}'
`)
	job := fakeJob(t)
	run, err := peer.Start(t.Context(), job)
	require.NoError(t, err)
	require.NoError(t, run.WaitReady(t.Context()))
	assert.Equal(t, 4242, run.Pid())
	var got []Batch
	for b := range run.Batches() {
		got = append(got, b)
	}
	require.NoError(t, run.Wait())
	assert.Equal(t, []Batch{
		{ID: 0, Rows: 499, EndOffsets: map[int32]int64{0: 159, 1: 163, 2: 177}},
		{ID: 1, Rows: 3, EndOffsets: map[int32]int64{0: 160, 1: 164, 2: 178}},
	}, got)
	assert.DirExists(t, job.Checkpoint)
	log, err := os.ReadFile(job.Log)
	require.NoError(t, err)
	assert.Contains(t, string(log), "some other line")
}

// Stop sends SIGTERM, which the job answers by stopping its query; a job that does
// not exit in time is killed, and Stop says so.
func TestStop(t *testing.T) {
	graceful := fakePeer(t, "trap 'exit 0' TERM\necho 'spark-peer ready {\"jvm_pid\": 1}'\nwhile :; do sleep 0.1; done\n")
	run, err := graceful.Start(t.Context(), fakeJob(t))
	require.NoError(t, err)
	require.NoError(t, run.WaitReady(t.Context()))
	require.NoError(t, run.Stop(time.Minute))
	require.NoError(t, run.Wait())

	stubborn := fakePeer(t, "trap '' TERM\necho 'spark-peer ready {\"jvm_pid\": 1}'\nwhile :; do sleep 0.1; done\n")
	run, err = stubborn.Start(t.Context(), fakeJob(t))
	require.NoError(t, err)
	require.NoError(t, run.WaitReady(t.Context()))
	require.ErrorContains(t, run.Stop(200*time.Millisecond), "did not stop within 200ms of SIGTERM: killed")
	require.ErrorContains(t, run.Wait(), "signal: killed")
}

// A job that exits before its query starts (a bad flag, Kafka or Cassandra
// unreachable) fails WaitReady with its exit; Start refuses a Job that lacks a
// setting.
func TestJobFailures(t *testing.T) {
	peer := fakePeer(t, "echo 'spark-peer: no jars in /x' >&2\nexit 1\n")
	job := fakeJob(t)
	run, err := peer.Start(t.Context(), job)
	require.NoError(t, err)
	require.ErrorContains(t, run.WaitReady(t.Context()), "exit status 1; its log has why")
	log, err := os.ReadFile(job.Log)
	require.NoError(t, err)
	assert.Contains(t, string(log), "no jars in /x")

	_, err = peer.Start(t.Context(), Job{Topic: "users"})
	require.ErrorContains(t, err, "a Job needs Brokers, Topic, Keyspace, Table and Checkpoint")
}

// Pids holds the driver and its children: the JVM is the driver's child.
func TestPidsHoldTheChildren(t *testing.T) {
	peer := fakePeer(t, "trap '' TERM\nsleep 60 &\necho \"spark-peer ready {\\\"jvm_pid\\\": $!}\"\nwait\n")
	run, err := peer.Start(t.Context(), fakeJob(t))
	require.NoError(t, err)
	require.NoError(t, run.WaitReady(t.Context()))
	pids := run.Pids()
	assert.Len(t, pids, 2)
	assert.True(t, slices.Contains(pids, run.Pid()), "the child %d among %v", run.Pid(), pids)
	assert.Error(t, run.Stop(100*time.Millisecond), "killed, with its child: the process group")
	assert.Eventually(t, func() bool { return !alive(run.Pid()) }, 10*time.Second, 10*time.Millisecond, "the child killed too")
}

// alive says whether pid is a process that is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// Where the Spark peer cannot be installed, Ensure says why: here, no checkout; in
// stack_test, PyPI unreachable.
func TestEnsureOutsideACheckout(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := Ensure(t.Context())
	require.ErrorContains(t, err, "the Spark peer cannot be installed: no stack/stack.sh in the working directory or above it")
}

// stack.sh's own explanation of a failed install is the error's.
func TestEnsureGivesTheScriptsReason(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "stack"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "stack", "stack.sh"),
		[]byte("#!/bin/sh\necho '==> installing pyspark' >&2\necho 'stack: python3 -m venv failed: install the venv module' >&2\nexit 1\n"), 0o755))
	t.Chdir(root)
	_, err := Ensure(t.Context())
	require.ErrorContains(t, err, "the Spark peer cannot be installed: stack/stack.sh tool spark")
	require.ErrorContains(t, err, "stack: python3 -m venv failed: install the venv module")
}
