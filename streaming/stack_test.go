package streaming_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/progtest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

// testKeyspace holds every integration test's table; each test has its own table,
// topic, dead-letter topic and consumer group.
const testKeyspace = "streaming_it"

// pipe is one test's pipeline on the local stack.
type pipe struct {
	t        testing.TB
	brokers  []string
	bus      bus
	db       store
	topic    string
	dlq      string
	group    string
	table    string
	session  *gocql.Session
	client   *kafka.Client
	producer *kafka.Writer
}

func newPipe(t testing.TB, partitions int) *pipe {
	t.Helper()
	return newPipeOn(t, stacktest.KafkaBrokers(t), partitions)
}

// newPipeOn is newPipe on the given Kafka (e.g. a test's own).
func newPipeOn(t testing.TB, brokers []string, partitions int) *pipe {
	t.Helper()
	return newPipeAt(t, bus{brokers: brokers}, sharedStore(t), partitions)
}

// bus is the Kafka a pipe reads from, and how its clients reach it.
type bus struct {
	brokers []string
	sec     *kafkasec.Security // nil: plaintext
	env     []string           // the same, as the streaming binary's KAFKA_* variables
}

// securedBus is a secured Kafka of the test's own, reached with the settings the
// stack wrote for its clients, read as the programs read them.
func securedBus(t testing.TB, k *stacktest.Kafka) bus {
	t.Helper()
	e := envvar.NewReader(func(name string) (string, bool) { v, ok := k.Env[name]; return v, ok })
	b := bus{brokers: k.Brokers, sec: kafkasec.Read(e)}
	require.NoError(t, e.Err())
	require.NotNil(t, b.sec, "the secured Kafka's clients speak SASL_SSL")
	for name, v := range k.Env {
		b.env = append(b.env, name+"="+v)
	}
	return b
}

// store is the Cassandra a pipe writes to, and how its clients reach it.
type store struct {
	hosts          []string
	user, password string
	tls            *tls.Config
	localDC        string
	env            []string // the same, as the streaming binary's CASSANDRA_* variables
}

// sharedStore is the local stack's Cassandra.
func sharedStore(t testing.TB) store {
	t.Helper()
	hosts := stacktest.CassandraHosts(t)
	user, pw := stacktest.CassandraCredentials()
	return store{hosts: hosts, user: user, password: pw,
		env: []string{"CASSANDRA_HOSTS=" + strings.Join(hosts, ","), "CASSANDRA_USERNAME=" + user, "CASSANDRA_PASSWORD=" + pw}}
}

// securedStore is a secured Cassandra of the test's own, reached with the settings
// the stack wrote for its clients, read as the programs read them.
func securedStore(t testing.TB, c *stacktest.Cassandra) store {
	t.Helper()
	e := envvar.NewReader(func(name string) (string, bool) { v, ok := c.Env[name]; return v, ok })
	read := e.Cassandra()
	db := store{hosts: c.Hosts, user: read.Username, password: read.Password, tls: read.TLS, localDC: read.LocalDC}
	require.NoError(t, e.Err())
	require.NotNil(t, db.tls, "the secured Cassandra's clients speak TLS")
	// An empty CASSANDRA_PASSWORD, lest one in the test's environment clash with the
	// stack's CASSANDRA_PASSWORD_FILE.
	db.env = []string{"CASSANDRA_PASSWORD="}
	for name, v := range c.Env {
		db.env = append(db.env, name+"="+v)
	}
	return db
}

