package streaming_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/streaming"
)

// Flags of the tuning benchmarks (go test ... -args -variants=... -profiles=DIR).
var (
	variantsFlag = flag.String("variants", "STREAMING_GROUP_ROWS=1|STREAMING_GROUP_ROWS=25",
		"BenchmarkWorkerVariants, BenchmarkLatencyVariants: the worker's settings to compare, '|' between variants, ' ' between the variables of one; bin=PATH runs another streaming binary")
	profilesFlag = flag.String("profiles", "", "BenchmarkDrainProfile: the directory to write cpu.pprof, allocs.pprof and block.pprof to")
)

const (
	variantRecords = 200_000 // the pre-filled topic each variant drains
	variantRounds  = 2
)

// BenchmarkWorkerVariants compares settings of the streaming binary in one run, so
// that a busy machine weighs on all alike: the two ceilings first, then each
// variant drains the same pre-filled topic (its own consumer group and table), in
// turns, round after round. It reports, per variant, the mean rows/s, its ratio to
// the better ceiling, the peak RSS and the cores used. Run it with -benchtime 1x.
func BenchmarkWorkerVariants(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(b, 6)
	single, grouped := measureCeilings(b, p, createUsersTable(b, p, p.table), oneNode)
	best := max(single.rate, grouped.rate)
	b.Logf("ceilings: single-row %.0f rows/s (%s), grouped %.0f rows/s (%s)", single.rate, single.setting, grouped.rate, grouped.setting)
	l := newLoad()
	for range variantRecords / 10_000 {
		p.produce(l.messages(newIDs(10_000), 1, 0, time.Now()))
	}
	variants := strings.Split(*variantsFlag, "|")
	rates := make([]float64, len(variants))
	rss := make([]float64, len(variants))
	cores := make([]float64, len(variants))
	for round := range variantRounds {
		for i, v := range variants {
			run := fmt.Sprintf("v%d_r%d", i, round)
			bin, vars := variantBinary(b, v)
			env := append([]string{"STREAMING_GROUP=" + p.group + "-" + run, "CASSANDRA_TABLE=" + p.table + "_" + run,
				"STREAMING_BATCH_ROWS=", "STREAMING_BATCH_WAIT="}, vars...)
			w := startBinary(b, bin, p, run, env...)
			rate, cpu, busy := drain(b, w, variantRecords)
			peak := peakRSS(b, w.cmd.Process.Pid)
			require.NoError(b, w.terminate(time.Minute))
			b.Logf("round %d, %q: %.0f rows/s (%.2f of the better ceiling), peak RSS %.1f MB, %.2f cores, writing %.0f%% of the time",
				round+1, v, rate, rate/best, peak/(1<<20), cpu, 100*busy)
			rates[i] += rate / variantRounds
			rss[i] = max(rss[i], peak)
			cores[i] += cpu / variantRounds
		}
	}
	for i, v := range variants {
		b.Logf("%q: %.0f rows/s, %.2f of the better ceiling, peak RSS %.1f MB, %.2f cores", v, rates[i], rates[i]/best, rss[i]/(1<<20), cores[i])
		name := strings.NewReplacer("STREAMING_", "", "=", "", " ", "_", "/", "_").Replace(v)
		b.ReportMetric(rates[i], name+"_rows/s")
		b.ReportMetric(rates[i]/best, name+"/ceiling")
	}
	b.ReportMetric(single.rate, "single_rows/s")
	b.ReportMetric(grouped.rate, "grouped_rows/s")
	b.ReportMetric(0, "ns/op")
}

// variantBinary splits a variant into the streaming binary it runs, the one built
// from this tree unless a word bin=PATH names another (e.g. one built from an
// earlier commit, to compare before and after in one run), and its environment
// variables.
func variantBinary(b *testing.B, variant string) (bin string, vars []string) {
	bin = streamingBinary(b)
	for _, word := range strings.Fields(variant) {
		if path, ok := strings.CutPrefix(word, "bin="); ok {
			bin = path
			continue
		}
		vars = append(vars, word)
	}
	return bin, vars
}

