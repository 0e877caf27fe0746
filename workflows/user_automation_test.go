package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
)

var a *activities.Activities

// env is a test environment whose PublishTick records its calls.
type env struct {
	*testsuite.TestWorkflowEnvironment
	mu    sync.Mutex
	calls []tickCall
}

type tickCall struct {
	in      activities.TickInput
	started time.Time // workflow clock
}

// newEnv mocks the activities: EnsureTopic succeeds, and PublishTick publishes from
// randomuser unless result changes what a tick returns.
func newEnv(t *testing.T, result func(in activities.TickInput, attempt int) (activities.TickResult, error)) *env {
	t.Helper()
	e := &env{TestWorkflowEnvironment: newTestEnv()}
	e.RegisterWorkflow(UserAutomation)
	e.RegisterActivity(a)
	e.OnActivity(a.EnsureTopic, mock.Anything, mock.Anything).Return(nil)
	attempts := map[int]int{}
	e.OnActivity(a.PublishTick, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.TickInput) (activities.TickResult, error) {
			e.mu.Lock()
			e.calls = append(e.calls, tickCall{in: in, started: e.Now()})
			attempts[in.Tick]++
			attempt := attempts[in.Tick]
			e.mu.Unlock()
			if result != nil {
				return result(in, attempt)
			}
			return activities.TickResult{Tick: in.Tick, Records: in.Records, Source: datasets.SourceRandomUser}, nil
		})
	return e
}

// ticksStarted returns the ticks PublishTick was called for, in call order.
func (e *env) ticksStarted() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	ticks := make([]int, len(e.calls))
	for i, c := range e.calls {
		ticks[i] = c.in.Tick
	}
	return ticks
}

// newSuite returns a test suite that logs only warnings and errors.
func newSuite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	return s
}

// newTestEnv is a test environment of newSuite. Its deadlock detection waits a minute,
// not a second: make test runs its lanes side by side on two cores, where a workflow
// goroutine may wait that long for a core without being stuck.
func newTestEnv() *testsuite.TestWorkflowEnvironment {
	e := newSuite().NewTestWorkflowEnvironment()
	e.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	return e
}

func run(t *testing.T, e *env, in UserAutomationInput) UserAutomationResult {
	t.Helper()
	e.ExecuteWorkflow(UserAutomation, in)
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	var res UserAutomationResult
	require.NoError(t, e.GetWorkflowResult(&res))
	return res
}

func TestDefaultRunMakes120TicksAcrossContinueAsNew(t *testing.T) {
	first := newEnv(t, nil)
	first.ExecuteWorkflow(UserAutomation, UserAutomationInput{})
	err := first.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can, "a 120-tick run continues as new after %d ticks", ticksPerRun)
	var next UserAutomationInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Resume)
	assert.Equal(t, ticksPerRun, next.Resume.TicksDone)
	assert.Equal(t, 120, next.Resume.TicksTotal)

	// The test suite gives every execution the same run id; the first one's is the
	// one carried in Resume, and the one the result reports. It leaves the chain's
	// first run id (WorkflowInfo.FirstRunID) empty, so the second execution, which
	// checks Resume's against it, gets Resume with an empty one.
	assert.Equal(t, "default-test-run-id", next.Resume.RunID)
	next.Resume.RunID = ""
	second := newEnv(t, nil)
	second.SetStartTime(first.Now())
	second.SetContinuedExecutionRunID("default-test-run-id")
	res := run(t, second, next)

	assert.Equal(t, UserAutomationResult{
		Dataset: datasets.NameUsers, RunID: "", Ticks: 120, RecordsPublished: 120, UsersPublished: 120,
		RecordsBySource: SourceCounts{RandomUser: 120}, Topic: "users_created",
	}, res)
	calls := append(first.calls, second.calls...)
	require.Len(t, calls, 120)
	// Ticks run concurrently, so the mocks may see them out of order.
	slices.SortFunc(calls, func(a, b tickCall) int { return a.in.Tick - b.in.Tick })
	start := next.Resume.Start
	for k, c := range calls {
		assert.Equal(t, k, c.in.Tick)
		assert.WithinDuration(t, start.Add(time.Duration(k)*time.Second), c.in.Due, 0, "tick %d is due at start + k·interval", k)
		assertStartedAhead(t, c)
		if k >= ticksPerRun {
			assert.Empty(t, c.in.RunID, "ids derive from the first run id, carried in Resume")
		}
		assert.Equal(t, 1, c.in.Records)
		assert.Equal(t, "users_created", c.in.Topic)
		assert.Equal(t, datasets.NameUsers, c.in.Dataset)
	}
	first.AssertActivityNumberOfCalls(t, "EnsureTopic", 1)
	second.AssertActivityNumberOfCalls(t, "EnsureTopic", 0)
}

