package streaming_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streampipe/streampipe/internal/devstack/benchreport"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

const (
	versusRecords   = 200_000          // the pre-filled topic every pipeline drains
	latencyDuration = 20 * time.Second // each steady-rate run
)

// A contender is a pipeline under test. Each reads the same pre-filled topic from
// its beginning and writes into a table of its own.
type contender struct {
	name, setting string
	table         string        // keyspace.name
	rates         []int         // the steady rates its latency is measured at
	grace         time.Duration // how long after the last send a row may take to be readable
	// start starts it, or says why it cannot run here.
	start func(b *testing.B) (r *running, missing string)
}

// running is a started contender.
type running struct {
	started time.Time
	pids    func() []int            // its processes
	rows    func() (float64, error) // rows written so far, by its own account
	exited  func() error            // non-nil once it has exited: why
	stop    func(b *testing.B)
}

// BenchmarkVersus prints one table comparing, in one run on the local stack: the
// raw client ceilings (single-row prepared inserts; unlogged batches grouped by
// replica set), the streaming worker and the seed's Spark Structured Streaming job,
// each draining the same pre-filled topic of versusRecords records into a table of
// its own, then with produce → row-readable latency at steady rates, measured from
// outside alike. It writes the table and the chart where BENCH_OUT and BENCH_PAGE
// say (writeReport). Run it with -benchtime 1x.
func BenchmarkVersus(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(b, 6)
	loadBefore := loadAverage()
	report := &benchreport.Report{Date: time.Now(), Machine: machine(), Versions: versions(b, p),
		Records: versusRecords, Rates: []int{1000, 10000}}

	single, grouped := measureCeilings(b, p, createUsersTable(b, p, p.table), oneNode)
	report.Systems = append(report.Systems,
		benchreport.System{Name: "gocql single-row", Ceiling: true, Setting: single.setting, RowsPerS: single.rate},
		benchreport.System{Name: "gocql grouped", Ceiling: true, Setting: grouped.setting, RowsPerS: grouped.rate})

	start := time.Now()
	l := newLoad()
	for range versusRecords / 10_000 {
		p.produce(l.messages(newIDs(10_000), 1, 0, time.Now()))
	}
	b.Logf("pre-filled %s with %d records in %v", p.topic, versusRecords, time.Since(start).Round(time.Millisecond))

	// Spark runs first: it reads the topic as it is then; streampipe, after it, also
	// drains what Spark's latency run added, uncounted.
	pipelines := []contender{streampipeContender(p), sparkContender(p)}
	columns := make([]benchreport.System, len(pipelines))
	for _, i := range []int{1, 0} {
		var notes []string
		columns[i], notes = runContender(b, p, pipelines[i])
		report.Notes = append(report.Notes, notes...)
	}
	report.Systems = append(report.Systems, columns...)
	report.Notes = append(report.Notes,
		fmt.Sprintf("latency: %d records/s tracked of those sent, each polled by id (SELECT ... WHERE id IN ?, %d ids, %d in flight) every max(%v, a tenth of its age)",
			trackedPerSecond, pollChunk, pollParallel, pollFloor))

	report.Notes = append(report.Notes, fmt.Sprintf("machine load (1-minute average, other work included): %s at the start, %s at the end",
		loadBefore, loadAverage()))

	fmt.Print("\n" + report.Text())
	writeReport(b, report)
	for _, s := range report.Systems {
		b.ReportMetric(s.RowsPerS, strings.ReplaceAll(s.Name, " ", "_")+"_rows/s")
	}
	b.ReportMetric(0, "ns/op")
}

// writeReport writes the table as latest.md and the chart as latest.svg into the
// directory BENCH_OUT names, and the table into the page BENCH_PAGE names, between
// its markers; neither, if unset.
func writeReport(b *testing.B, report *benchreport.Report) {
	if dir := os.Getenv("BENCH_OUT"); dir != "" {
		require.NoError(b, os.MkdirAll(dir, 0o755))
		require.NoError(b, os.WriteFile(filepath.Join(dir, "latest.md"), []byte(report.Markdown()), 0o644))
		require.NoError(b, os.WriteFile(filepath.Join(dir, "latest.svg"), report.SVG(), 0o644))
		b.Logf("wrote %s", filepath.Join(dir, "latest.{md,svg}"))
	}
	if page := os.Getenv("BENCH_PAGE"); page != "" {
		doc, err := os.ReadFile(page)
		require.NoError(b, err)
		spliced, err := benchreport.Splice(string(doc), report.Markdown())
		require.NoError(b, err, page)
		require.NoError(b, os.WriteFile(page, []byte(spliced), 0o644))
		b.Logf("wrote the table into %s", page)
	}
}

// runContender runs c: the drain, then its latency at each of its rates. It returns
// its column and notes on how the run went.
func runContender(b *testing.B, p *pipe, c contender) (benchreport.System, []string) {
	sys := benchreport.System{Name: c.name, Setting: c.setting, Latency: map[int]*benchreport.Latency{}}
	r, missing := c.start(b)
	if missing != "" {
		sys.Missing = missing
		b.Logf("%s: %s", c.name, missing)
		return sys, nil
	}
	defer r.stop(b)
	sys.RowsPerS, sys.Cores, sys.FirstRow = measureDrain(b, p, c.table, r, versusRecords)
	b.Logf("%s: %.0f rows/s, %.2f cores, first row %v after start", c.name, sys.RowsPerS, sys.Cores, sys.FirstRow)
	var notes []string
	for _, rate := range c.rates {
		waitRows(b, p, r)
		run := measureLatency(b, p, c.table, rate, latencyDuration, c.grace)
		sys.Latency[rate] = run.latency
		l := run.latency
		b.Logf("%s at %d/s: p50 %v, p99 %v, max %v, %d unseen", c.name, rate, l.Quantile(0.5), l.Quantile(0.99), l.Quantile(1), l.Lost)
		notes = append(notes, fmt.Sprintf("%s at %d/s: %.0f records/s sent, %d tracked, poller lag p99 %v",
			c.name, rate, run.sentRate, len(l.Samples)+l.Lost, run.lagP99.Round(time.Millisecond)))
	}
	for _, pid := range r.pids() { // the contender's processes; a helper process that has ended counts nothing
		rss, _ := liveRSS(pid)
		sys.PeakRSS += rss
	}
	return sys, notes
}

