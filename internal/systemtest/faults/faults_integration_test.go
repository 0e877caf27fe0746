//go:build cluster

// The fault matrix on the local stack's clusters (STACK_NODES=3): each test runs the
// real producer (the UserAutomation workflow in the worker program) and the real
// streaming worker under steady load, faults a server mid-run, and afterwards counts
// every record by id. `make test-cluster` starts the clusters and runs these tests
// (the cluster build tag keeps them out of `make test`, which has one node of each).
package faults_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/progtest"
	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

func TestMain(m *testing.M) { progtest.Main(m) }

// pipeline is one run's own topic, group, table and task queue on the clusters, with
// a worker and a streaming worker serving it.
type pipeline struct {
	name, topic, dlq, keyspace, table string
	env                               []string
	brokers                           []string
	session                           *gocql.Session
	streaming                         *exec.Cmd // the first streaming worker
	poison                            []string  // keys of the records sent to be dead-lettered

	stop    chan struct{} // ends watchStalls
	stalled chan time.Duration
	// stallBound is the longest stall settled accepts: the pipeline must move again
	// within it once the fault is over (a liveness bound, far above what is measured).
	stallBound time.Duration
}

// defaultStallBound bounds a fault's stall: the group's 10 s session timeout, a
// rebalance, a broker or node back, with room for a loaded machine.
const defaultStallBound = 90 * time.Second

// watchStalls measures, from now until settled, the longest time the group's committed
// offsets stood still while records waited: how long the fault stopped the pipeline.
func (p *pipeline) watchStalls(t *testing.T) {
	p.stop, p.stalled = make(chan struct{}), make(chan time.Duration, 1)
	client := &kafka.Client{Addr: kafka.TCP(p.brokers...), Timeout: 5 * time.Second}
	go func() {
		var longest time.Duration
		last, since := int64(-1), time.Now()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				p.stalled <- longest
				return
			case <-tick.C:
			}
			end, committed, err := kafkatest.GroupOffsets(context.Background(), client, p.topic, p.name)
			if err != nil {
				continue // a broker down: the next sample tells
			}
			var sum, lag int64
			for part, e := range end {
				sum += max(committed[part], 0)
				lag += e - max(committed[part], 0)
			}
			if sum != last || lag == 0 {
				last, since = sum, time.Now()
			}
			longest = max(longest, time.Since(since))
		}
	}()
}

func newPipeline(t *testing.T, env ...string) *pipeline {
	t.Helper()
	name := fmt.Sprintf("faults_%s_%d", strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())), rand.IntN(1e6))
	p := &pipeline{name: name, topic: name, dlq: name + "_dlq", keyspace: "faults", table: name,
		brokers: stacktest.KafkaBrokers(t), stallBound: defaultStallBound}
	p.env = append(os.Environ(),
		"TEMPORAL_TASK_QUEUE="+name, "TEMPORAL_SCHEDULE_ID="+name, "KAFKA_TOPIC="+name, "KAFKA_DLQ_TOPIC="+p.dlq,
		"STREAMING_GROUP="+name, "CASSANDRA_KEYSPACE="+p.keyspace, "CASSANDRA_TABLE="+p.table,
		"STREAMING_DATASETS=users", "RANDOMUSER_URL=http://127.0.0.1:9/api/", // the faker, at once
		fmt.Sprintf("WORKER_METRICS_ADDR=127.0.0.1:%d", stacktest.FreePort(t)))
	p.env = append(p.env, env...)
	for _, setting := range env {
		if ks, ok := strings.CutPrefix(setting, "CASSANDRA_KEYSPACE="); ok {
			p.keyspace = ks
		}
	}
	cluster := gocql.NewCluster(stacktest.CassandraHosts(t)...)
	cluster.Consistency = gocql.LocalQuorum
	cluster.Timeout = 10 * time.Second
	session, err := cluster.CreateSession()
	require.NoError(t, err)
	t.Cleanup(session.Close)
	p.session = session
	t.Cleanup(func() { wholeAgain(t) })
	p.start(t, "worker")
	p.streaming = p.startStreaming(t)
	return p
}

// startStreaming starts one more streaming worker of the pipeline's group.
func (p *pipeline) startStreaming(t *testing.T) *exec.Cmd {
	t.Helper()
	return p.start(t, "streaming", fmt.Sprintf("STREAMING_METRICS_ADDR=127.0.0.1:%d", stacktest.FreePort(t)))
}

