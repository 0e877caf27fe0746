package streaming

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker's Prometheus series. One Metrics serves every Worker of a
// process; each series carries the dataset's name.
type Metrics struct {
	consumed  *prometheus.CounterVec
	written   *prometheus.CounterVec
	deleted   *prometheus.CounterVec
	dlq       *prometheus.CounterVec
	retries   *prometheus.CounterVec
	batchRows *prometheus.HistogramVec
	batchTime *prometheus.HistogramVec
	writeRows *prometheus.HistogramVec
	latency   *prometheus.HistogramVec
	lag       *prometheus.GaugeVec
	stuck     *prometheus.GaugeVec
}

// NewMetrics creates the series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streaming_records_consumed_total",
			Help: "Records fetched from Kafka.",
		}, []string{"dataset"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streaming_rows_written_total",
			Help: "Rows upserted into Cassandra.",
		}, []string{"dataset"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streaming_rows_deleted_total",
			Help: "Rows deleted from Cassandra by tombstones: records with a key and a null value.",
		}, []string{"dataset"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streaming_dlq_records_total",
			Help: "Records sent to the dead-letter topic, by reason.",
		}, []string{"dataset", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streaming_retries_total",
			Help: "Failed attempts that were retried: creating keyspace, table and topics at start-up once the server answered (stage startup), fetches from Kafka (stage fetch), offset commits (commit), writes to Cassandra (cassandra) or the dead-letter topic (dlq).",
		}, []string{"dataset", "stage"}),
		batchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streaming_batch_records",
			Help:    "Records per micro-batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9), // 1 … 65536
		}, []string{"dataset"}),
		batchTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streaming_batch_duration_seconds",
			Help:    "Time to write one micro-batch to Cassandra and the dead-letter topic.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms … 33 s
		}, []string{"dataset"}),
		writeRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streaming_write_rows",
			Help:    "Rows per Cassandra write that succeeded: an unlogged batch of rows owned by the same replicas, or 1 for a row written alone.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 … 256
		}, []string{"dataset"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "streaming_end_to_end_latency_seconds",
			Help: "From a record's Kafka timestamp to the end of the write of its batch.",
			Buckets: []float64{.005, .01, .02, .03, .04, .05, .06, .08, .1, .125, .15, .2, .25,
				.3, .4, .5, .75, 1, 2.5, 5, 10, 30, 60},
		}, []string{"dataset"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streaming_consumer_lag",
			Help: "Records in a partition after the last one of the latest batch, as seen at fetch time.",
		}, []string{"dataset", "topic", "partition"}),
		stuck: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streaming_stuck_seconds",
			Help: "How long start-up has retried creating keyspace, table or topics (stage startup), or how long the oldest batch in hand has waited for Cassandra (stage cassandra), or the dead letters in waiting for the dead-letter topic (stage dlq), to take it; 0 when nothing waits. The batch's offsets, or those of the partitions with dead letters in waiting, are not committed meanwhile.",
		}, []string{"dataset", "stage"}),
	}
	reg.MustRegister(m.consumed, m.written, m.deleted, m.dlq, m.retries, m.batchRows, m.batchTime, m.writeRows, m.latency, m.lag, m.stuck)
	return m
}

// init makes a dataset's counters visible at zero before anything happens, so that
// a dashboard's rates read 0 rather than "no data" until the first retry.
func (m *Metrics) init(dataset string) {
	for _, c := range []*prometheus.CounterVec{m.consumed, m.written, m.deleted} {
		c.WithLabelValues(dataset)
	}
	for _, stage := range []string{"startup", "fetch", "commit", "cassandra", "dlq"} {
		m.retries.WithLabelValues(dataset, stage)
	}
	for _, stage := range []string{"startup", "cassandra", "dlq"} {
		m.stuck.WithLabelValues(dataset, stage).Set(0)
	}
}

// setLag records a partition's lag after offset, given its high-water mark.
func (m *Metrics) setLag(dataset, topic string, partition int, offset, highWaterMark int64) {
	m.lag.WithLabelValues(dataset, topic, strconv.Itoa(partition)).Set(float64(max(highWaterMark-offset-1, 0)))
}