// newPipeAt is a pipe from the given Kafka to the given Cassandra.
func newPipeAt(t testing.TB, kafkaAt bus, db store, partitions int) *pipe {
	t.Helper()
	suffix := randomHex(4)
	transport := kafkaAt.sec.Transport()
	p := &pipe{
		t:       t,
		brokers: kafkaAt.brokers,
		bus:     kafkaAt,
		db:      db,
		topic:   "streaming_it_" + suffix,
		dlq:     "streaming_it_" + suffix + ".dlq",
		group:   "streaming-it-" + suffix,
		table:   "t_" + suffix,
		client:  &kafka.Client{Addr: kafka.TCP(kafkaAt.brokers...), Timeout: 30 * time.Second, Transport: transport}, // a busy machine's bound
	}
	p.producer = &kafka.Writer{Addr: kafka.TCP(kafkaAt.brokers...), Topic: p.topic, Balancer: &kafka.Hash{},
		BatchTimeout: 5 * time.Millisecond, BatchSize: 1000, RequiredAcks: kafka.RequireAll, Transport: transport}
	t.Cleanup(func() { _ = p.producer.Close() })
	topicReplicas, keyspaceReplication := replication(t)
	if partitions > 0 { // 0: the topic is left for the worker to create
		kafkatest.NewTopic(t, p.client, kafka.TopicConfig{Topic: p.topic, NumPartitions: partitions, ReplicationFactor: topicReplicas})
	}

	cluster := gocql.NewCluster(db.hosts...)
	cluster.Consistency = gocql.One
	cluster.Timeout = 20 * time.Second
	if db.user != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: db.user, Password: db.password}
	}
	if db.tls != nil {
		cluster.SslOpts = &gocql.SslOptions{Config: db.tls, EnableHostVerification: true}
	}
	var err error
	p.session, err = cluster.CreateSession()
	require.NoError(t, err)
	require.NoError(t, p.session.Query("CREATE KEYSPACE IF NOT EXISTS "+testKeyspace+
		" WITH replication = "+keyspaceReplication).Exec())
	t.Cleanup(func() {
		if !t.Failed() { // keep the evidence of a failure
			_ = p.session.Query("DROP TABLE IF EXISTS " + testKeyspace + "." + p.table).Exec()
			_, _ = p.client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{p.topic, p.dlq}})
		}
		p.session.Close()
	})
	t.Logf("topic %s, table %s.%s, group %s", p.topic, testKeyspace, p.table, p.group)
	return p
}

// replication is how many replicas the topics the tests create have, and the
// replication map of their keyspace: the stack's (cluster.env sets them on a
// cluster), read as the programs read them; one replica of each by default.
func replication(t testing.TB) (topicReplicas int, keyspace string) {
	t.Helper()
	e := envvar.NewReader(os.LookupEnv)
	topicReplicas = e.Positive("KAFKA_TOPIC_REPLICATION_FACTOR", 1, "")
	keyspace = e.Checked("CASSANDRA_REPLICATION", streaming.DefaultReplication, streaming.CheckReplication, "")
	require.NoError(t, e.Err())
	return topicReplicas, keyspace
}

// config is the worker's configuration for this pipe, tuned small so that batches
// are many.
func (p *pipe) config() streaming.Config {
	return streaming.Config{
		Brokers: p.brokers, Security: p.bus.sec, Topic: p.topic, DLQTopic: p.dlq, GroupID: p.group,
		Hosts: p.db.hosts, Keyspace: testKeyspace, Table: p.table, Username: p.db.user, Password: p.db.password,
		TLS: p.db.tls, LocalDC: p.db.localDC,
		BatchRows: 500, BatchWait: 50 * time.Millisecond, StartupTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(p.t.Output(), nil)),
	}
}

// env is config as the streaming binary's environment.
func (p *pipe) env() []string {
	c := p.config()
	return append([]string{
		"KAFKA_BROKERS=" + strings.Join(c.Brokers, ","), "KAFKA_TOPIC=" + c.Topic, "KAFKA_DLQ_TOPIC=" + c.DLQTopic,
		"STREAMING_GROUP=" + c.GroupID, "CASSANDRA_KEYSPACE=" + c.Keyspace, "CASSANDRA_TABLE=" + c.Table,
		"STREAMING_BATCH_ROWS=" + strconv.Itoa(c.BatchRows), "STREAMING_BATCH_WAIT=" + c.BatchWait.String(),
		"STREAMING_STARTUP_TIMEOUT=" + c.StartupTimeout.String(),
	}, append(p.db.env, p.bus.env...)...)
}

// load is what a test produced: the valid users by id (the newest version of each)
// and the keys of the invalid messages with how often each was sent.
type load struct {
	users   map[string]datasets.User
	invalid map[string]int
	reason  map[string]string // invalid key → expected dlq.reason
}

func newLoad() *load {
	return &load{users: map[string]datasets.User{}, invalid: map[string]int{}, reason: map[string]string{}}
}

