package workflows_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/internal/testkit/randomusertest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/workflows"
)

// BenchmarkTickLateness runs the default run — two minutes at one user per second —
// on the local stack's Temporal and Kafka, in a worker of its own, and reports how
// late the ticks were published: p50, p99 and max over the run's 120 ticks.
func BenchmarkTickLateness(b *testing.B) {
	stacktest.Needs(b, stacktest.NeedsTemporal, stacktest.NeedsKafka)
	quiet := slog.New(slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{
		HostPort: stacktest.TemporalAddress(b), Namespace: stacktest.TemporalNamespace(), Logger: tlog.NewStructuredLogger(quiet),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	acts := activities.New(activities.Config{
		KafkaBrokers:  stacktest.KafkaBrokers(b),
		RandomUserURL: randomusertest.NewServer(b).URL,
		AllowedTopics: []string{"*"}, // each run its own topic
	}, quiet)
	defer acts.Close()

	queue := fmt.Sprintf("bench-lateness-%d", time.Now().UnixNano())
	var (
		mu       sync.Mutex
		lateness []time.Duration
	)
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(workflows.UserAutomation)
	w.RegisterActivityWithOptions(acts.EnsureTopic, activity.RegisterOptions{Name: "EnsureTopic"})
	w.RegisterActivityWithOptions(func(ctx context.Context, in activities.TickInput) (activities.TickResult, error) {
		r, err := acts.PublishTick(ctx, in)
		if err == nil {
			mu.Lock()
			lateness = append(lateness, r.Lateness)
			mu.Unlock()
		}
		return r, err
	}, activity.RegisterOptions{Name: "PublishTick"})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	ctx := context.Background()
	for i := range b.N {
		lateness = lateness[:0]
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("%s-%d", queue, i), TaskQueue: queue},
			workflows.UserAutomation, workflows.UserAutomationInput{Topic: queue})
		if err != nil {
			b.Fatal(err)
		}
		var res workflows.UserAutomationResult
		if err := run.Get(ctx, &res); err != nil {
			b.Fatal(err)
		}
		if res.Ticks != 120 || len(lateness) != 120 {
			b.Fatalf("%d ticks, %d published, want 120", res.Ticks, len(lateness))
		}
		slices.Sort(lateness)
		b.ReportMetric(ms(percentile(lateness, 0.50)), "p50-lateness-ms")
		b.ReportMetric(ms(percentile(lateness, 0.99)), "p99-lateness-ms")
		b.ReportMetric(ms(lateness[len(lateness)-1]), "max-lateness-ms")
		b.ReportMetric(float64(res.LateTicks), "late-ticks")
	}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, q float64) time.Duration {
	return sorted[int(math.Ceil(q*float64(len(sorted))))-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
