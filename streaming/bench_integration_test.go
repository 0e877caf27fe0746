package streaming_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

const (
	benchRecords   = 500_000         // (b): the pre-filled topic
	rawDuration    = 8 * time.Second // (a): per in-flight setting
	steadyRate     = 1000            // (d): records/s
	steadyDuration = 20 * time.Second
)

// BenchmarkPipeline reports, in one run on the local stack: (a) the raw ceiling of
// plain gocql upserts into the worker's table, (b) the worker's sustained rows/s
// draining a pre-filled topic, (c) b/a, (d) p50/p99 end-to-end latency at a steady
// 1,000 records/s, and (e) the worker's peak RSS. Run it with -benchtime 1x.
func BenchmarkPipeline(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(b, 6)
	insert := createUsersTable(b, p, p.table)

	// (a) The raw ceiling: the best of 64, 96 and 128 upserts in flight, after a warm-up.
	rawCeiling(b, p, insert, 128, 5*time.Second)
	raw, rawCPU, best := 0.0, 0.0, 0
	for _, inFlight := range []int{64, 96, 128} {
		cpu0 := mustCPUSeconds(b, os.Getpid())
		r := rawCeiling(b, p, insert, inFlight, rawDuration)
		cpu := (mustCPUSeconds(b, os.Getpid()) - cpu0) / rawDuration.Seconds()
		b.Logf("raw gocql, %d in flight: %.0f rows/s, load generator %.2f cores", inFlight, r, cpu)
		if r > raw {
			raw, rawCPU, best = r, cpu, inFlight
		}
	}

	// (b) The worker draining a pre-filled topic.
	l := newLoad()
	start := time.Now()
	for range benchRecords / 10_000 {
		p.produce(l.messages(newIDs(10_000), 1, 0, time.Now()))
	}
	b.Logf("pre-filled %s with %d records in %v", p.topic, benchRecords, time.Since(start).Round(time.Millisecond))
	// The worker's defaults, unless the environment sets them.
	w := startProc(b, p, "bench", "STREAMING_BATCH_ROWS="+os.Getenv("STREAMING_BATCH_ROWS"),
		"STREAMING_BATCH_WAIT="+os.Getenv("STREAMING_BATCH_WAIT"))
	sustained, cpu, busy := drain(b, w, benchRecords)
	p.waitCaughtUp(time.Minute)
	// The ceiling again, now that the table holds what the worker wrote: Cassandra
	// slows as it flushes and compacts.
	rawAfter := rawCeiling(b, p, insert, best, rawDuration)
	b.Logf("raw gocql after the drain, %d in flight: %.0f rows/s", best, rawAfter)

	// (d) Latency at a steady rate, from the worker's histogram: the difference
	// between before and after.
	before := histogram(b, w, "streaming_end_to_end_latency_seconds")
	steady(b, p, l)
	require.Eventually(b, func() bool {
		n, err := w.metric("streaming_rows_written_total")
		return err == nil && n >= benchRecords+steadyRate*steadyDuration.Seconds()
	}, time.Minute, 20*time.Millisecond)
	after := histogram(b, w, "streaming_end_to_end_latency_seconds")
	p50, p99 := quantile(before, after, 0.5), quantile(before, after, 0.99)

	// (e) The worker's peak resident set.
	rss := peakRSS(b, w.cmd.Process.Pid)

	b.ReportMetric(raw, "raw_rows/s")
	b.ReportMetric(sustained, "worker_rows/s")
	b.ReportMetric(sustained/raw, "worker/raw")
	b.ReportMetric(p50*1000, "p50_ms")
	b.ReportMetric(p99*1000, "p99_ms")
	b.ReportMetric(rss/(1<<20), "peak_rss_MB")
	b.ReportMetric(cpu, "worker_cores")
	b.ReportMetric(rawCPU, "raw_gen_cores")
	b.ReportMetric(rawAfter, "raw_after_rows/s")
	b.ReportMetric(busy, "write_busy")
	b.ReportMetric(0, "ns/op")
	require.NoError(b, w.terminate(time.Minute))
}

// drain measures the worker w draining a pre-filled topic of n records, from its
// first row written to its nth: rows/s, the cores it used, and the share of the time
// a batch was being written.
func drain(b *testing.B, w *proc, n int) (rate, cpu, busy float64) {
	var first time.Time
	var cpuFirst, busyFirst float64
	require.Eventually(b, func() bool {
		rows, err := w.metric("streaming_rows_written_total")
		if err == nil && rows > 0 && first.IsZero() {
			first, cpuFirst = time.Now(), mustCPUSeconds(b, w.cmd.Process.Pid)
			busyFirst, _ = w.metric("streaming_batch_duration_seconds_sum")
		}
		return rows >= float64(n)
	}, 10*time.Minute, 100*time.Millisecond)
	drained := time.Since(first)
	cpu = (mustCPUSeconds(b, w.cmd.Process.Pid) - cpuFirst) / drained.Seconds()
	busy, err := w.metric("streaming_batch_duration_seconds_sum")
	require.NoError(b, err)
	return float64(n) / drained.Seconds(), cpu, (busy - busyFirst) / drained.Seconds()
}

// steady produces steadyRate records/s for steadyDuration, stamped when sent, in
// bursts of 10 every 10 ms.
func steady(b *testing.B, p *pipe, l *load) {
	w := &kafka.Writer{Addr: kafka.TCP(p.brokers...), Topic: p.topic, Balancer: &kafka.Hash{},
		BatchSize: 10, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: p.producer.Transport}
	defer w.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range steadyRate * int(steadyDuration.Seconds()) / 10 {
		<-tick.C
		ids := newIDs(10)
		msgs := make([]kafka.Message, len(ids))
		for i, id := range ids {
			value, _ := json.Marshal(user(id, i, 1))
			msgs[i] = kafka.Message{Key: []byte(id), Value: value, Time: time.Now()}
			l.users[id] = user(id, i, 1)
		}
		require.NoError(b, w.WriteMessages(context.Background(), msgs...))
	}
}