// wholeAgain starts whatever server node a test left stopped: the next test starts
// from whole clusters.
func wholeAgain(t *testing.T) {
	out, err := exec.Command("../../../stack/stack.sh", "up").CombinedOutput()
	require.NoError(t, err, "stack/stack.sh up:\n%s", out)
}

// start runs one of the programs until the test ends, its output in the test's log
// folder, with the pipeline's environment and env.
func (p *pipeline) start(t *testing.T, program string, env ...string) *exec.Cmd {
	t.Helper()
	log, err := os.CreateTemp(t.TempDir(), program+"-*.log")
	require.NoError(t, err)
	cmd := exec.Command(progtest.Program(t, program))
	cmd.Env, cmd.Stdout, cmd.Stderr = append(slices.Clone(p.env), env...), log, log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("%s's log:\n%s", program, tail(string(out), 40))
		}
	})
	return cmd
}

// result is what a run's result says of its records, and their ids.
type result struct {
	Published int            `json:"users_published"`
	BySource  map[string]int `json:"users_by_source"`
	ids       []string
}

// underLoad starts a run of ticks ticks of 10 users every 500 ms, calls fault
// faultAt into it, once the streaming worker has committed records, follows the run
// to its end, checks its records by id (settled), and returns the run's result.
func (p *pipeline) underLoad(t *testing.T, ticks int, faultAt time.Duration, fault func()) result {
	t.Helper()
	ids := filepath.Join(t.TempDir(), "ids")
	cmd := exec.Command(progtest.Program(t, "starter"), "run", "-task-queue", p.name, "-topic", p.topic,
		"-duration", (time.Duration(ticks) * 500 * time.Millisecond).String(), "-interval", "500ms",
		"-records-per-tick", "10", "-ids-file", ids, "-id", p.name, "-timeout", "10m")
	cmd.Env = p.env
	out, stdout := &strings.Builder{}, &strings.Builder{} // its progress, its result
	cmd.Stdout, cmd.Stderr = stdout, out
	require.NoError(t, cmd.Start())
	time.Sleep(faultAt)
	// Mid-stream: the worker has written and committed records already.
	require.Eventually(t, func() bool { return p.committed(t) > 0 }, 2*time.Minute, 200*time.Millisecond,
		"the streaming worker committed nothing in the run's first %v", faultAt)
	p.watchStalls(t)
	fault()
	require.NoError(t, cmd.Wait(), "starter run:\n%s%s", out, stdout)
	f, err := os.Open(ids)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	for s := bufio.NewScanner(f); s.Scan(); {
		lines = append(lines, s.Text())
	}
	require.Len(t, lines, ticks*10, "the run's ids")
	var res result
	require.NoError(t, json.NewDecoder(strings.NewReader(stdout.String())).Decode(&res), "the run's result:\n%s", stdout)
	require.Equal(t, ticks*10, res.Published, "the run's result")
	p.settled(t, lines)
	res.ids = lines
	return res
}

// committed returns how many of the topic's records the group has committed.
func (p *pipeline) committed(t *testing.T) int64 {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(p.brokers...), Timeout: 10 * time.Second}
	_, c, err := kafkatest.GroupOffsets(context.Background(), client, p.topic, p.name)
	if err != nil { // the topic is made by the run's first tick
		return 0
	}
	var sum int64
	for _, o := range c {
		sum += max(o, 0) // -1: nothing committed
	}
	return sum
}

// settled waits until the streaming worker has committed the topic's end offsets, then
// checks the run's outcome by id: every record a row, no other row, the dead-letter
// topic empty, and every message on the topic one of the run's records.
func (p *pipeline) settled(t *testing.T, ids []string) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(p.brokers...), Timeout: 10 * time.Second}
	ctx := context.Background()
	var lag int64
	require.Eventually(t, func() bool {
		end, committed, err := kafkatest.GroupOffsets(ctx, client, p.topic, p.name)
		if err != nil {
			t.Logf("offsets: %v", err)
			return false
		}
		lag = 0
		for part, e := range end {
			lag += e - committed[part]
		}
		return lag == 0
	}, 3*time.Minute, time.Second, "the group's committed offsets never reached the topic's end (lag %d)", lag)
	close(p.stop)
	stall := (<-p.stalled).Round(100 * time.Millisecond)
	t.Logf("longest stall of the committed offsets with records waiting: %v", stall)
	assert.LessOrEqual(t, stall, p.stallBound, "the pipeline stood still longer than the fault's bound")

	rows := map[string]int{}
	iter := p.session.Query("SELECT id FROM " + p.keyspace + "." + p.table).Iter()
	var id gocql.UUID
	for iter.Scan(&id) {
		rows[id.String()]++
	}
	require.NoError(t, iter.Close())
	missing := 0
	for _, id := range ids {
		if rows[id] != 1 {
			missing++
		}
	}
	require.Zero(t, missing, "records of the run that are not a row")
	require.Len(t, rows, len(ids), "rows that are no record of the run")

	// The dead letters: exactly the poison records the test sent, each at least once.
	dead, deadMessages := topicKeys(t, p.brokers, p.dlq)
	require.Len(t, dead, len(p.poison), "distinct keys in %s", p.dlq)
	for _, key := range p.poison {
		require.True(t, dead[key], "poison record %s is not in %s", key, p.dlq)
	}

	keys, messages := topicKeys(t, p.brokers, p.topic)
	require.Len(t, keys, len(ids)+len(p.poison), "distinct keys on the topic")
	for _, id := range ids {
		require.True(t, keys[id], "record %s is not on the topic", id)
	}
	messages -= len(p.poison)
	t.Logf("%d records, %d rows, %d messages on the topic (%d re-sent); %d poison records, %d dead letters",
		len(ids), len(rows), messages, messages-len(ids), len(p.poison), deadMessages)
}

