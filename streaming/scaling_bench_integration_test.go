//go:build cluster

package streaming_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/devstack/benchreport"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
)

const (
	scalingRecords    = 300_000 // the pre-filled topic every round drains
	scalingPartitions = 6       // room for up to 6 workers of one group
	scalingMaxWorkers = 3
	clusterSize       = 3 // Kafka brokers, Cassandra nodes, replicas of each record and row
	scalingWarmUp     = 20 * time.Second
)

// onCluster are the ceilings' settings on the clusters: a write waits for two
// replicas, so more of them in flight pay (the workers together have up to 96 each).
var onCluster = ceilingSettings{
	singleInFlight: []int{128, 256},
	groupSizes:     []int{10, 25, 50},
	groupInFlight:  []int{32, 64, 128},
}

// BenchmarkScaling prints the scaling table of the local stack's clusters of three
// (make bench-cluster starts them and runs it; the cluster build tag keeps it out of
// make bench, which has one node of each): the raw gocql ceilings into an RF 3
// keyspace at LOCAL_QUORUM, then a topic of 6 partitions (3 replicas) pre-filled with
// scalingRecords users drained by 1, 2, 3 streaming worker processes of one consumer
// group (a new group and table each round), each round's rows counted by id
// afterwards. It writes the table to scaling.md in the directory BENCH_OUT names.
// Run it with -benchtime 1x.
func BenchmarkScaling(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	nodes := clusterNodes(b)
	p := newPipe(b, scalingPartitions)
	insert := createUsersTable(b, p, p.table)
	checkReplicas(b, p)
	loadBefore := loadAverage()
	report := &benchreport.Scaling{Date: time.Now(), Machine: machine(), Versions: stackVersions(b, p), Records: scalingRecords,
		Cluster: fmt.Sprintf("%d Kafka brokers (a topic of %d partitions, %d replicas, min.insync.replicas 2) and "+
			"%d Cassandra nodes (RF %d, writes at LOCAL_QUORUM), all on this machine", clusterSize, scalingPartitions,
			clusterSize, clusterSize, clusterSize)}

	// A cluster just started writes slowly until the JIT has compiled its write path.
	b.Logf("warm-up, batches of 25 rows by replica set, 16 in flight: %.0f rows/s",
		groupedCeiling(b, p, insert, 25, 16, scalingWarmUp))
	single, grouped := measureCeilings(b, p, insert, onCluster)
	report.Ceilings = []benchreport.System{
		{Name: "gocql single-row", Setting: single.setting, RowsPerS: single.rate},
		{Name: "gocql grouped", Setting: grouped.setting, RowsPerS: grouped.rate},
	}
	best := grouped
	if single.rate > grouped.rate {
		best = single
	}

	start := time.Now()
	l := newLoad()
	for range scalingRecords / 10_000 {
		p.produce(l.messages(newIDs(10_000), 1, 0, time.Now()))
	}
	b.Logf("pre-filled %s with %d records in %v", p.topic, scalingRecords, time.Since(start).Round(time.Millisecond))

	for workers := 1; workers <= scalingMaxWorkers; workers++ {
		// The machine's other work comes and goes: the ceiling again, just before.
		ceiling := best.again(ceilingDuration)
		b.Logf("the best ceiling again, before the round of %d: %.0f rows/s", workers, ceiling)
		round := scalingRound(b, p, l, nodes, workers)
		round.Ceiling = ceiling
		report.Rounds = append(report.Rounds, round)
		b.ReportMetric(round.RowsPerS, fmt.Sprintf("workers_%d_rows/s", workers))
	}
	report.Notes = append(report.Notes,
		fmt.Sprintf("rows/s: all the round's workers together, from the moment every one of them owned partitions "+
			"(the group stable) to the last row; the drain: from the first row to the last, the joins included; "+
			"the best ceiling again for %v just before each round; "+
			"every round's table held each of the %d records as one row afterwards, counted by id at LOCAL_QUORUM",
			ceilingDuration, scalingRecords),
		fmt.Sprintf("machine load (1-minute average, other work included): %s at the start, %s at the end",
			loadBefore, loadAverage()))
	fmt.Print("\n" + report.Text())
	if dir := os.Getenv("BENCH_OUT"); dir != "" {
		require.NoError(b, os.MkdirAll(dir, 0o755))
		require.NoError(b, os.WriteFile(filepath.Join(dir, "scaling.md"), []byte(report.Markdown()), 0o644))
		b.Logf("wrote %s", filepath.Join(dir, "scaling.md"))
	}
	b.ReportMetric(0, "ns/op")
}

