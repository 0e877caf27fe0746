package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
)

// ProgressQuery is the query that returns a live run's Progress.
const ProgressQuery = "progress"

// Limits on the input; anything outside them fails the run at once.
const (
	defaultDuration   = 2 * time.Minute
	minInterval       = 100 * time.Millisecond
	maxRecordsPerTick = 5000 // randomuser.me serves at most 5000 users per call
	maxTicks          = 1_000_000
)

const (
	// ticksPerRun bounds one execution's history: after this many ticks the workflow
	// continues as new. A tick costs about 11 events (timer, activity, workflow
	// tasks), so an execution stays near 1,100 events, far below the 4,096-event
	// continue-as-new suggestion, for any duration and interval.
	ticksPerRun = 100
	// maxInFlight bounds the ticks published at once: when a worker comes back after
	// an outage, the ticks that fell due meanwhile go out this many at a time.
	maxInFlight = 8
	// scheduleLead is how early a tick's activity starts; it waits in the worker
	// for the tick's due time. Temporal's timers fire up to a second late (the
	// server's history.timerProcessorMaxTimeShift, 1s by default), the worker's
	// clock does not.
	scheduleLead = 1500 * time.Millisecond
)

// UserAutomationInput configures a run. Every field is optional: the zero value
// takes the default, so `--input '{}'` runs the seed pipeline's two minutes at one
// user per second.
type UserAutomationInput struct {
	// Dataset is what the run publishes: "users" (randomuser.me users, the default),
	// "registered_users" or "transactions" (datasets.Lookup). It sets the defaults of
	// Interval, RecordsPerTick and Topic.
	Dataset string `json:"dataset,omitempty"`
	// Duration is how long the run publishes, e.g. "90s" or "2m". Default "2m".
	Duration string `json:"duration,omitempty"`
	// Interval is the time between ticks, e.g. "1s", at least "100ms". Default: the
	// dataset's ("1s"; "5s" for transactions).
	Interval string `json:"interval,omitempty"`
	// RecordsPerTick is how many records a tick publishes, at most 5000. Default: the
	// dataset's (1; 10 for transactions). Its JSON name, users_per_tick, is the one
	// of the users pipeline, kept for every dataset so that inputs stay valid.
	RecordsPerTick int `json:"users_per_tick,omitempty"`
	// Topic is the Kafka topic. Default: the dataset's (users_created for users).
	Topic string `json:"topic,omitempty"`
	// Resume carries the run's progress into its next execution when the workflow
	// continues as new. Callers leave it empty: a run refuses one it did not set
	// itself (checkResume).
	Resume *Progress `json:"resume,omitempty"`
}

// UserAutomationResult is what a run published.
type UserAutomationResult struct {
	Dataset string `json:"dataset"`
	// RunID is the run id of the run's first execution: with the workflow id, the
	// tick and the index it makes every record id (datasets.Dataset.RecordID). It is
	// not the run id of the execution that returns the result when the run continued
	// as new.
	RunID string `json:"run_id"`
	Ticks int    `json:"ticks"`
	// RecordsPublished counts the records of the run's dataset. users_published and
	// users_by_source, the JSON names of the users pipeline, are kept for every
	// dataset: users_published counts the same records again, users_by_source
	// counts them by source.
	RecordsPublished int          `json:"records_published"`
	UsersPublished   int          `json:"users_published"`
	RecordsBySource  SourceCounts `json:"users_by_source"`
	// LateTicks counts the ticks published more than one interval after they fell
	// due: those that fell due while no worker ran, and any held up by load.
	LateTicks   int      `json:"late_ticks"`
	MaxLateness Duration `json:"max_lateness"`
	Topic       string   `json:"topic"`
}

// SourceCounts counts records by where they came from.
type SourceCounts struct {
	RandomUser int `json:"randomuser"`
	Faker      int `json:"faker"`
}

// Progress is a run's state, answered by ProgressQuery and carried across
// continue-as-new.
type Progress struct {
	// RunID is the run id of the run's first execution; record ids derive from it.
	RunID string `json:"run_id"`
	// Start is when tick 0 fell due, once the run had created its topic; tick k
	// falls due at Start + k·interval.
	Start      time.Time `json:"start"`
	TicksTotal int       `json:"ticks_total"`
	TicksDone  int       `json:"ticks_done"`
	// RecordsPublished and RecordsBySource count the run's records; their JSON
	// names are the users pipeline's, kept for every dataset.
	RecordsPublished int          `json:"users_published"`
	RecordsBySource  SourceCounts `json:"users_by_source"`
	LateTicks        int          `json:"late_ticks"`
	MaxLateness      Duration     `json:"max_lateness"`
	// CurrentSource is the source of the last tick done: randomuser or faker.
	CurrentSource string `json:"current_source"`
	// LastError is why the last tick that fell back to the faker did so.
	LastError string `json:"last_error,omitempty"`
	// Records is what the run's records are called ("transactions"), for displays.
	// Progress carried by runs started before it existed lacks it: users.
	Records string `json:"records,omitempty"`
}