func TestSlowTickDoesNotPushLaterTicksBack(t *testing.T) {
	e := &env{TestWorkflowEnvironment: newTestEnv()}
	e.RegisterWorkflow(UserAutomation)
	e.RegisterActivity(a)
	e.OnActivity(a.EnsureTopic, mock.Anything, mock.Anything).Return(nil)
	publish := func(_ context.Context, in activities.TickInput) (activities.TickResult, error) {
		e.mu.Lock()
		e.calls = append(e.calls, tickCall{in: in, started: e.Now()})
		e.mu.Unlock()
		return activities.TickResult{Tick: in.Tick, Records: in.Records, Source: datasets.SourceRandomUser}, nil
	}
	isTick := func(k int) any { return mock.MatchedBy(func(in activities.TickInput) bool { return in.Tick == k }) }
	e.OnActivity(a.PublishTick, mock.Anything, isTick(2)).After(3500 * time.Millisecond).Return(publish)
	e.OnActivity(a.PublishTick, mock.Anything, mock.Anything).Return(publish)

	res := run(t, e, UserAutomationInput{Duration: "8s"})

	assert.Equal(t, 8, res.Ticks)
	require.Len(t, e.calls, 8)
	for _, c := range e.calls {
		if c.in.Tick != 2 { // the mock records tick 2 when its 3.5s are over
			assertStartedAhead(t, c)
		}
	}
}

func TestFallbackIsCountedAndShownInProgress(t *testing.T) {
	e := newEnv(t, func(in activities.TickInput, _ int) (activities.TickResult, error) {
		r := activities.TickResult{Tick: in.Tick, Records: in.Records, Source: datasets.SourceRandomUser}
		if in.Tick%2 == 1 {
			r.Source, r.FallbackReason = datasets.SourceFaker, "randomuser answered 503 Service Unavailable"
		}
		return r, nil
	})
	var mid Progress
	e.RegisterDelayedCallback(func() {
		v, err := e.QueryWorkflow(ProgressQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&mid))
	}, 3*time.Second) // ticks due by 4.5s have started; the mocks return at once

	res := run(t, e, UserAutomationInput{Duration: "10s", RecordsPerTick: 3})

	assert.Equal(t, SourceCounts{RandomUser: 15, Faker: 15}, res.RecordsBySource)
	assert.Equal(t, 30, res.UsersPublished)
	assert.Equal(t, 5, mid.TicksDone, "ticks 0-4 are done at 3s")
	assert.Equal(t, 10, mid.TicksTotal)
	assert.Equal(t, 15, mid.RecordsPublished)
	assert.Equal(t, datasets.SourceRandomUser, mid.CurrentSource)
	assert.Equal(t, "tick 4: randomuser answered 503 Service Unavailable", mid.LastError)
}

func TestLateTicksAreCounted(t *testing.T) {
	e := newEnv(t, func(in activities.TickInput, _ int) (activities.TickResult, error) {
		r := activities.TickResult{Tick: in.Tick, Records: in.Records, Source: datasets.SourceRandomUser}
		switch in.Tick {
		case 1:
			r.Lateness = 900 * time.Millisecond // within the interval: on time
		case 3, 4:
			r.Lateness = 2500 * time.Millisecond
		}
		return r, nil
	})
	res := run(t, e, UserAutomationInput{Duration: "5s"})
	assert.Equal(t, 2, res.LateTicks)
	assert.Equal(t, Duration(2500*time.Millisecond), res.MaxLateness)
}

func TestFailedTickIsRetried(t *testing.T) {
	e := newEnv(t, func(in activities.TickInput, attempt int) (activities.TickResult, error) {
		if in.Tick == 1 && attempt < 3 {
			return activities.TickResult{}, errors.New("publishing to kafka: connection refused")
		}
		return activities.TickResult{Tick: in.Tick, Records: in.Records, Source: datasets.SourceRandomUser}, nil
	})
	res := run(t, e, UserAutomationInput{Duration: "3s", RecordsPerTick: 2})
	assert.Equal(t, 3, res.Ticks)
	assert.Equal(t, 6, res.UsersPublished)
	assert.Equal(t, []int{0, 1, 1, 1, 2}, sorted(e.ticksStarted()), "tick 1 ran three times")
}

func TestTickThatFailsForGoodFailsTheRun(t *testing.T) {
	e := newEnv(t, func(in activities.TickInput, _ int) (activities.TickResult, error) {
		if in.Tick == 2 {
			return activities.TickResult{}, temporal.NewNonRetryableApplicationError("topic is read-only", "Test", nil)
		}
		return activities.TickResult{Tick: in.Tick, Records: in.Records, Source: datasets.SourceRandomUser}, nil
	})
	e.ExecuteWorkflow(UserAutomation, UserAutomationInput{Duration: "5s"})
	err := e.GetWorkflowError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tick 3 of 5")
	assert.Contains(t, err.Error(), "topic is read-only")
}