// clusterNodes returns the pids of the clusters' Kafka and Cassandra nodes, by kind,
// from the stack's pid files; the bench fails unless three of each run.
func clusterNodes(b *testing.B) map[string][]int {
	dir := os.Getenv("STREAMPIPE_STACK_DIR")
	require.NotEmpty(b, dir, "STREAMPIPE_STACK_DIR: the clusters' stack folder (make bench-cluster sets it)")
	nodes := map[string][]int{}
	for _, kind := range []string{"kafka", "cassandra"} {
		files, err := filepath.Glob(filepath.Join(dir, "run", kind+"*.pid"))
		require.NoError(b, err)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(b, err)
			pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
			require.NoError(b, err, f)
			if _, err := cpuSeconds(pid); err == nil {
				nodes[kind] = append(nodes[kind], pid)
			}
		}
		require.Len(b, nodes[kind], clusterSize, "%s nodes running in %s: BenchmarkScaling measures clusters of three; "+
			"`make bench-cluster` starts them", kind, dir)
	}
	return nodes
}

// checkReplicas fails the bench unless p's topic has clusterSize replicas of each
// partition and its keyspace clusterSize replicas of each row: the clusters' settings
// (cluster.env) are in the environment.
func checkReplicas(b *testing.B, p *pipe) {
	md, err := p.client.Metadata(b.Context(), &kafka.MetadataRequest{Topics: []string{p.topic}})
	require.NoError(b, err)
	require.Len(b, md.Brokers, clusterSize, "Kafka brokers: make bench-cluster runs the bench on clusters of three")
	for _, part := range md.Topics[0].Partitions {
		require.Len(b, part.Replicas, clusterSize, "replicas of %s/%d: KAFKA_TOPIC_REPLICATION_FACTOR (cluster.env) is unset", p.topic, part.ID)
	}
	sets := streaming.NewReplicaSets(p.session, testKeyspace, p.table, datasets.Users.Rows.Columns())
	_, args := userArgs(0)
	owners := sets.Of(rows.Row{Values: args[:len(args)-1]})
	require.Len(b, strings.Split(owners, ","), clusterSize,
		"replicas of a row of %s (%s): keyspace %s was made with another CASSANDRA_REPLICATION than cluster.env's", p.table, owners, testKeyspace)
}

// progress is a round's workers and servers at one moment.
type progress struct {
	at        time.Time
	rows      []float64          // written, by worker
	cpu       []float64          // seconds, by worker
	counters  map[string]float64 // of the workers' batchCounters, all workers together
	cassandra float64            // CPU seconds of the Cassandra nodes
	kafka     float64            // of the Kafka nodes
}

// batchCounters are the workers' metrics of their micro-batches and Cassandra writes:
// how many, their records and rows, and the time spent writing them.
var batchCounters = []string{"streaming_batch_records_count", "streaming_batch_records_sum",
	"streaming_batch_duration_seconds_sum", "streaming_write_rows_count", "streaming_write_rows_sum"}

func (s progress) total() float64 {
	sum := 0.0
	for _, r := range s.rows {
		sum += r
	}
	return sum
}

// since is how much a counter grew from an earlier moment.
func (s progress) since(earlier progress, counter string) float64 {
	return s.counters[counter] - earlier.counters[counter]
}

// sample reads the workers' metrics and everyone's CPU time.
func sample(b *testing.B, ws []*proc, nodes map[string][]int) progress {
	s := progress{rows: make([]float64, len(ws)), cpu: make([]float64, len(ws)), counters: map[string]float64{},
		cassandra: cpuOf(nodes["cassandra"]), kafka: cpuOf(nodes["kafka"])}
	for i, w := range ws {
		if exit := w.exited(); exit != nil {
			b.Fatalf("worker %d of %d exited: %v", i+1, len(ws), exit)
		}
		s.cpu[i] = mustCPUSeconds(b, w.cmd.Process.Pid)
		lines, err := w.scrape()
		if err != nil {
			continue // not serving yet: nothing written
		}
		s.rows[i], _ = sumOf(lines, "streaming_rows_written_total") // none before its first batch
		for _, c := range batchCounters {
			v, _ := sumOf(lines, c)
			s.counters[c] += v
		}
	}
	s.at = time.Now()
	return s
}