// sendPoison publishes n records to the pipeline's topic that are no user (not
// JSON), one every 50 ms; the streaming worker must dead-letter each.
func (p *pipeline) sendPoison(n int) error {
	w := &kafka.Writer{Addr: kafka.TCP(p.brokers...), Topic: p.topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, MaxAttempts: 20}
	defer w.Close()
	for i := range n {
		key := fmt.Sprintf("poison-%s-%d", p.name, i)
		if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte(key), Value: []byte("not a user {")}); err != nil {
			return fmt.Errorf("sending poison record %d: %w", i, err)
		}
		p.poison = append(p.poison, key)
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// topicKeys reads a topic from its start to its end and returns its distinct keys and
// how many messages it holds.
func topicKeys(t *testing.T, brokers []string, topic string) (map[string]bool, int) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	ranges, err := dlq.Ranges(context.Background(), client, topic)
	require.NoError(t, err)
	keys, messages := map[string]bool{}, 0
	for _, rg := range ranges {
		part, last := rg.Partition, rg.To
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part, MaxWait: 500 * time.Millisecond})
		for off := int64(0); off < last; off++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			m, err := r.ReadMessage(ctx)
			cancel()
			require.NoError(t, err, "reading partition %d at %d of %d", part, off, last)
			keys[string(m.Key)] = true
			messages++
			off = m.Offset
		}
		require.NoError(t, r.Close())
	}
	return keys, messages
}

// node is one server node of the clusters, as stack/stack.sh names it: temporal,
// kafka-1 .. kafka-3, cassandra-1 .. cassandra-3.
type node string

// pidFile is where stack/stack.sh keeps the node's pid: node 1's is the one-node
// stack's (kafka.pid).
func (n node) pidFile(t *testing.T) string {
	return filepath.Join(stackDir(t), "run", strings.TrimSuffix(string(n), "-1")+".pid")
}

// kill9 kills the node at once, with its process group (stack/stack.sh starts each in
// a session of its own).
func (n node) kill9(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(n.pidFile(t))
	require.NoError(t, err, "%s is not running", n)
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(-pid, syscall.SIGKILL), "kill -9 %s", n)
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s killed (kill -9 of pid %d)", n, pid)
}

// start starts the node again and returns once it answers; the test fails if it does
// not.
func (n node) start(t *testing.T) time.Duration {
	t.Helper()
	begin := time.Now()
	out, err := exec.Command("../../../stack/stack.sh", "up", string(n)).CombinedOutput()
	require.NoError(t, err, "stack/stack.sh up %s:\n%s", n, out)
	t.Logf("%s back after %v", n, time.Since(begin).Round(100*time.Millisecond))
	return time.Since(begin)
}

// stop stops the node as an operator does (SIGTERM, then wait).
func (n node) stop(t *testing.T) {
	t.Helper()
	out, err := exec.Command("../../../stack/stack.sh", "down", string(n)).CombinedOutput()
	require.NoError(t, err, "stack/stack.sh down %s:\n%s", n, out)
}

func stackDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("STREAMPIPE_STACK_DIR")
	require.NotEmpty(t, dir, "STREAMPIPE_STACK_DIR: the clusters' stack folder (make test-cluster sets it)")
	return dir
}

