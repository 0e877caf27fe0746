package benchreport

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func latency(ms ...int) *Latency {
	l := &Latency{}
	for _, m := range ms {
		l.Samples = append(l.Samples, time.Duration(m)*time.Millisecond)
	}
	return l
}

func sample() *Report {
	many := make([]int, 100)
	for i := range many {
		many[i] = 100 - i // 100 … 1, unsorted
	}
	return &Report{
		Date: time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC), Machine: "2 cores, Test CPU, 23 GiB", Versions: []string{"Cassandra 5.0.9"},
		Records: 200_000, Rates: []int{1000, 10000},
		Systems: []System{
			{Name: "gocql single-row", Ceiling: true, Setting: "96 in flight", RowsPerS: 26_000},
			{Name: "gocql grouped", Ceiling: true, Setting: "25 rows × 16 in flight", RowsPerS: 42_000},
			{Name: "streampipe", Setting: "defaults", RowsPerS: 28_000, Cores: 0.8, PeakRSS: 40 << 20, FirstRow: 1500 * time.Millisecond,
				Latency: map[int]*Latency{1000: latency(many...), 10000: latency(50, 60, 70)}},
			{Name: "Spark", Setting: "local[2]", RowsPerS: 7_000, Cores: 1.9, PeakRSS: 900 << 20, FirstRow: 20 * time.Second,
				Latency: map[int]*Latency{1000: latency(3000, 4000, 4100)}},
		},
		Notes: []string{"poller cycle p99 4 ms"},
	}
}

func TestQuantileNearestRank(t *testing.T) {
	l := latency(5, 1, 4, 2, 3)
	assert.Equal(t, 3*time.Millisecond, l.Quantile(0.5))
	assert.Equal(t, 5*time.Millisecond, l.Quantile(0.99))
	assert.Equal(t, 5*time.Millisecond, l.Quantile(1))
	assert.Equal(t, 1*time.Millisecond, l.Quantile(0))
	assert.Equal(t, []time.Duration{5e6, 1e6, 4e6, 2e6, 3e6}, l.Samples, "the samples stay as they were")
	assert.Zero(t, (&Latency{}).Quantile(0.5))
	assert.Zero(t, (*Latency)(nil).Quantile(0.5))
	hundred := sample().Systems[2].Latency[1000]
	assert.Equal(t, 50*time.Millisecond, hundred.Quantile(0.5))
	assert.Equal(t, 99*time.Millisecond, hundred.Quantile(0.99))
}

func TestRatiosAgainstEachOtherAndTheBestCeiling(t *testing.T) {
	assert.Equal(t, []string{
		"streampipe / Spark: 4.00×",
		"streampipe / best ceiling (gocql grouped): 0.67×",
		"Spark / best ceiling (gocql grouped): 0.17×",
	}, sample().Ratios())
}

func TestTextIsAlignedWithAColumnPerSystem(t *testing.T) {
	text := sample().Text()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	assert.Equal(t, "2026-12-02 04:00 UTC — 2 cores, Test CPU, 23 GiB", lines[0])
	assert.Equal(t, "Cassandra 5.0.9", lines[1])
	table := lines[2:10]
	for _, l := range table[1:] {
		assert.Equal(t, utf8.RuneCountInString(table[0]), utf8.RuneCountInString(l), "every row as wide as the header: %q", l)
	}
	for _, want := range []string{"gocql single-row", "gocql grouped", "streampipe", "Spark"} {
		assert.Contains(t, table[0], want)
	}
	for _, want := range []string{"50 ms / 99 ms / 100 ms", "4000 ms / 4100 ms / 4100 ms", "20.0 s",
		"streampipe / Spark: 4.00×", "poller cycle p99 4 ms"} {
		assert.Contains(t, text, want)
	}
}