// user is a valid user whose fields depend on its number and version.
func user(id string, i, version int) datasets.User {
	return datasets.User{
		ID: id, FirstName: fmt.Sprintf("First%d", i), LastName: fmt.Sprintf("Last%d", i), Gender: "female",
		Address: fmt.Sprintf("%d Main Street, Springfield, Oregon, United States", i), PostCode: "97477",
		Email: fmt.Sprintf("user%d.v%d@example.com", i, version), Username: fmt.Sprintf("user%d", i),
		DOB: "1990-01-02T03:04:05.678Z", RegisteredDate: "2020-01-02T03:04:05.678Z", Phone: "(555) 010-0000",
		Picture: "https://randomuser.me/api/portraits/med/women/1.jpg", Source: "faker",
	}
}

// poison returns the i-th invalid message, cycling through the reasons.
func poison(i int) (key, value, reason string) {
	key = fmt.Sprintf("poison-%d", i)
	switch i % 4 {
	case 0:
		return key, `{"first_name": "no id"`, rows.ReasonNotJSON
	case 1:
		return key, `{"first_name": "no id"}`, rows.ReasonMissingID
	case 2:
		return key, `{"id": "not-a-uuid"}`, rows.ReasonInvalidID
	default:
		return key, `{"id": 12345}`, rows.ReasonWrongType
	}
}

// messages makes n valid users (version v of ids) with one poison message after
// every poisonEvery valid ones (0: none), and records them in l.
func (l *load) messages(ids []string, version, poisonEvery int, at time.Time) []kafka.Message {
	var msgs []kafka.Message
	for i, id := range ids {
		u := user(id, i, version)
		value, _ := json.Marshal(u)
		msgs = append(msgs, kafka.Message{Key: []byte(id), Value: value, Time: at})
		l.users[id] = u
		if poisonEvery > 0 && i%poisonEvery == poisonEvery-1 {
			key, value, reason := poison(len(l.reason))
			msgs = append(msgs, kafka.Message{Key: []byte(key), Value: []byte(value), Time: at})
			l.invalid[key]++
			l.reason[key] = reason
		}
	}
	return msgs
}

func newIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newUUID()
	}
	return ids
}