// activityOptions apply to every activity of a run. A tick normally takes well under
// a second; the StartToClose timeout only matters when a worker dies mid-tick. A
// Kafka outage is retried with backoff for up to ten minutes; after that the run
// fails, naming the tick, rather than dropping records silently.
var activityOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    15 * time.Second,
	ScheduleToCloseTimeout: 10 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    30 * time.Second,
	},
}

// UserAutomation publishes RecordsPerTick records of its Dataset (users, by default) to
// Kafka every Interval for Duration, like the seed's Airflow DAG and faker producers,
// but exactly and resumably.
//
// Design. The workflow owns a fixed-rate clock: tick k falls due at Start +
// k·interval, where Start is when the run's topic was ready. A durable timer wakes the
// workflow scheduleLead before that, and it starts the tick's activity, which waits
// in the worker for the exact due time: Temporal's timers are durable but may fire
// up to a second late. Each tick is one short activity, started without waiting
// for the ticks before it, so slow work never pushes later ticks back. After
// ticksPerRun ticks the workflow continues as new, carrying its Progress, which keeps
// every execution's history near 1,100 events whatever the duration. This was
// preferred to one long heartbeating activity that owns the loop: the progress lives
// in workflow state, where a query and the Web UI's current details read it without
// any extra history events; each tick gets its own timeout and retry policy; and
// recovery after a crash is Temporal's replay, not hand-written resume logic.
//
// Ticks missed while no worker ran. The timers live on the Temporal server, so the
// clock keeps running while every worker is down, and the window is never
// restarted. Rule: every tick of the window is published exactly once; a tick that
// fell due while no worker ran is published as soon as a worker is back (the missed
// ones go out back to back, maxInFlight at a time), and the ticks after it are on
// time again. Such ticks are counted in the result's late_ticks. A tick that was in
// flight when its worker died is sent again; it carries the same record ids (derived
// from the workflow id, the first run id, the tick and the index) and, from the same
// source, the same records, so the run's distinct records are exactly ticks × records per tick.
func UserAutomation(ctx workflow.Context, in UserAutomationInput) (UserAutomationResult, error) {
	p, err := in.plan()
	if err != nil {
		return UserAutomationResult{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	info := workflow.GetInfo(ctx)
	var a *activities.Activities

	st := in.Resume
	first := st == nil
	if first {
		st = &Progress{RunID: info.WorkflowExecution.RunID, TicksTotal: p.ticks}
	} else if err := p.checkResume(st, info); err != nil {
		return UserAutomationResult{}, nonRetryable(err)
	}
	st.Records = p.records
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return *st, nil }); err != nil {
		return UserAutomationResult{}, fmt.Errorf("registering the progress query: %w", err)
	}
	workflow.SetCurrentDetails(ctx, st.details())
	if first {
		if err := workflow.ExecuteActivity(ctx, a.EnsureTopic, p.topic).Get(ctx, nil); err != nil {
			return UserAutomationResult{}, fmt.Errorf("creating kafka topic %s: %w", p.topic, err)
		}
		st.Start = workflow.Now(ctx)
	}

	l := newTickLoop(ctx, p, st, info.WorkflowExecution.ID)
	for k := st.TicksDone; k < l.end; k++ {
		if err := l.tick(k); err != nil {
			return UserAutomationResult{}, err
		}
	}
	if err := l.drain(); err != nil {
		return UserAutomationResult{}, err
	}
	if st.TicksDone < st.TicksTotal {
		workflow.GetLogger(ctx).Info("Continuing as new", "TicksDone", st.TicksDone, "TicksTotal", st.TicksTotal)
		next := in
		next.Resume = st
		return UserAutomationResult{}, workflow.NewContinueAsNewError(ctx, UserAutomation, next)
	}
	return UserAutomationResult{
		Dataset:          p.dataset,
		RunID:            st.RunID,
		Ticks:            st.TicksDone,
		RecordsPublished: st.RecordsPublished,
		UsersPublished:   st.RecordsPublished,
		RecordsBySource:  st.RecordsBySource,
		LateTicks:        st.LateTicks,
		MaxLateness:      st.MaxLateness,
		Topic:            p.topic,
	}, nil
}

// tickLoop runs the ticks of one execution.
type tickLoop struct {
	ctx        workflow.Context
	plan       plan
	st         *Progress
	workflowID string
	// end is the tick after the last of this execution.
	end int
	// inFlightLimit bounds the ticks started and not done: those waiting in their
	// activity for their due time, and maxInFlight more.
	inFlightLimit int
	// sel receives the ticks' results and the timers.
	sel     workflow.Selector
	pending int
	// err is the first tick that failed for good.
	err error
}

