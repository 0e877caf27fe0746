package temporalmetrics

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape is what reg serves on /metrics.
func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rec.Code, rec.Body.String())
	return rec.Body.String()
}

// The SDK emits one name with different tag sets and asks for the same series
// again and again; each series is kept once, under Prometheus' names.
func TestHandlerKeepsEachSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := New(reg).WithTags(map[string]string{"namespace": "default"})
	act := h.WithTags(map[string]string{"activity_type": "PublishTick"})

	act.Counter("temporal_request").Inc(2)
	act.Counter("temporal_request").Inc(1)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	act.Counter("temporal_request").Inc(-1) // ignored: a counter only grows
	act.Timer("temporal_activity_execution_latency").Record(30 * time.Millisecond)
	act.Timer("temporal_activity_execution_latency").Record(2 * time.Second)
	h.Gauge("temporal_num_pollers").Update(2)
	h.Gauge("temporal_num_pollers").Update(5)
	h.WithTags(map[string]string{"odd-tag.name": "x"}).Counter("temporal.odd").Inc(1)

	got := scrape(t, reg)
	for _, line := range []string{
		"# TYPE temporal_request_total counter\n",
		`temporal_request_total{activity_type="PublishTick",namespace="default"} 3` + "\n",
		`temporal_request_total{namespace="default",operation="StartWorkflowExecution"} 1` + "\n",
		"# TYPE temporal_num_pollers gauge\n",
		`temporal_num_pollers{namespace="default"} 5` + "\n",
		"# TYPE temporal_activity_execution_latency_seconds histogram\n",
		`temporal_activity_execution_latency_seconds_bucket{activity_type="PublishTick",namespace="default",le="0.05"} 1` + "\n",
		`temporal_activity_execution_latency_seconds_bucket{activity_type="PublishTick",namespace="default",le="2.5"} 2` + "\n",
		`temporal_activity_execution_latency_seconds_sum{activity_type="PublishTick",namespace="default"} 2.03` + "\n",
		`temporal_activity_execution_latency_seconds_count{activity_type="PublishTick",namespace="default"} 2` + "\n",
		`temporal_odd_total{namespace="default",odd_tag_name="x"} 1` + "\n",
	} {
		assert.Contains(t, got, line)
	}
}

// Tags given to WithTags do not leak into the handler they were derived from.
func TestWithTagsDoesNotChangeItsParent(t *testing.T) {
	reg := prometheus.NewRegistry()
	root := New(reg)
	_ = root.WithTags(map[string]string{"a": "1"}).WithTags(map[string]string{"b": "2"})
	root.Counter("c").Inc(1)
	assert.Contains(t, scrape(t, reg), "\nc_total 1\n")
}