// scalingRound drains p's topic, pre-filled with l's records, with workers streaming
// worker processes (the binary with its defaults) in a consumer group and into a
// table of the round's own; checks that every record is one row; and returns the
// round's figures.
func scalingRound(b *testing.B, p *pipe, l *load, nodes map[string][]int, workers int) benchreport.Round {
	q := *p // the same topic, a group and table of the round's own
	q.group = fmt.Sprintf("%s-%dw", p.group, workers)
	q.table = fmt.Sprintf("%s_%dw", p.table, workers)
	dropAfter(b, p, q.table)
	streamingBinary(b) // built before the clock starts
	ws := make([]*proc, workers)
	for i := range ws {
		ws[i] = startProc(b, &q, fmt.Sprintf("%d of %d", i+1, workers), "STREAMING_BATCH_ROWS=", "STREAMING_BATCH_WAIT=")
	}

	// From the moment the group is stable with every worker in it (and one has
	// written), to the last row; polled every 100 ms.
	var first time.Time
	var from, last progress
	deadline := time.Now().Add(15 * time.Minute)
	for {
		s := sample(b, ws, nodes)
		if first.IsZero() && s.total() > 0 {
			first = s.at
		}
		if from.at.IsZero() && s.total() > 0 && q.groupStable(b, workers) {
			from = s
		}
		if s.total() > last.total() {
			last = s
		}
		if !from.at.IsZero() && s.total() >= scalingRecords && q.caughtUp() {
			break
		}
		require.False(b, time.Now().After(deadline), "the round of %d: %.0f rows written in 15 minutes", workers, s.total())
		time.Sleep(100 * time.Millisecond)
	}
	require.True(b, last.at.After(from.at), "the round of %d: every row written before the group was stable", workers)
	window := last.at.Sub(from.at).Seconds()
	round := benchreport.Round{Workers: workers, Drain: last.at.Sub(first), Joined: from.at.Sub(first),
		Measured: last.total() - from.total(), Window: last.at.Sub(from.at),
		RowsPerS:     (last.total() - from.total()) / window,
		Cassandra:    (last.cassandra - from.cassandra) / window,
		Kafka:        (last.kafka - from.kafka) / window,
		BatchRecords: last.since(from, "streaming_batch_records_sum") / last.since(from, "streaming_batch_records_count"),
		BatchTime: time.Duration(last.since(from, "streaming_batch_duration_seconds_sum") /
			last.since(from, "streaming_batch_records_count") * float64(time.Second)),
		WriteRows: last.since(from, "streaming_write_rows_sum") / last.since(from, "streaming_write_rows_count"),
		Rewrites:  int(last.total()) - scalingRecords}
	for i, w := range ws {
		round.Each = append(round.Each, benchreport.Worker{Rows: last.rows[i],
			Cores: (last.cpu[i] - from.cpu[i]) / window, PeakRSS: peakRSS(b, w.cmd.Process.Pid)})
	}
	for _, w := range ws {
		require.NoError(b, w.terminate(time.Minute))
	}
	q.checkEveryRecordOneRow(b, l)
	require.GreaterOrEqual(b, round.Rewrites, 0, "rows written by the workers' account")
	b.Logf("the round of %d: %.0f rows/s (%.0f rows in %.1f s, every worker a member %v after the first row)",
		workers, round.RowsPerS, round.Measured, window, round.Joined.Round(100*time.Millisecond))
	return round
}

// caughtUp says whether the pipe's group has committed every partition's end offset.
func (p *pipe) caughtUp() bool {
	end, committed, err := p.partitionOffsets(context.Background())
	if err != nil {
		return false
	}
	for part, e := range end {
		if committed[part] != e {
			return false
		}
	}
	return true
}

// checkEveryRecordOneRow reads the pipe's whole table at LOCAL_QUORUM and fails the
// bench unless it holds exactly one row for each of l's records and no other row.
func (p *pipe) checkEveryRecordOneRow(b *testing.B, l *load) {
	rows := make(map[gocql.UUID]bool, len(l.users))
	iter := p.session.Query("SELECT id FROM " + testKeyspace + "." + p.table).Consistency(gocql.LocalQuorum).Iter()
	var id gocql.UUID
	for iter.Scan(&id) {
		rows[id] = true
	}
	require.NoError(b, iter.Close())
	missing := 0
	for key := range l.users {
		id, err := gocql.ParseUUID(key)
		require.NoError(b, err)
		if !rows[id] {
			missing++
		}
	}
	require.Zero(b, missing, "records of the topic that are no row of %s", p.table)
	require.Len(b, rows, len(l.users), "rows of %s (want one per record)", p.table)
}