func newTickLoop(ctx workflow.Context, p plan, st *Progress, workflowID string) *tickLoop {
	return &tickLoop{
		ctx: ctx, plan: p, st: st, workflowID: workflowID,
		end:           min(st.TicksTotal, st.TicksDone+ticksPerRun),
		inFlightLimit: maxInFlight + int(scheduleLead/p.interval),
		sel:           workflow.NewSelector(ctx),
	}
}

// tick waits until tick k is scheduleLead from its due time and for a free slot,
// then starts it.
func (l *tickLoop) tick(k int) error {
	due := l.st.Start.Add(time.Duration(k) * l.plan.interval)
	if wait := due.Add(-scheduleLead).Sub(workflow.Now(l.ctx)); wait > 0 {
		timerCtx, cancel := workflow.WithCancel(l.ctx)
		defer cancel()
		fired := false
		timer := workflow.NewTimerWithOptions(timerCtx, wait, workflow.TimerOptions{Summary: fmt.Sprintf("wait for tick %d", k+1)})
		l.sel.AddFuture(timer, func(workflow.Future) { fired = true })
		for !fired && l.err == nil {
			l.sel.Select(l.ctx)
		}
	}
	for l.pending >= l.inFlightLimit && l.err == nil {
		l.sel.Select(l.ctx)
	}
	if l.err != nil {
		return l.err
	}

	var a *activities.Activities
	opts := activityOptions
	opts.Summary = fmt.Sprintf("tick %d of %d", k+1, l.st.TicksTotal)
	f := workflow.ExecuteActivity(workflow.WithActivityOptions(l.ctx, opts), a.PublishTick, activities.TickInput{
		WorkflowID: l.workflowID,
		RunID:      l.st.RunID,
		Dataset:    l.plan.dataset,
		Tick:       k,
		Due:        due,
		Interval:   l.plan.interval,
		Records:    l.plan.perTick,
		Topic:      l.plan.topic,
	})
	l.pending++
	l.sel.AddFuture(f, func(f workflow.Future) {
		l.pending--
		var r activities.TickResult
		if err := f.Get(l.ctx, &r); err != nil {
			if l.err == nil {
				l.err = fmt.Errorf("tick %d of %d: %w", k+1, l.st.TicksTotal, err)
			}
			return
		}
		l.st.record(r, l.plan.interval)
		workflow.SetCurrentDetails(l.ctx, l.st.details())
	})
	return nil
}

// drain waits for the ticks in flight.
func (l *tickLoop) drain() error {
	for l.pending > 0 && l.err == nil {
		l.sel.Select(l.ctx)
	}
	return l.err
}

// record adds a tick's result to the progress.
func (p *Progress) record(r activities.TickResult, interval time.Duration) {
	p.TicksDone++
	p.RecordsPublished += r.Records
	switch r.Source {
	case datasets.SourceRandomUser:
		p.RecordsBySource.RandomUser += r.Records
	case datasets.SourceFaker:
		p.RecordsBySource.Faker += r.Records
	}
	p.CurrentSource = r.Source
	if r.FallbackReason != "" {
		p.LastError = fmt.Sprintf("tick %d: %s", r.Tick+1, r.FallbackReason)
	}
	if r.Lateness > interval {
		p.LateTicks++
	}
	p.MaxLateness = max(p.MaxLateness, Duration(r.Lateness))
}

// details renders the progress for the Web UI (Temporal markdown).
func (p *Progress) details() string {
	s := fmt.Sprintf("**Tick %d of %d** · %d %s published (randomuser %d, faker %d) · late ticks %d",
		p.TicksDone, p.TicksTotal, p.RecordsPublished, p.RecordsNoun(), p.RecordsBySource.RandomUser, p.RecordsBySource.Faker, p.LateTicks)
	if p.CurrentSource != "" {
		s += " · source " + p.CurrentSource
	}
	if p.LastError != "" {
		s += "\n\nLast error: " + p.LastError
	}
	return s
}

// RecordsNoun is what the run's records are called: Records, or "users".
func (p Progress) RecordsNoun() string { return cmp.Or(p.Records, "users") }

// plan is a validated input with its defaults applied.
type plan struct {
	dataset            string
	records            string // what the records are called
	duration, interval time.Duration
	ticks, perTick     int
	topic              string
}

// InputError is bad input to a run: the field (its JSON name) and what is wrong.
// The workflow fails a run with such input at once, as a non-retryable application
// error of type InvalidInput; Validate lets a caller refuse it before the run starts.
type InputError struct {
	Field, Problem string
}

func (e *InputError) Error() string { return "invalid input: " + e.Field + ": " + e.Problem }