// measureDrain measures a started contender draining n records: the time from its
// start to its first row readable in table, then its rows/s and cores from that
// row to its nth.
func measureDrain(b *testing.B, p *pipe, table string, r *running, n int) (rate, cores float64, firstRow time.Duration) {
	probe := "SELECT id FROM " + table + " LIMIT 1"
	var first time.Time
	require.Eventually(b, func() bool {
		var id string
		err := p.session.Query(probe).Scan(&id) // fails too while the table does not exist
		first = time.Now()
		return err == nil
	}, 5*time.Minute, 10*time.Millisecond, "a first row in %s", table)
	cpu0 := cpuOf(r.pids())
	drained := awaitRows(b, r, float64(n), 15*time.Minute).Sub(first).Seconds()
	return float64(n) / drained, (cpuOf(r.pids()) - cpu0) / drained, first.Sub(r.started)
}

// awaitRows waits until a contender has written n rows, and returns when it saw
// them; it fails at once if the contender exits.
func awaitRows(b *testing.B, r *running, n float64, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for {
		rows, err := r.rows()
		now := time.Now()
		if err == nil && rows >= n {
			return now
		}
		if exit := r.exited(); exit != nil {
			b.Fatalf("it exited with %.0f of %.0f rows written: %v", rows, n, exit)
		}
		if now.After(deadline) {
			b.Fatalf("%.0f of %.0f rows written after %v (last error: %v)", rows, n, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRows waits until a contender has written a row for every record in the topic.
func waitRows(b *testing.B, p *pipe, r *running) {
	end, _, err := p.partitionOffsets(b.Context())
	require.NoError(b, err)
	total := 0.0
	for _, o := range end {
		total += float64(o)
	}
	awaitRows(b, r, total, 10*time.Minute)
}

// cpuOf is the CPU time the processes have used so far; one that has exited
// meanwhile counts for nothing.
func cpuOf(pids []int) float64 {
	sum := 0.0
	for _, pid := range pids {
		if cpu, err := cpuSeconds(pid); err == nil {
			sum += cpu
		}
	}
	return sum
}

// streampipeContender is the streaming binary with its defaults, in p's group.
func streampipeContender(p *pipe) contender {
	table := p.table + "_streampipe"
	return contender{name: "streampipe", setting: "defaults", table: testKeyspace + "." + table,
		rates: []int{1000, 10000}, grace: 30 * time.Second,
		start: func(b *testing.B) (*running, string) {
			streamingBinary(b) // built before the clock starts
			dropAfter(b, p, table)
			started := time.Now()
			w := startProc(b, p, "versus", "CASSANDRA_TABLE="+table, "STREAMING_BATCH_ROWS=", "STREAMING_BATCH_WAIT=")
			return &running{
				started: started,
				pids:    func() []int { return []int{w.cmd.Process.Pid} },
				rows:    func() (float64, error) { return w.metric("streaming_rows_written_total") },
				exited:  w.exited,
				stop:    func(b *testing.B) { require.NoError(b, w.terminate(time.Minute)) },
			}, ""
		}}
}

// dropAfter drops a table of p's keyspace when the benchmark ends, unless it failed.
func dropAfter(b *testing.B, p *pipe, table string) {
	b.Cleanup(func() {
		if !b.Failed() {
			_ = p.session.Query("DROP TABLE IF EXISTS " + testKeyspace + "." + table).Exec()
		}
	})
}

// machine describes this machine: cores, CPU model, memory.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				mem = fmt.Sprintf(", %.0f GiB RAM", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d cores, %s%s, %s/%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH)
}

// loadAverage is the machine's 1-minute load average, as /proc/loadavg has it: how
// busy other work kept the cores.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// versions are stackVersions and the Spark peer's pins (stack/spark/jars.txt).
func versions(b *testing.B, p *pipe) []string {
	pins := pinned(b)
	return append(stackVersions(b, p), "Spark "+pins["SPARK_VERSION"]+" (pyspark) with spark-cassandra-connector "+pins["connector"])
}

// stackVersions are the versions of the servers a bench runs on (stack/versions.env;
// Cassandra's as it says) and of Go.
func stackVersions(b *testing.B, p *pipe) []string {
	var cassandra string
	require.NoError(b, p.session.Query("SELECT release_version FROM system.local").Scan(&cassandra))
	return []string{"Cassandra " + cassandra, "Kafka " + pinned(b)["KAFKA_VERSION"], runtime.Version()}
}

// pinned are the stack's pinned versions: stack/versions.env's, and the Spark
// connector's of stack/spark/jars.txt as "connector".
func pinned(b *testing.B) map[string]string {
	pins := map[string]string{}
	for _, file := range []string{"../stack/versions.env", "../stack/spark/jars.txt"} {
		data, err := os.ReadFile(file)
		require.NoError(b, err)
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				pins[k] = v
			}
			if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "com.datastax.spark:spark-cassandra-connector_") {
				pins["connector"] = f[0][strings.LastIndexByte(f[0], ':')+1:]
			}
		}
	}
	return pins
}