func newUUID() string {
	u, err := gocql.RandomUUID()
	if err != nil {
		panic(err)
	}
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// deleteTopic deletes topic from the pipe's Kafka.
func (p *pipe) deleteTopic(t *testing.T, topic string) {
	t.Helper()
	res, err := p.client.DeleteTopics(t.Context(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	require.NoError(t, err)
	require.NoError(t, res.Errors[topic])
}

func (p *pipe) produce(msgs []kafka.Message) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(p.t, p.producer.WriteMessages(ctx, msgs...))
}

// partitionOffsets returns, per partition, the topic's end offset and the group's
// committed offset (-1: none yet, except on an empty partition, which reads 0).
func (p *pipe) partitionOffsets(ctx context.Context) (end, committed map[int]int64, err error) {
	end, committed, err = kafkatest.GroupOffsets(ctx, p.client, p.topic, p.group)
	for pt, c := range committed {
		if c < 0 && end[pt] == 0 {
			committed[pt] = 0 // an empty partition has nothing to commit: it is caught up
		}
	}
	return end, committed, err
}

// committed returns the group's committed offsets, failing the test on an error.
func (p *pipe) committed() map[int]int64 {
	p.t.Helper()
	var committed map[int]int64
	require.EventuallyWithT(p.t, func(c *assert.CollectT) {
		var err error
		_, committed, err = p.partitionOffsets(context.Background())
		assert.NoError(c, err)
	}, 10*time.Second, 100*time.Millisecond)
	return committed
}

// waitCaughtUp waits until the group has committed every partition's end offset.
func (p *pipe) waitCaughtUp(timeout time.Duration) {
	p.t.Helper()
	require.EventuallyWithT(p.t, func(c *assert.CollectT) {
		end, committed, err := p.partitionOffsets(context.Background())
		if !assert.NoError(c, err) {
			return
		}
		assert.Equal(c, end, committed, "committed offsets (want the end offsets)")
	}, timeout, 200*time.Millisecond)
}

// checkRows checks, by key, that the table holds exactly one row per valid id with
// the newest version's fields.
func (p *pipe) checkRows(l *load) {
	p.t.Helper()
	ids := slices.Sorted(maps.Keys(l.users))
	found := 0
	for chunk := range slices.Chunk(ids, 100) {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		iter := p.session.Query("SELECT id, first_name, email, dob, post_code FROM "+testKeyspace+"."+p.table+
			" WHERE id IN ("+marks+")", args...).Iter()
		var id gocql.UUID
		var first, email, dob, postCode string
		for iter.Scan(&id, &first, &email, &dob, &postCode) {
			want := l.users[id.String()]
			assert.Equal(p.t, datasets.User{ID: want.ID, FirstName: want.FirstName, Email: want.Email, DOB: want.DOB, PostCode: want.PostCode},
				datasets.User{ID: id.String(), FirstName: first, Email: email, DOB: dob, PostCode: postCode})
			found++
		}
		require.NoError(p.t, iter.Close())
	}
	assert.Equal(p.t, len(ids), found, "rows for the produced ids, counted by key")
}

// checkDLQ reads the whole dead-letter topic and checks that it holds the invalid
// messages and nothing else, each with the right reason and a source partition and
// offset that hold that very message. exact: each as often as it was produced
// (otherwise at least once: a worker killed after dead-lettering and before its
// commit dead-letters again).
func (p *pipe) checkDLQ(l *load, exact bool) {
	p.t.Helper()
	source := p.readAll(p.topic)
	got := map[string]int{}
	for _, m := range p.readAll(p.dlq) {
		h := map[string]string{}
		for _, kv := range m.Headers {
			h[kv.Key] = string(kv.Value)
		}
		key := string(m.Key)
		got[key]++
		assert.Equal(p.t, l.reason[key], h[rows.HeaderReason], "reason of %s (%s)", key, h[rows.HeaderError])
		assert.Equal(p.t, p.topic, h[rows.HeaderTopic])
		src := fmt.Sprintf("%s/%s", h[rows.HeaderPartition], h[rows.HeaderOffset])
		if assert.Contains(p.t, source, src, "source partition/offset of %s", key) {
			assert.Equal(p.t, key, string(source[src].Key))
			assert.Equal(p.t, source[src].Value, m.Value)
		}
	}
	if exact {
		assert.Equal(p.t, l.invalid, got, "dead-lettered keys and how often")
		return
	}
	assert.ElementsMatch(p.t, slices.Collect(maps.Keys(l.invalid)), slices.Collect(maps.Keys(got)), "dead-lettered keys")
}

// readAll reads every message of topic, keyed "partition/offset".
func (p *pipe) readAll(topic string) map[string]kafka.Message {
	p.t.Helper()
	// Bounds for a busy machine (make test runs its lanes side by side), not timings.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A client of its own: a transport caches metadata for seconds, and the worker
	// may have created the dead-letter topic since this test's client last looked.
	fresh := &kafka.Client{Addr: kafka.TCP(p.brokers...), Timeout: 30 * time.Second, Transport: p.bus.sec.Transport()}
	meta, err := fresh.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	require.NoError(p.t, err)
	require.Len(p.t, meta.Topics, 1)
	require.NoError(p.t, meta.Topics[0].Error)
	out := map[string]kafka.Message{}
	for _, pt := range meta.Topics[0].Partitions {
		conn, err := p.bus.sec.Dialer().DialLeader(ctx, "tcp", p.brokers[0], topic, pt.ID)
		require.NoError(p.t, err)
		last, err := conn.ReadLastOffset()
		require.NoError(p.t, err)
		_ = conn.Close()
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: p.brokers, Dialer: p.bus.sec.Dialer(), Topic: topic, Partition: pt.ID,
			MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			require.NoError(p.t, err)
			out[fmt.Sprintf("%d/%d", m.Partition, m.Offset)] = m
			if m.Offset == last-1 {
				break
			}
		}
		_ = r.Close()
	}
	return out
}

// runInProcess runs a users Worker until the test ends or stop is called, and returns
// stop, which waits for Run and returns its error.
func runInProcess(t testing.TB, cfg streaming.Config, metrics *streaming.Metrics) (w *streaming.Worker, stop func() error) {
	t.Helper()
	w, err := streaming.New(cfg, datasets.Users.Rows, metrics)
	require.NoError(t, err)
	return w, runUntilStopped(t, w.Run)
}

// runUntilStopped calls run in the background until the test ends or stop is called;
// stop waits for run and returns its error.
func runUntilStopped(t testing.TB, run func(context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestMain(m *testing.M) { progtest.Main(m) }

func streamingBinary(t testing.TB) string {
	t.Helper()
	return progtest.Program(t, "streaming")
}

// proc is a streaming worker running as its own process.
type proc struct {
	t       testing.TB
	cmd     *exec.Cmd
	metrics string // host:port of /metrics
	done    chan error
	logs    *lockedBuffer // its stdout and stderr
}

// lockedBuffer is a buffer a process writes to while a test reads it. The buffer is
// not embedded: its ReadFrom, which io.Copy prefers, would bypass the lock.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProc starts the streaming binary with p's configuration plus extra env.
func startProc(t testing.TB, p *pipe, name string, extra ...string) *proc {
	t.Helper()
	return startBinary(t, streamingBinary(t), p, name, extra...)
}

// startBinary starts bin, a streaming binary, with p's configuration plus extra env.
func startBinary(t testing.TB, bin string, p *pipe, name string, extra ...string) *proc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), p.env()...), append([]string{"STREAMING_METRICS_ADDR=" + addr}, extra...)...)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	pr := &proc{t: t, cmd: cmd, metrics: addr, done: make(chan error, 1), logs: logs}
	go func() { pr.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-pr.done
		if t.Failed() {
			t.Logf("log of worker %s (pid %d):\n%s", name, cmd.Process.Pid, logs.String())
		}
	})
	return pr
}

