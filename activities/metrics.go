package activities

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streampipe/streampipe/datasets"
)

// Metrics are the producer's Prometheus series, recorded as ticks are published.
type Metrics struct {
	records  *prometheus.CounterVec
	ticks    prometheus.Counter
	lateness prometheus.Histogram
}

// NewMetrics creates the series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			// The name is the users pipeline's; it counts every dataset's records.
			Name: "producer_users_published_total",
			Help: "Records (users, for the users dataset) published to Kafka, by dataset and source (randomuser, or faker when the API failed).",
		}, []string{"dataset", "source"}),
		ticks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "producer_ticks_published_total",
			Help: "Ticks whose records Kafka acknowledged.",
		}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "producer_tick_lateness_seconds",
			Help:    "From a tick's due time to its records being acknowledged by Kafka.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms … 33 s
		}),
	}
	for _, source := range []string{datasets.SourceRandomUser, datasets.SourceFaker} {
		m.records.WithLabelValues(datasets.NameUsers, source) // visible from the start, at 0
	}
	reg.MustRegister(m.records, m.ticks, m.lateness)
	return m
}

// published records a tick of dataset whose records Kafka acknowledged.
func (m *Metrics) published(dataset string, res TickResult) {
	if m == nil {
		return
	}
	m.records.WithLabelValues(dataset, res.Source).Add(float64(res.Records))
	m.ticks.Inc()
	m.lateness.Observe(res.Lateness.Seconds())
}
