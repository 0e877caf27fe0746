// Package sparkpeer runs the real Spark job streampipe replaces, as a peer on the same
// Kafka and Cassandra: the seed's Structured Streaming query (stack/spark/spark_stream.py,
// Kafka → from_json → Spark Cassandra connector) on pyspark in local[2] mode. The
// cut-over test stops it partway and hands its checkpoint to `starter cutover`; make
// bench compares it with the streaming worker.
//
// Ensure installs it once per machine with `stack/stack.sh tool spark` (pyspark and
// the connector's jars, pinned by sha256, into the stack's cache); it runs on the
// stack's JDK 17.
package sparkpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Peer is an installed Spark peer.
type Peer struct {
	Python   string // the venv's python, with pyspark
	Jars     string // the folder of the jars added to pyspark's (Kafka source, Cassandra sink)
	JavaHome string // the JDK 17 it runs on
	Script   string // stack/spark/spark_stream.py
}

// Ensure installs the Spark peer once per machine (into the stack cache) and returns
// it, or an error that says why it cannot be installed. A cold install downloads
// ~340 MB and took about 2 minutes on two shared cores; later calls take a fraction
// of a second.
func Ensure(ctx context.Context) (*Peer, error) {
	root, err := checkoutRoot()
	if err != nil {
		return nil, err
	}
	home, err := stackTool(ctx, root, "spark")
	if err != nil {
		return nil, err
	}
	java, err := stackTool(ctx, root, "java17")
	if err != nil {
		return nil, err
	}
	return &Peer{
		Python:   filepath.Join(home, "venv", "bin", "python3"),
		Jars:     filepath.Join(home, "jars"),
		JavaHome: filepath.Dir(filepath.Dir(java)),
		Script:   filepath.Join(root, "stack", "spark", "spark_stream.py"),
	}, nil
}

// checkoutRoot is the checkout the process runs in: the nearest folder up from the
// working directory that holds stack/stack.sh (go test runs in a package's folder).
func checkoutRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "stack", "stack.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the Spark peer cannot be installed: no stack/stack.sh in the working directory or above it (run from a streampipe checkout)")
		}
		dir = parent
	}
}

// stackTool runs `stack/stack.sh tool name` and returns the path it prints; its
// failure carries the script's own explanation (the last lines it wrote).
func stackTool(ctx context.Context, root, name string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "stack", "stack.sh"), "tool", name)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("the Spark peer cannot be installed: stack/stack.sh tool %s: %v: %s",
			name, err, lastLines(stderr.String(), 5))
	}
	return strings.TrimSpace(string(out)), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Job is what one run of the Spark job reads and writes.
type Job struct {
	Brokers              []string
	Topic                string
	CassandraHost        string        // default 127.0.0.1
	CassandraPort        int           // default 9042
	Keyspace, Table      string        // the table must exist, with the users columns
	Checkpoint           string        // directory; created if missing
	Trigger              time.Duration // 0: as fast as possible (Spark's default trigger)
	MaxOffsetsPerTrigger int           // 0: unlimited
	// StopAfterBatches stops the query once this many batches finished (a batch
	// running then is interrupted, or finishes first); 0: run until stopped.
	StopAfterBatches int
	Log              string // file for the job's stdout/stderr (appended); "": discarded
}

// args are the job script's flags for j.
func (j Job) args(p *Peer) ([]string, error) {
	if len(j.Brokers) == 0 || j.Topic == "" || j.Keyspace == "" || j.Table == "" || j.Checkpoint == "" {
		return nil, errors.New("sparkpeer: a Job needs Brokers, Topic, Keyspace, Table and Checkpoint")
	}
	host, port := j.CassandraHost, j.CassandraPort
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = 9042
	}
	return []string{p.Script,
		"--brokers", strings.Join(j.Brokers, ","), "--topic", j.Topic,
		"--cassandra-host", host, "--cassandra-port", strconv.Itoa(port),
		"--keyspace", j.Keyspace, "--table", j.Table, "--checkpoint", j.Checkpoint, "--jars", p.Jars,
		"--trigger-ms", strconv.FormatInt(j.Trigger.Milliseconds(), 10),
		"--max-offsets-per-trigger", strconv.Itoa(j.MaxOffsetsPerTrigger),
		"--stop-after-batches", strconv.Itoa(j.StopAfterBatches),
	}, nil
}