func TestMarkdownTable(t *testing.T) {
	md := sample().Markdown()
	for _, want := range []string{
		"Measured 2026-12-02 04:00 UTC on 2 cores, Test CPU, 23 GiB. Cassandra 5.0.9.\n\n",
		"|  | gocql single-row | gocql grouped | streampipe | Spark |\n|---|--:|--:|--:|--:|\n",
		"| rows/s (drain of 200000) | 26000 | 42000 | 28000 | 7000 |\n",
		"| p50 / p99 / max at 10000/s | — | — | 60 ms / 70 ms / 70 ms | — |\n",
		"- Spark / best ceiling (gocql grouped): 0.17×\n",
	} {
		assert.Contains(t, md, want)
	}
}

func TestAMissingSystemSaysWhy(t *testing.T) {
	r := sample()
	r.Systems[3] = System{Name: "Spark", Missing: "pyspark could not be installed: no network"}
	text := r.Text()
	assert.Contains(t, text, "n/a")
	assert.Contains(t, text, "Spark: no figures: pyspark could not be installed: no network")
	assert.NotContains(t, text, "streampipe / Spark")
	assert.Contains(t, string(r.SVG()), ">n/a<")
}

func TestUnseenRecordsAreCounted(t *testing.T) {
	r := sample()
	r.Systems[2].Latency[1000].Lost = 3
	assert.Contains(t, r.Text(), "50 ms / 99 ms / 100 ms (3 unseen)")
}

// svg is the part of an SVG document the test looks at.
type svg struct {
	Rects []struct {
		Height float64 `xml:"height,attr"`
		Title  string  `xml:"title"`
	} `xml:"rect"`
	Texts []string `xml:"text"`
}

func TestSVGHasABarPerSystemAndARangePerLatency(t *testing.T) {
	var doc svg
	require.NoError(t, xml.Unmarshal(sample().SVG(), &doc), "well-formed XML")
	var bars, ranges []string
	for _, r := range doc.Rects[1:] { // the first is the background
		assert.Positive(t, r.Height, r.Title)
		if strings.Contains(r.Title, "rows/s") {
			bars = append(bars, r.Title)
		} else {
			ranges = append(ranges, r.Title)
		}
	}
	assert.Equal(t, []string{"gocql single-row: 26000 rows/s", "gocql grouped: 42000 rows/s",
		"streampipe: 28000 rows/s", "Spark: 7000 rows/s"}, bars)
	assert.Equal(t, []string{"streampipe at 1000/s: p50 50 ms, p99 99 ms, max 100 ms",
		"Spark at 1000/s: p50 4000 ms, p99 4100 ms, max 4100 ms",
		"streampipe at 10000/s: p50 60 ms, p99 70 ms, max 70 ms"}, ranges, "by rate, then by system")
	for _, want := range []string{"gocql single-row", "96 in flight", "streampipe", "Spark", "1000/s", "10000/s", "42000", "12.5k", "1000", "10"} {
		assert.Contains(t, doc.Texts, want)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 1: 1, 1.5: 2, 42_000: 50_000, 26_000: 50_000, 7: 10, 200: 200, 210: 500} {
		assert.Equal(t, want, niceCeil(in), "%v", in)
	}
}

func TestSpliceReplacesWhatIsBetweenTheMarkers(t *testing.T) {
	doc := "# Title\n\n" + BeginMarker + "\nold table\n" + EndMarker + "\n\nmore\n"
	got, err := Splice(doc, "new table\n")
	require.NoError(t, err)
	assert.Equal(t, "# Title\n\n"+BeginMarker+"\nnew table\n"+EndMarker+"\n\nmore\n", got)
	again, err := Splice(got, "new table\n")
	require.NoError(t, err)
	assert.Equal(t, got, again, "idempotent")

	for _, bad := range []string{"no markers", BeginMarker + " only", EndMarker + " x " + BeginMarker,
		BeginMarker + BeginMarker + EndMarker} {
		_, err := Splice(bad, "x")
		assert.Error(t, err, bad)
	}
}