// histogram returns a histogram's cumulative bucket counts by upper bound.
func histogram(b *testing.B, w *proc, name string) map[float64]float64 {
	out := map[float64]float64{}
	lines, err := w.scrape()
	require.NoError(b, err)
	for _, line := range lines {
		if !strings.HasPrefix(line, name+"_bucket{") {
			continue
		}
		i := strings.Index(line, `le="`)
		j := strings.Index(line[i+4:], `"`)
		le, err := strconv.ParseFloat(line[i+4:i+4+j], 64)
		require.NoError(b, err, line)
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		require.NoError(b, err, line)
		out[le] += v
	}
	require.NotEmpty(b, out, "no %s in the worker's metrics", name)
	return out
}

// quantile estimates the q-quantile of the observations made between two snapshots
// of a histogram, interpolating linearly inside a bucket as Prometheus does.
func quantile(before, after map[float64]float64, q float64) float64 {
	bounds := slices.Sorted(maps.Keys(after))
	total := after[math.Inf(1)] - before[math.Inf(1)]
	rank, lower, below := q*total, 0.0, 0.0
	for _, le := range bounds {
		n := after[le] - before[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return lower
			}
			return lower + (le-lower)*(rank-below)/(n-below)
		}
		lower, below = le, n
	}
	return lower
}

// peakRSS returns a process's peak resident set (VmHWM) in bytes.
func peakRSS(b testing.TB, pid int) float64 {
	b.Helper()
	rss, ok := liveRSS(pid)
	require.True(b, ok, "no VmHWM in /proc/%d/status: the process has ended", pid)
	return rss
}

// liveRSS returns a process's peak resident set (VmHWM) in bytes; false when it has
// ended (gone, or a zombie, whose status has no VmHWM).
func liveRSS(pid int) (float64, bool) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(status)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// cpuSeconds returns the CPU time a process has used so far (user + system).
func cpuSeconds(pid int) (float64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses: utime and stime are
	// the 12th and 13th of them, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, err := strconv.ParseFloat(f[11], 64)
	if err != nil {
		return 0, err
	}
	stime, err := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100, err
}

// mustCPUSeconds is cpuSeconds of a process that must be running.
func mustCPUSeconds(b *testing.B, pid int) float64 {
	cpu, err := cpuSeconds(pid)
	require.NoError(b, err)
	return cpu
}

// BenchmarkCassandraTLS reports what TLS (with PasswordAuthenticator) costs the
// streaming path: the worker's rows/s draining a pre-filled topic into a Cassandra of
// the benchmark's own in the stack's secured mode, and into one in plaintext, both
// started alike, taken in turns (plaintext, TLS, plaintext, TLS, ...) so that a busy
// machine weighs on both. The first round warms the fresh servers up and is not
// counted. Run it with -benchtime 1x.
func BenchmarkCassandraTLS(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka, stacktest.NeedsScript)
	const records, rounds = 100_000, 3
	brokers := stacktest.KafkaBrokers(b)
	plain := stacktest.PrivateCassandra(b, "../stack/stack.sh")
	secured := stacktest.PrivateCassandra(b, "../stack/stack.sh", "STACK_SECURE=1")
	pipes := map[string]*pipe{
		"plaintext": newPipeAt(b, bus{brokers: brokers}, store{hosts: plain.Hosts, env: []string{"CASSANDRA_HOSTS=" + strings.Join(plain.Hosts, ",")}}, 6),
		"tls":       newPipeAt(b, bus{brokers: brokers}, securedStore(b, secured), 6),
	}
	for _, p := range pipes {
		l := newLoad()
		for range records / 10_000 {
			p.produce(l.messages(newIDs(10_000), 1, 0, time.Now()))
		}
	}
	rates := map[string][]float64{}
	for round := range rounds {
		for _, name := range []string{"plaintext", "tls"} {
			r := drainRate(b, pipes[name], fmt.Sprintf("%s_r%d", name, round), records)
			b.Logf("round %d, %s: %.0f rows/s", round+1, name, r)
			if round > 0 {
				rates[name] = append(rates[name], r)
			}
		}
	}
	mean := func(xs []float64) float64 {
		sum := 0.0
		for _, x := range xs {
			sum += x
		}
		return sum / float64(len(xs))
	}
	b.ReportMetric(mean(rates["plaintext"]), "plaintext_rows/s")
	b.ReportMetric(mean(rates["tls"]), "tls_rows/s")
	b.ReportMetric(mean(rates["tls"])/mean(rates["plaintext"]), "tls/plaintext")
	b.ReportMetric(0, "ns/op")
}

// drainRate runs the streaming binary, with its defaults, on p's topic from the start
// in a new consumer group into a new table named after run, and returns its rows/s
// from its first row written to its records-th.
func drainRate(b *testing.B, p *pipe, run string, records int) float64 {
	w := startProc(b, p, run, "STREAMING_GROUP="+p.group+"-"+run, "CASSANDRA_TABLE="+p.table+"_"+run,
		"STREAMING_BATCH_ROWS=", "STREAMING_BATCH_WAIT=")
	var first time.Time
	require.Eventually(b, func() bool {
		n, err := w.metric("streaming_rows_written_total")
		if err == nil && n > 0 && first.IsZero() {
			first = time.Now()
		}
		return n >= float64(records)
	}, 10*time.Minute, 50*time.Millisecond)
	rate := float64(records) / time.Since(first).Seconds()
	require.NoError(b, w.terminate(time.Minute))
	return rate
}
