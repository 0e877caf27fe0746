// Smoke tests: each service of the local stack is the real server, and the
// project's client libraries talk to it.
package stack_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

func TestKafkaKeyedProduceAndGroupConsume(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	brokers := stacktest.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	topic := fmt.Sprintf("smoke-%d", time.Now().UnixNano())
	group := topic + "-group"
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	kafkatest.CreateTopic(t, brokers, topic, 3)

	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond,
	}
	defer w.Close()
	write := func(from, to int) {
		t.Helper()
		var msgs []kafka.Message
		for i := from; i < to; i++ {
			key := fmt.Sprintf("key-%d", i%10) // ten keys, each written several times
			msgs = append(msgs, kafka.Message{Key: []byte(key), Value: []byte(fmt.Sprintf("value-%d", i))})
		}
		require.NoError(t, w.WriteMessages(ctx, msgs...))
	}
	write(0, 30)

	// read consumes n messages through the consumer group and commits them.
	read := func(n int) []kafka.Message {
		t.Helper()
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: brokers, GroupID: group, Topic: topic, StartOffset: kafka.FirstOffset,
			JoinGroupBackoff: 300 * time.Millisecond, MaxWait: 250 * time.Millisecond,
		})
		defer r.Close()
		var got []kafka.Message
		for len(got) < n {
			m, err := r.FetchMessage(ctx)
			require.NoError(t, err)
			got = append(got, m)
		}
		require.NoError(t, r.CommitMessages(ctx, got...))
		return got
	}
	first := read(30)

	partitionOf := map[string]int{}
	partitions := map[int]bool{}
	for _, m := range first {
		if p, seen := partitionOf[string(m.Key)]; seen {
			require.Equal(t, p, m.Partition, "key %s went to two partitions", m.Key)
		}
		partitionOf[string(m.Key)] = m.Partition
		partitions[m.Partition] = true
	}
	require.Len(t, partitionOf, 10)
	require.Len(t, partitions, 3, "ten keys through the Hash balancer should reach all three partitions")

	// The group's committed offsets are the partitions' ends.
	end, committed, err := kafkatest.GroupOffsets(ctx, client, topic, group)
	require.NoError(t, err)
	require.Equal(t, end, committed)
	require.EqualValues(t, 30, end[0]+end[1]+end[2])

	// A new member of the group resumes after the committed offsets.
	write(30, 35)
	var values []string
	for _, m := range read(5) {
		values = append(values, string(m.Value))
	}
	slices.Sort(values)
	require.Equal(t, []string{"value-30", "value-31", "value-32", "value-33", "value-34"}, values)
}

func TestCassandraUpsertWithTimestamp(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsCassandra)
	hosts := stacktest.CassandraHosts(t)
	cluster := gocql.NewCluster(hosts...)
	cluster.Timeout = 10 * time.Second
	if user, password := stacktest.CassandraCredentials(); user != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
	}
	session, err := cluster.CreateSession()
	require.NoError(t, err)
	defer session.Close()

	var version string
	require.NoError(t, session.Query("SELECT release_version FROM system.local").Scan(&version))
	require.Equal(t, "5.0.9", version)

	keyspace := fmt.Sprintf("smoke_%d", time.Now().UnixNano())
	require.NoError(t, session.Query("CREATE KEYSPACE "+keyspace+
		" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").Exec())
	t.Cleanup(func() { _ = session.Query("DROP KEYSPACE IF EXISTS " + keyspace).Exec() })
	require.NoError(t, session.Query("CREATE TABLE "+keyspace+".users (id uuid PRIMARY KEY, name text)").Exec())

	upsert := "INSERT INTO " + keyspace + ".users (id, name) VALUES (?, ?) USING TIMESTAMP ?"
	id := gocql.MustRandomUUID()
	require.NoError(t, session.Query(upsert, id, "second", int64(2_000_000)).Exec())
	// An older write (a replay) never overwrites the newer one.
	require.NoError(t, session.Query(upsert, id, "first", int64(1_000_000)).Exec())

	var (
		name      string
		writeTime int64
	)
	require.NoError(t, session.Query("SELECT name, WRITETIME(name) FROM "+keyspace+".users WHERE id = ?", id).
		Scan(&name, &writeTime))
	require.Equal(t, "second", name)
	require.EqualValues(t, 2_000_000, writeTime)
}

func smokeWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var greeting string
	err := workflow.ExecuteActivity(ctx, smokeActivity, name).Get(ctx, &greeting)
	return greeting, err
}

func smokeActivity(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

func TestTemporalRunsAWorkflow(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal)
	addr := stacktest.TemporalAddress(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: stacktest.TemporalNamespace()})
	require.NoError(t, err)
	defer c.Close()

	info, err := c.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	require.NoError(t, err)
	require.NotEmpty(t, info.GetServerVersion())
	t.Logf("Temporal server %s", info.GetServerVersion())

	queue := fmt.Sprintf("smoke-%d", time.Now().UnixNano())
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(smokeWorkflow)
	w.RegisterActivity(smokeActivity)
	require.NoError(t, w.Start())
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, smokeWorkflow, "streampipe")
	require.NoError(t, err)
	var greeting string
	require.NoError(t, run.Get(ctx, &greeting))
	require.Equal(t, "hello streampipe", greeting)
}