// Validate checks the input as the workflow does when a run starts: nil, or an
// *InputError naming the field. A caller's input has no Resume.
func (in UserAutomationInput) Validate() error {
	if in.Resume != nil {
		return errResumeFromCaller
	}
	_, err := in.check()
	return err
}

// errResumeFromCaller refuses a Resume that the run did not set itself.
var errResumeFromCaller = invalid("resume", "is the run's own state, which it sets when it continues as new; leave it out")

// checkResume refuses a Resume that is not this run's own: only the workflow sets it,
// when it continues as new, and only for the next execution of the same chain. A
// caller's could skip ticks, forge the counts or publish under another run's record
// ids. So an execution that did not continue from another (started by a client)
// takes none, the state must be of the chain's first run, and it must fit the plan.
func (p plan) checkResume(r *Progress, info *workflow.Info) error {
	switch {
	case info.ContinuedExecutionRunID == "" || r.RunID != info.FirstRunID:
		return errResumeFromCaller
	case r.TicksTotal != p.ticks:
		return invalid("resume", "ticks_total %d is not the input's %d ticks", r.TicksTotal, p.ticks)
	case r.TicksDone < 0 || r.TicksDone >= r.TicksTotal:
		return invalid("resume", "ticks_done %d is not between 0 and ticks_total %d", r.TicksDone, r.TicksTotal)
	case r.Start.IsZero():
		return invalid("resume", "has no start")
	case r.RecordsPublished < 0 || r.RecordsBySource.RandomUser < 0 || r.RecordsBySource.Faker < 0 ||
		r.LateTicks < 0 || r.LateTicks > r.TicksDone:
		return invalid("resume", "has counts out of range")
	}
	return nil
}

// Summary describes the run in one line, for the Web UI's list of runs: dataset,
// duration, interval and records a tick. The input must be valid.
func (in UserAutomationInput) Summary() string {
	p, err := in.check()
	if err != nil {
		return "invalid input"
	}
	records := "records"
	if p.perTick == 1 {
		records = "record"
	}
	return fmt.Sprintf("%s: %d %s every %s for %s (%d ticks) to %s", p.dataset, p.perTick, records, p.interval, p.duration, p.ticks, p.topic)
}

// topicName is what Kafka accepts as a topic name.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// plan validates the input and applies the defaults. Its errors are non-retryable
// and name the field.
func (in UserAutomationInput) plan() (plan, error) {
	p, err := in.check()
	if err != nil {
		return plan{}, nonRetryable(err)
	}
	return p, nil
}

// nonRetryable makes an *InputError the run's failure, of type InvalidInput.
func nonRetryable(err error) error {
	if e := (*InputError)(nil); errors.As(err, &e) {
		return temporal.NewNonRetryableApplicationError(e.Error(), "InvalidInput", nil)
	}
	return err
}

// check validates the input and applies the defaults; its errors are *InputError.
func (in UserAutomationInput) check() (plan, error) {
	ds, ok := datasets.Lookup(in.Dataset)
	if !ok {
		return plan{}, invalid("dataset", "%q is not one of %s", in.Dataset, strings.Join(datasets.Names(), ", "))
	}
	p := plan{dataset: ds.Name, records: ds.RecordsNoun(), perTick: cmp.Or(in.RecordsPerTick, ds.PerTick), topic: cmp.Or(in.Topic, ds.Topic)}
	var err error
	if p.duration, err = parseDuration("duration", in.Duration, defaultDuration); err != nil {
		return plan{}, err
	}
	if p.interval, err = parseDuration("interval", in.Interval, ds.Interval); err != nil {
		return plan{}, err
	}
	switch {
	case p.interval < minInterval:
		return plan{}, invalid("interval", "must be at least %s, got %q", minInterval, in.Interval)
	case p.duration < p.interval:
		return plan{}, invalid("duration", "must be at least one interval (%s), got %q", p.interval, in.Duration)
	case p.duration/p.interval > maxTicks:
		return plan{}, invalid("duration", "%s at one tick every %s makes %d ticks, more than %d",
			p.duration, p.interval, p.duration/p.interval, maxTicks)
	case p.perTick < 0 || p.perTick > maxRecordsPerTick:
		return plan{}, invalid("users_per_tick", "must be between 1 and %d, got %d", maxRecordsPerTick, in.RecordsPerTick)
	case !topicName.MatchString(p.topic) || p.topic == "." || p.topic == "..":
		return plan{}, invalid("topic", "%q is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)", in.Topic)
	}
	p.ticks = int(p.duration / p.interval)
	return p, nil
}

func parseDuration(field, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid(field, "%q is not a duration like \"90s\" or \"2m\"", s)
	}
	return d, nil
}

// invalid is the error of a run started with bad input.
func invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Problem: fmt.Sprintf(format, args...)}
}