// scrape returns the lines of the worker's /metrics.
func (pr *proc) scrape() ([]string, error) {
	resp, err := http.Get("http://" + pr.metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// metric returns the sum of a metric's series, or an error while the worker does not
// serve it yet.
func (pr *proc) metric(name string) (float64, error) {
	lines, err := pr.scrape()
	if err != nil {
		return 0, err
	}
	return sumOf(lines, name)
}

// sumOf returns the sum of a metric's series in scraped lines, or an error if there
// are none.
func sumOf(lines []string, name string) (float64, error) {
	sum, seen := 0.0, false
	for _, line := range lines {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum, seen = sum+v, true
	}
	if !seen {
		return 0, fmt.Errorf("no %s yet", name)
	}
	return sum, nil
}

// waitMetric waits until the worker's metric reaches at least want.
func (pr *proc) waitMetric(name string, want float64, timeout time.Duration) {
	pr.t.Helper()
	require.EventuallyWithT(pr.t, func(c *assert.CollectT) {
		v, err := pr.metric(name)
		if assert.NoError(c, err) {
			assert.GreaterOrEqual(c, v, want, name)
		}
	}, timeout, 50*time.Millisecond)
}

// exited returns the process's exit error once it has exited (an exit without error
// too), or nil while it runs.
func (pr *proc) exited() error {
	select {
	case err := <-pr.done:
		pr.done <- err // leave it for Cleanup
		if err == nil {
			return errors.New("exited")
		}
		return err
	default:
		return nil
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (pr *proc) kill() {
	pr.t.Helper()
	require.NoError(pr.t, pr.cmd.Process.Signal(syscall.SIGKILL))
	pr.done <- <-pr.done // leave it for Cleanup
}

// terminate sends SIGTERM and returns the exit error once the process is gone.
func (pr *proc) terminate(timeout time.Duration) error {
	pr.t.Helper()
	require.NoError(pr.t, pr.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-pr.done:
		pr.done <- err // leave it for Cleanup
		return err
	case <-time.After(timeout):
		return errors.New("did not exit after SIGTERM")
	}
}

// groupStable says whether the pipe's consumer group is stable with workers members,
// each assigned partitions of its topic.
func (p *pipe) groupStable(tb testing.TB, workers int) bool {
	res, err := p.client.DescribeGroups(tb.Context(), &kafka.DescribeGroupsRequest{GroupIDs: []string{p.group}})
	if err != nil || len(res.Groups) != 1 || res.Groups[0].Error != nil {
		return false // e.g. the coordinator still loading the group
	}
	g := res.Groups[0]
	if g.GroupState != "Stable" || len(g.Members) != workers {
		return false
	}
	for _, m := range g.Members {
		owns := false
		for _, t := range m.MemberAssignments.Topics {
			owns = owns || (t.Topic == p.topic && len(t.Partitions) > 0)
		}
		if !owns {
			return false
		}
	}
	return true
}

// counter is the value of a counter of reg, summed over its labels.
func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