// BenchmarkLatencyVariants compares the produce → row-readable latency of settings
// of the streaming binary (-variants), measured from outside by polling rows by key
// (measureLatency), at a steady 1,000 and 10,000 records/s, in turns, each variant on
// a topic and table of its own, after a first record has been written. Run it with
// -benchtime 1x.
func BenchmarkLatencyVariants(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	for round := range variantRounds {
		for i, v := range strings.Split(*variantsFlag, "|") {
			p := newPipe(b, 6)
			bin, vars := variantBinary(b, v)
			w := startBinary(b, bin, p, fmt.Sprintf("v%d_r%d", i, round), append([]string{"STREAMING_BATCH_ROWS=", "STREAMING_BATCH_WAIT="}, vars...)...)
			p.produce(newLoad().messages(newIDs(1), 1, 0, time.Now()))
			require.Eventually(b, func() bool {
				n, err := w.metric("streaming_rows_written_total")
				return err == nil && n >= 1
			}, time.Minute, 50*time.Millisecond)
			for _, rate := range []int{1000, 10_000} {
				cpu0 := mustCPUSeconds(b, w.cmd.Process.Pid)
				l := measureLatency(b, p, testKeyspace+"."+p.table, rate, latencyDuration, 30*time.Second).latency
				b.Logf("round %d, %q at %d/s: p50 %v, p99 %v, max %v, %d unseen, %.2f cores", round+1, v, rate,
					l.Quantile(0.5), l.Quantile(0.99), l.Quantile(1), l.Lost, (mustCPUSeconds(b, w.cmd.Process.Pid)-cpu0)/latencyDuration.Seconds())
			}
			b.Logf("round %d, %q: peak RSS %.1f MB", round+1, v, peakRSS(b, w.cmd.Process.Pid)/(1<<20))
			require.NoError(b, w.terminate(time.Minute))
		}
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDrainProfile profiles the worker, run in this process with its
// defaults: a CPU profile and an allocation profile of a drain of a pre-filled
// topic, then a block profile while it keeps up with a steady 1,000 records/s.
// With -profiles=DIR it writes them to DIR/cpu.pprof, DIR/allocs.pprof and
// DIR/block.pprof (read them with go tool pprof). Run it with -benchtime 1x.
func BenchmarkDrainProfile(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	require.NotEmpty(b, *profilesFlag, "say where the profiles go: -args -profiles=DIR")
	require.NoError(b, os.MkdirAll(*profilesFlag, 0o755))
	p := newPipe(b, 6)
	l := newLoad()
	for range variantRecords / 10_000 {
		p.produce(l.messages(newIDs(10_000), 1, 0, time.Now()))
	}
	cfg := p.config()
	cfg.BatchRows, cfg.BatchWait = 0, 0 // the defaults
	reg := prometheus.NewRegistry()
	written := func() float64 { return counter(b, reg, "streaming_rows_written_total") }

	cpu, err := os.Create(filepath.Join(*profilesFlag, "cpu.pprof"))
	require.NoError(b, err)
	defer cpu.Close()
	runtime.MemProfileRate = 64 << 10 // finer than the default 512 KiB, for the allocation profile
	require.NoError(b, pprof.StartCPUProfile(cpu))
	start := time.Now()
	_, stop := runInProcess(b, cfg, streaming.NewMetrics(reg))
	require.Eventually(b, func() bool { return written() >= variantRecords }, 10*time.Minute, 50*time.Millisecond)
	pprof.StopCPUProfile()
	b.Logf("drained %d records in %v (from start-up)", variantRecords, time.Since(start).Round(time.Millisecond))
	writeProfile(b, "allocs")

	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	steady(b, p, l)
	require.Eventually(b, func() bool { return written() >= variantRecords+steadyRate*steadyDuration.Seconds() }, time.Minute, 50*time.Millisecond)
	writeProfile(b, "block")
	runtime.SetBlockProfileRate(0)
	require.NoError(b, stop())
	b.ReportMetric(0, "ns/op")
}

// writeProfile writes the named runtime profile to the profiles directory.
func writeProfile(b *testing.B, name string) {
	f, err := os.Create(filepath.Join(*profilesFlag, name+".pprof"))
	require.NoError(b, err)
	defer f.Close()
	require.NoError(b, pprof.Lookup(name).WriteTo(f, 0))
}
