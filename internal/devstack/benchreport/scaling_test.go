package benchreport

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func scalingSample() *Scaling {
	return &Scaling{
		Date: time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC), Machine: "2 cores, Test CPU, 23 GiB",
		Cluster: "3 Kafka brokers, 3 Cassandra nodes", Versions: []string{"Cassandra 5.0.9"}, Records: 300_000,
		Ceilings: []System{
			{Name: "gocql single-row", Setting: "96 in flight", RowsPerS: 8_000},
			{Name: "gocql grouped", Setting: "25 rows × 16 in flight", RowsPerS: 12_000},
		},
		Rounds: []Round{
			{Workers: 1, RowsPerS: 9_000, Drain: 34 * time.Second, Cassandra: 1.3, Kafka: 0.2,
				Joined: 0, Measured: 300_000, Window: 34 * time.Second, BatchRecords: 998, BatchTime: 110 * time.Millisecond, WriteRows: 11.04,
				Each: []Worker{{Rows: 300_000, Cores: 0.42, PeakRSS: 45 << 20}}},
			{Workers: 2, RowsPerS: 9_600, Ceiling: 16_000, Drain: 32 * time.Second, Cassandra: 1.4, Kafka: 0.24, Rewrites: 1200,
				Joined: 1500 * time.Millisecond, Measured: 288_000, Window: 30 * time.Second, BatchRecords: 990, BatchTime: 205 * time.Millisecond, WriteRows: 11,
				Each: []Worker{{Rows: 150_600, Cores: 0.25, PeakRSS: 44 << 20}, {Rows: 150_600, Cores: 0.26, PeakRSS: 43 << 20}}},
		},
		Notes: []string{"machine load 4.2"},
	}
}

func TestScalingHasARowPerCeilingAndPerRound(t *testing.T) {
	md := scalingSample().Markdown()
	for _, want := range []string{
		"Measured 2026-12-02 07:00 UTC on 2 cores, Test CPU, 23 GiB. 3 Kafka brokers, 3 Cassandra nodes. Cassandra 5.0.9.\n\n",
		"|  | rows/s | rows/s per worker | best ceiling just before | × that ceiling | rows by worker | cores by worker | " +
			"peak RSS by worker (MB) | cores of Cassandra / Kafka nodes | drain of 300000 |\n|---|--:|",
		"| gocql grouped (25 rows × 16 in flight) | 12000 | — | — | — | — | — | — | — | — |\n",
		// Without a ceiling of its own, a round is compared with the best of the first.
		"| streampipe, 1 worker | 9000 | 9000 | — | 0.75× | 300000 | 0.42 | 45 | 1.30 / 0.20 | 34.0 s |\n",
		"| streampipe, 2 workers | 9600 | 4800 | 16000 | 0.60× | 150600 / 150600 | 0.25 / 0.26 | 44 / 43 | 1.40 / 0.24 | 32.0 s |\n",
		"- 1 worker: every worker a member 0.0 s after the first row; rows/s of the 300000 rows written from then on, in 34.0 s; " +
			"CPU per row: workers 47 µs, Cassandra nodes 144 µs, Kafka nodes 22 µs; " +
			"micro-batches of 998 records written in 110 ms, 11.0 rows per Cassandra write\n",
		"- 2 workers: every worker a member 1.5 s after the first row; rows/s of the 288000 rows written from then on, in 30.0 s; " +
			"CPU per row: workers 53 µs, Cassandra nodes 146 µs, Kafka nodes 25 µs; " +
			"micro-batches of 990 records written in 205 ms, 11.0 rows per Cassandra write; 1200 rows written twice (re-delivered after a rebalance; one row each)\n",
		"- machine load 4.2\n",
	} {
		assert.Contains(t, md, want)
	}
	assert.Equal(t, 1, strings.Count(md, "written twice"), "a round without rewrites says nothing of them")
}

func TestScalingTextIsAligned(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(scalingSample().Text()), "\n")
	assert.Equal(t, "2026-12-02 07:00 UTC — 2 cores, Test CPU, 23 GiB", lines[0])
	assert.Equal(t, "3 Kafka brokers, 3 Cassandra nodes", lines[1])
	table := lines[3:8]
	for _, l := range table[1:] {
		assert.Equal(t, utf8.RuneCountInString(table[0]), utf8.RuneCountInString(l), "every row as wide as the header: %q", l)
	}
}