// leaderOf returns the Kafka node that leads a topic's partition.
func leaderOf(t *testing.T, brokers []string, topic string, partition int) node {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	md, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
	require.NoError(t, err)
	for _, p := range md.Topics[0].Partitions {
		if p.ID == partition {
			return node(fmt.Sprintf("kafka-%d", p.Leader.ID))
		}
	}
	t.Fatalf("no partition %d of %s", partition, topic)
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// One Cassandra node killed mid-stream: writes go on at LOCAL_QUORUM with two of three
// replicas; the node comes back and nothing is lost.
func TestCassandraNodeKilled(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	p := newPipeline(t)
	p.underLoad(t, 80, 10*time.Second, func() {
		node("cassandra-3").kill9(t)
		time.Sleep(10 * time.Second) // writes with one replica down
		node("cassandra-3").start(t)
	})
}

// The broker leading partition 0 killed mid-stream: the producer and the consumers move
// to the new leaders; nothing lost, a re-sent record is one row.
func TestKafkaLeaderKilled(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	p := newPipeline(t)
	p.underLoad(t, 80, 10*time.Second, func() {
		leader := leaderOf(t, p.brokers, p.topic, 0)
		leader.kill9(t)
		time.Sleep(10 * time.Second)
		leader.start(t)
	})
}

// Two Cassandra nodes of three down: no write reaches LOCAL_QUORUM, so the worker backs
// off and commits nothing; one node back, it resumes, and nothing is lost.
func TestTwoCassandraNodesDown(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	p := newPipeline(t)
	p.stallBound = 20*time.Second + 2*time.Minute // down 20 s, then a node's restart (15–81 s measured)
	p.underLoad(t, 80, 10*time.Second, func() {
		node("cassandra-2").kill9(t)
		node("cassandra-3").kill9(t)
		time.Sleep(5 * time.Second) // the batch in flight fails
		before := p.committed(t)
		time.Sleep(15 * time.Second)
		require.Equal(t, before, p.committed(t), "offsets committed while no write could reach a quorum")
		t.Logf("%d offsets committed, none during 15 s with two nodes down", before)
		node("cassandra-2").start(t)
	})
}

// A Cassandra node down before the streaming worker starts for a new keyspace and
// table: the schema change cannot reach that node, so the worker waits only for the
// nodes that answer to agree, warns naming the silent one, and goes on. Every record
// is a row; the node comes back mid-run and takes the schema, and nothing is lost
// or doubled: every row reads back at consistency ALL.
func TestNewTableWithACassandraNodeDown(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	node("cassandra-3").stop(t)
	keyspace := fmt.Sprintf("faults_down_%d", rand.IntN(1e6))
	start := time.Now()
	p := newPipeline(t, "CASSANDRA_KEYSPACE="+keyspace)
	t.Cleanup(func() { _ = p.session.Query("DROP KEYSPACE IF EXISTS " + keyspace).Exec() })
	firstRow := make(chan time.Duration, 1)
	go func() {
		for time.Since(start) < 3*time.Minute {
			var id gocql.UUID
			if p.session.Query("SELECT id FROM "+keyspace+"."+p.table+" LIMIT 1").Consistency(gocql.One).Scan(&id) == nil {
				firstRow <- time.Since(start)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(firstRow)
	}()
	ids := p.underLoad(t, 40, 5*time.Second, func() {
		first, ok := <-firstRow
		require.True(t, ok, "no row within 3 minutes of the streaming worker's start with cassandra-3 down")
		t.Logf("with cassandra-3 down: streaming worker started → first row of the new table in %v", first.Round(100*time.Millisecond))
		node("cassandra-3").start(t)
	}).ids
	logs, err := os.ReadFile(p.streaming.Stdout.(*os.File).Name())
	require.NoError(t, err)
	require.Contains(t, string(logs), "the schema change has not reached every cassandra node; going on", "the streaming worker's log")
	require.NotContains(t, string(logs), "stopped; the other datasets go on", "the streaming worker's log")
	if m := regexp.MustCompile(`(?m)^time=(\S+) level=INFO msg=consuming`).FindSubmatch(logs); m != nil {
		if at, err := time.Parse(time.RFC3339Nano, string(m[1])); err == nil {
			t.Logf("with cassandra-3 down: streaming worker started → consuming in %v", at.Sub(start).Round(100*time.Millisecond))
		}
	}

	// cassandra-3 has the table (an ALL read of a table it lacks fails) and every row.
	found := 0
	for _, id := range ids {
		var got gocql.UUID
		require.NoError(t, p.session.Query("SELECT id FROM "+keyspace+"."+p.table+" WHERE id = ?", id).
			Consistency(gocql.All).Scan(&got), "row %s at consistency ALL", id)
		found++
	}
	require.Equal(t, len(ids), found)
	t.Logf("%d rows read back at consistency ALL once cassandra-3 was back", found)
}

// All three brokers restarted one after the other mid-run, as in a rolling upgrade:
// nothing stops, every tick's records arrive once as rows.
func TestKafkaRollingRestart(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	p := newPipeline(t)
	p.underLoad(t, 160, 5*time.Second, func() {
		for _, n := range []node{"kafka-1", "kafka-2", "kafka-3"} {
			n.stop(t)
			n.start(t)
		}
	})
}

// The Temporal server restarted mid-run: the run goes on from its persisted state, and
// each tick is published once.
func TestTemporalRestart(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	p := newPipeline(t)
	p.underLoad(t, 80, 10*time.Second, func() {
		node("temporal").stop(t)
		time.Sleep(5 * time.Second)
		node("temporal").start(t)
	})
}

// A streaming worker joins and the first one is killed while batches are in flight:
// the group rebalances twice; nothing is committed that is not written, nothing stays
// behind.
func TestStreamingWorkerJoinsAndOneDies(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	p := newPipeline(t)
	p.underLoad(t, 80, 10*time.Second, func() {
		p.startStreaming(t)
		time.Sleep(10 * time.Second)
		require.NoError(t, p.streaming.Process.Kill())
		t.Log("a second streaming worker joined; 10 s later the first was killed (kill -9)")
	})
}

// randomuser.me misbehaving every way it can, in turns, request after request: slow
// (past the call's deadline), HTTP 500, JSON cut short, a page of fewer users than
// asked, garbage; and a good page between them. Every bad answer makes the tick's
// users the faker's; the counts by source match what the server answered.
func TestRandomUserMisbehaves(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	good := randomusertest.NewHandler(t)
	var mu sync.Mutex
	served := map[string]int{}
	modes := []string{"good", "slow", "500", "truncated", "short", "garbage"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		mode := modes[(served["good"]+served["slow"]+served["500"]+served["truncated"]+served["short"]+served["garbage"])%len(modes)]
		served[mode]++
		mu.Unlock()
		switch mode {
		case "good":
			good.ServeHTTP(w, r)
		case "slow":
			time.Sleep(time.Second) // the call's deadline is half the 500 ms interval
		case "500":
			http.Error(w, "upstream failure", http.StatusInternalServerError)
		case "truncated", "short":
			q := r.URL.Query()
			if mode == "short" {
				n, _ := strconv.Atoi(q.Get("results"))
				q.Set("results", strconv.Itoa(n-1))
				r.URL.RawQuery = q.Encode()
			}
			rec := httptest.NewRecorder()
			good.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if mode == "truncated" {
				body = body[:len(body)/2]
			}
			_, _ = w.Write(body)
		case "garbage":
			_, _ = w.Write([]byte("\x00\xffnot json at all <html>"))
		}
	}))
	t.Cleanup(srv.Close)
	p := newPipeline(t, "RANDOMUSER_URL="+srv.URL+"/api/")
	res := p.underLoad(t, 60, 0, func() {})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("randomuser answers: %v; users by source: %v", served, res.BySource)
	require.Equal(t, 10*served["good"], res.BySource["randomuser"], "users from randomuser.me")
	require.Equal(t, res.Published-10*served["good"], res.BySource["faker"], "users from the faker")
	for _, m := range modes {
		require.Positive(t, served[m], "no %s answer served", m)
	}
}

// randomuser.me answering garbage for a whole run: every tick's users are the faker's,
// and every one is a row.
func TestRandomUserGarbageAllRun(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"results": [{"gender": 42}]`))
	}))
	t.Cleanup(srv.Close)
	p := newPipeline(t, "RANDOMUSER_URL="+srv.URL+"/api/")
	res := p.underLoad(t, 40, 0, func() {})
	require.Equal(t, map[string]int{"randomuser": 0, "faker": res.Published}, res.BySource)
}

// The leader of the dead-letter topic's partition killed while poison records arrive:
// the worker writes each dead letter to the new leader before it commits; no poison
// record vanishes, and the run's records are rows.
func TestDeadLetterLeaderKilled(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra, stacktest.NeedsScript)
	p := newPipeline(t)
	p.underLoad(t, 80, 5*time.Second, func() {
		sent := make(chan error)
		go func() { sent <- p.sendPoison(200) }() // 10 s of poison
		time.Sleep(3 * time.Second)
		leader := leaderOf(t, p.brokers, p.dlq, 0)
		leader.kill9(t)
		require.NoError(t, <-sent)
		leader.start(t)
	})
}