func TestInvalidInputFailsAtOnce(t *testing.T) {
	tests := []struct {
		in         UserAutomationInput
		field, why string
	}{
		{UserAutomationInput{Interval: "0s"}, "interval", "at least 100ms"},
		{UserAutomationInput{Interval: "-1s"}, "interval", "at least 100ms"},
		{UserAutomationInput{Interval: "1 second"}, "interval", "not a duration"},
		{UserAutomationInput{Duration: "ten"}, "duration", "not a duration"},
		{UserAutomationInput{Duration: "500ms"}, "duration", "at least one interval"},
		{UserAutomationInput{Duration: "2000h", Interval: "100ms"}, "duration", "more than 1000000"},
		{UserAutomationInput{RecordsPerTick: -1}, "users_per_tick", "between 1 and 5000"},
		{UserAutomationInput{RecordsPerTick: 1_000_000}, "users_per_tick", "between 1 and 5000"},
		{UserAutomationInput{Topic: "users created"}, "topic", "not a Kafka topic name"},
		{UserAutomationInput{Topic: ".."}, "topic", "not a Kafka topic name"},
		{UserAutomationInput{Dataset: "orders"}, "dataset", `"orders" is not one of users, registered_users, transactions`},
		{UserAutomationInput{Dataset: "Users"}, "dataset", "is not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.field+" "+tt.why, func(t *testing.T) {
			e := newTestEnv()
			e.RegisterWorkflow(UserAutomation)
			e.ExecuteWorkflow(UserAutomation, tt.in) // no activity is mocked: none may run

			err := e.GetWorkflowError()
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.True(t, appErr.NonRetryable())
			assert.Equal(t, "InvalidInput", appErr.Type())
			assert.Contains(t, appErr.Error(), "invalid input: "+tt.field+": ")
			assert.Contains(t, appErr.Error(), tt.why)

			// Validate, which the starter calls before it starts or schedules a
			// run, finds the same fault.
			var inErr *InputError
			require.ErrorAs(t, tt.in.Validate(), &inErr)
			assert.Equal(t, tt.field, inErr.Field)
			assert.Contains(t, inErr.Problem, tt.why)
		})
	}
}

// Resume is the run's own state: a run started by a client with one, or continued
// with one of another chain, or one that does not fit the input, fails at once.
func TestResumeFromOutsideIsRefused(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	own := func() *Progress { // what the test suite's chain would carry (FirstRunID "")
		return &Progress{Start: start, TicksTotal: 120, TicksDone: 100, RecordsPublished: 100,
			RecordsBySource: SourceCounts{RandomUser: 100}}
	}
	tests := []struct {
		name      string
		continued bool // the execution continued from another
		resume    func(p *Progress)
		why       string
	}{
		{"started by a client", false, func(*Progress) {}, "is the run's own state"},
		{"another run's ids", true, func(p *Progress) { p.RunID = "someone-elses-run" }, "is the run's own state"},
		{"more ticks than the input", true, func(p *Progress) { p.TicksTotal = 1_000_000 }, "ticks_total 1000000 is not the input's 120 ticks"},
		{"nothing left to do", true, func(p *Progress) { p.TicksDone = 120 }, "ticks_done 120 is not between 0 and ticks_total 120"},
		{"negative ticks done", true, func(p *Progress) { p.TicksDone = -5 }, "ticks_done -5"},
		{"no start", true, func(p *Progress) { p.Start = time.Time{} }, "has no start"},
		{"negative count", true, func(p *Progress) { p.RecordsBySource.Faker = -1 }, "has counts out of range"},
		{"more late ticks than ticks", true, func(p *Progress) { p.LateTicks = 101 }, "has counts out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv()
			e.RegisterWorkflow(UserAutomation)
			if tt.continued {
				e.SetContinuedExecutionRunID("previous-execution")
			}
			r := own()
			tt.resume(r)
			e.ExecuteWorkflow(UserAutomation, UserAutomationInput{Resume: r}) // no activity is mocked: none may run

			var appErr *temporal.ApplicationError
			require.ErrorAs(t, e.GetWorkflowError(), &appErr)
			assert.True(t, appErr.NonRetryable())
			assert.Equal(t, "InvalidInput", appErr.Type())
			assert.Contains(t, appErr.Error(), "invalid input: resume: "+tt.why)
		})
	}

	// Validate refuses any Resume: the starter never sends one.
	var inErr *InputError
	require.ErrorAs(t, UserAutomationInput{Resume: own()}.Validate(), &inErr)
	assert.Equal(t, "resume", inErr.Field)
}

