// Package temporalmetrics puts the Temporal SDK's own metrics (workflow and activity
// latencies, task polls, requests to the server, schedule-to-start delays, ...) into
// a program's Prometheus registry, so that they are served on its /metrics next to
// its own series.
//
// The SDK emits its metrics through client.MetricsHandler, with tags that vary from
// one call site to another (an activity's metrics carry activity_type, a request's
// carry operation); a Prometheus metric vector wants its label names fixed up
// front. So each series — a name and a set of tags — gets its own metric here,
// created when the SDK first emits it, and the Handler's collector hands them all
// to the registry at each scrape. Names follow Prometheus' conventions, as
// Temporal's own dashboards expect them: a counter is <name>_total, a timer a
// histogram <name>_seconds, a gauge <name>.
package temporalmetrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// Buckets are the timers' histogram buckets, in seconds: from a local call
// (milliseconds) to a long poll or a slow activity (a minute).
var Buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New returns the handler to set as client.Options.MetricsHandler; its metrics are
// collected by reg.
func New(reg prometheus.Registerer) client.MetricsHandler {
	s := &series{metrics: map[seriesID]prometheus.Collector{}}
	reg.MustRegister(s)
	return handler{series: s, labels: prometheus.Labels{}}
}

// handler is the client.MetricsHandler of a set of tags. The SDK asks it for a
// metric at each emission, so the tags' Prometheus labels and their part of the
// series key are worked out once, in WithTags, not there.
type handler struct {
	series *series
	tags   map[string]string
	labels prometheus.Labels
	key    string // labelsKey(labels)
}

func (h handler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = make(map[string]string, len(tags))
	}
	maps.Copy(merged, tags)
	labels := promLabels(merged)
	return handler{series: h.series, tags: merged, labels: labels, key: labelsKey(labels)}
}

func (h handler) Counter(name string) client.MetricsCounter {
	c := h.series.get(h, name, "_total", func(o prometheus.Opts) prometheus.Collector {
		return prometheus.NewCounter(prometheus.CounterOpts(o))
	}).(prometheus.Counter)
	return counter{c}
}

func (h handler) Gauge(name string) client.MetricsGauge {
	g := h.series.get(h, name, "", func(o prometheus.Opts) prometheus.Collector {
		return prometheus.NewGauge(prometheus.GaugeOpts(o))
	}).(prometheus.Gauge)
	return gauge{g}
}

func (h handler) Timer(name string) client.MetricsTimer {
	t := h.series.get(h, name, "_seconds", func(o prometheus.Opts) prometheus.Collector {
		return prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: o.Name, Help: o.Help, ConstLabels: o.ConstLabels, Buckets: Buckets,
		})
	}).(prometheus.Histogram)
	return timer{t}
}

// counter, gauge and timer are the SDK's metric interfaces over Prometheus'.
type (
	counter struct{ c prometheus.Counter }
	gauge   struct{ g prometheus.Gauge }
	timer   struct{ h prometheus.Histogram }
)

func (g gauge) Update(v float64)       { g.g.Set(v) }
func (t timer) Record(d time.Duration) { t.h.Observe(d.Seconds()) }

// Inc ignores a negative n, on which a Prometheus counter would panic.
func (c counter) Inc(n int64) {
	if n > 0 {
		c.c.Add(float64(n))
	}
}

// series are every metric the SDK has emitted, by name and tags. It is a
// Prometheus collector that describes nothing up front ("unchecked"), since the
// series are only known as the SDK emits them.
type series struct {
	mu      sync.Mutex
	metrics map[seriesID]prometheus.Collector
}

// seriesID identifies a series: its Prometheus name (name and suffix) and
// labelsKey of its labels. The name is kept in two parts so that looking a series
// up builds no string.
type seriesID struct {
	name, suffix, labels string
}

// get returns the metric of h's tags named name and suffix, made by newMetric the
// first time.
func (s *series) get(h handler, name, suffix string, newMetric func(prometheus.Opts) prometheus.Collector) prometheus.Collector {
	id := seriesID{name: promName(name), suffix: suffix, labels: h.key}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.metrics[id]
	if !ok {
		full := id.name + id.suffix
		m = newMetric(prometheus.Opts{
			Name:        full,
			Help:        "Temporal SDK metric " + full + ".",
			ConstLabels: h.labels,
		})
		s.metrics[id] = m
	}
	return m
}

// promName is s with every character Prometheus does not take in a metric or
// label name replaced by '_': an invalid name would fail the whole scrape.
func promName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == ':' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// promLabels are tags with Prometheus label names, in a map of their own.
func promLabels(tags map[string]string) prometheus.Labels {
	labels := make(prometheus.Labels, len(tags))
	for k, v := range tags {
		labels[promName(k)] = v
	}
	return labels
}

// labelsKey identifies a set of labels: each name and value, in the names' order.
func labelsKey(labels prometheus.Labels) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString("\x00" + k + "=" + labels[k])
	}
	return b.String()
}

func (s *series) Describe(chan<- *prometheus.Desc) {}

func (s *series) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	metrics := slices.Collect(maps.Values(s.metrics))
	s.mu.Unlock()
	for _, m := range metrics {
		m.Collect(ch)
	}
}