func TestInputAndResultJSONNames(t *testing.T) {
	var in UserAutomationInput
	require.NoError(t, json.Unmarshal([]byte(`{"duration":"90s","interval":"500ms","users_per_tick":2,"topic":"t1"}`), &in))
	p, err := in.plan()
	require.NoError(t, err)
	assert.Equal(t, plan{dataset: "users", records: "users", duration: 90 * time.Second, interval: 500 * time.Millisecond, ticks: 180, perTick: 2, topic: "t1"}, p)

	b, err := json.Marshal(UserAutomationResult{Dataset: "users", RunID: "r1", Ticks: 2, RecordsPublished: 3, UsersPublished: 3,
		RecordsBySource: SourceCounts{RandomUser: 1, Faker: 2}, LateTicks: 1, MaxLateness: Duration(1500 * time.Millisecond), Topic: "t1"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"dataset":"users","run_id":"r1","ticks":2,"records_published":3,"users_published":3,
		"users_by_source":{"randomuser":1,"faker":2},"late_ticks":1,"max_lateness":"1.5s","topic":"t1"}`, string(b))
}

func TestSummary(t *testing.T) {
	assert.Equal(t, "users: 1 record every 1s for 2m0s (120 ticks) to users_created", UserAutomationInput{}.Summary())
	assert.Equal(t, "transactions: 10 records every 5s for 30s (6 ticks) to incoming_finance_data",
		UserAutomationInput{Dataset: "transactions", Duration: "30s"}.Summary())
	assert.NoError(t, UserAutomationInput{}.Validate())
}

func TestDatasetDefaults(t *testing.T) {
	tests := []struct {
		input string
		want  plan
	}{
		{`{}`, plan{dataset: "users", records: "users", duration: 2 * time.Minute, interval: time.Second, ticks: 120, perTick: 1, topic: "users_created"}},
		{`{"dataset":"users"}`, plan{dataset: "users", records: "users", duration: 2 * time.Minute, interval: time.Second, ticks: 120, perTick: 1, topic: "users_created"}},
		{`{"dataset":"registered_users","duration":"10s"}`,
			plan{dataset: "registered_users", records: "registered users", duration: 10 * time.Second, interval: time.Second, ticks: 10, perTick: 1, topic: "registered_user_2"}},
		{`{"dataset":"transactions","duration":"30s"}`,
			plan{dataset: "transactions", records: "transactions", duration: 30 * time.Second, interval: 5 * time.Second, ticks: 6, perTick: 10, topic: "incoming_finance_data"}},
		{`{"dataset":"transactions","duration":"4s","interval":"2s","users_per_tick":3,"topic":"tx"}`,
			plan{dataset: "transactions", records: "transactions", duration: 4 * time.Second, interval: 2 * time.Second, ticks: 2, perTick: 3, topic: "tx"}},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			var in UserAutomationInput
			require.NoError(t, json.Unmarshal([]byte(tt.input), &in))
			p, err := in.plan()
			require.NoError(t, err)
			assert.Equal(t, tt.want, p)
		})
	}
}

func TestTransactionsRunPublishesTenEveryFiveSeconds(t *testing.T) {
	e := newEnv(t, nil)
	res := run(t, e, UserAutomationInput{Dataset: datasets.NameTransactions, Duration: "30s"})

	assert.Equal(t, UserAutomationResult{
		Dataset: datasets.NameTransactions, RunID: "default-test-run-id", Ticks: 6, RecordsPublished: 60, UsersPublished: 60,
		RecordsBySource: SourceCounts{RandomUser: 60}, Topic: "incoming_finance_data",
	}, res)
	calls := e.calls
	slices.SortFunc(calls, func(a, b tickCall) int { return a.in.Tick - b.in.Tick })
	for k, c := range calls {
		assert.Equal(t, datasets.NameTransactions, c.in.Dataset)
		assert.Equal(t, 10, c.in.Records)
		assert.Equal(t, 5*time.Second, c.in.Interval)
		assert.Equal(t, calls[0].in.Due.Add(time.Duration(k)*5*time.Second), c.in.Due, "tick %d", k)
	}
	e.AssertActivityCalled(t, "EnsureTopic", mock.Anything, "incoming_finance_data")
}

// assertStartedAhead checks that a tick's activity started no earlier than
// scheduleLead before the tick fell due, and no later.
func assertStartedAhead(t *testing.T, c tickCall) {
	t.Helper()
	assert.False(t, c.started.After(c.in.Due), "tick %d started after it fell due", c.in.Tick)
	assert.False(t, c.started.Before(c.in.Due.Add(-scheduleLead)), "tick %d started too early", c.in.Tick)
}

func sorted(s []int) []int {
	out := append([]int(nil), s...)
	slices.Sort(out)
	return out
}
