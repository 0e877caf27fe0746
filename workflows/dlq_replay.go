package workflows

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/rows"
)

const (
	// DefaultMaxReplays is how many times a record may be replayed before a replay
	// skips its dead letter unless forced.
	DefaultMaxReplays = 3
	// defaultPageSize is how many dead letters one ReplayPage activity reads.
	defaultPageSize = 500
	// MaxPageSize bounds PageSize: a page is held in the worker's memory, and is
	// one activity's work between heartbeats of its steps.
	MaxPageSize = 5000
	// pagesPerRun bounds one execution's history (about 10 events a page): after
	// this many pages the workflow continues as new.
	pagesPerRun = 200
)

// DLQReplayInput selects the dead letters a replay re-publishes. The workflow id
// derives from the dead-letter topic (ReplayID): one replay of a topic at a time.
type DLQReplayInput struct {
	// DLQTopic is the dead-letter topic read. Required.
	DLQTopic string `json:"dlq_topic"`
	// Topic is the source topic the dead letters are replayed to; a dead letter
	// whose dlq.topic names another fails. Default: DLQTopic without its ".dlq"
	// (datasets.SourceTopic); required when DLQTopic does not end so.
	Topic string `json:"topic,omitempty"`
	// Reason, if set, selects the dead letters of that dlq.reason only.
	Reason string `json:"reason,omitempty"`
	// Since, if set, selects the dead letters written since then: a duration back
	// from the replay's start ("24h") or an RFC 3339 time.
	Since string `json:"since,omitempty"`
	// MaxReplays: dead letters of records replayed that many times already are
	// skipped unless Force. Default DefaultMaxReplays.
	MaxReplays int  `json:"max_replays,omitempty"`
	Force      bool `json:"force,omitempty"`
	// PageSize is how many dead letters a page reads; default 500, at most
	// MaxPageSize.
	PageSize int `json:"page_size,omitempty"`
	// Resume carries the progress into the next execution when the workflow
	// continues as new. Callers leave it empty.
	Resume *DLQReplayProgress `json:"resume,omitempty"`
}

// DLQReplayProgress is a replay's state, answered by ProgressQuery and carried
// across continue-as-new.
type DLQReplayProgress struct {
	// Since is the selection's start as an instant, fixed when the replay started.
	Since time.Time `json:"since,omitzero"`
	// Ranges are what is left to read, by partition: fixed when the replay started
	// (the end offsets then), From advancing page by page.
	Ranges []dlq.Range `json:"ranges"`
	// Total is how many dead letters the ranges held at the start.
	Total int `json:"total"`
	Pages int `json:"pages"`
	activities.ReplayPageResult
}

// DLQReplayResult is what a replay did: Replayed + Skipped + Failed = Selected.
type DLQReplayResult struct {
	DLQTopic string `json:"dlq_topic"`
	Read     int    `json:"read"`
	Selected int    `json:"selected"`
	Replayed int    `json:"replayed"`
	// Skipped are AlreadyReplayed (on the source topic already) and LoopBound
	// (replayed MaxReplays times already; -force replays them).
	Skipped         int `json:"skipped"`
	AlreadyReplayed int `json:"already_replayed"`
	LoopBound       int `json:"loop_bound"`
	// Failed cannot be replayed: truncated dead letters (too_large) and those
	// without a source topic.
	Failed int `json:"failed"`
	Pages  int `json:"pages"`
}

// ReplayID is the workflow id of a replay of in's dead-letter topic: one id per
// topic, so that a second replay of a topic is refused while one runs (two could
// publish a letter twice).
func ReplayID(in DLQReplayInput) string { return "dlq-replay-" + in.DLQTopic }

// target is the source topic the replay publishes to.
func (in DLQReplayInput) target() string { return cmp.Or(in.Topic, datasets.SourceTopic(in.DLQTopic)) }

// Summary describes the replay in one line, for the Web UI's list of workflows.
func (in DLQReplayInput) Summary() string {
	s := "replay dead letters of " + in.DLQTopic + " to " + in.target()
	if in.Reason != "" {
		s += ", reason " + in.Reason
	}
	if in.Since != "" {
		s += ", since " + in.Since
	}
	if in.Force {
		s += ", forced"
	}
	return s
}

func (in DLQReplayInput) maxReplays() int {
	if in.MaxReplays > 0 {
		return in.MaxReplays
	}
	return DefaultMaxReplays
}

// Validate checks the input as the workflow does: nil, or an *InputError.
func (in DLQReplayInput) Validate() error {
	_, err := in.since(time.Time{})
	switch {
	case err != nil:
		return err
	case !topicName.MatchString(in.DLQTopic):
		return invalid("dlq_topic", "%q is not a Kafka topic name", in.DLQTopic)
	case in.target() == "":
		return invalid("topic", "%q does not end in .dlq: name the source topic its dead letters go back to", in.DLQTopic)
	case !topicName.MatchString(in.target()):
		return invalid("topic", "%q is not a Kafka topic name", in.Topic)
	case in.MaxReplays < 0:
		return invalid("max_replays", "max replays must not be negative")
	case in.PageSize < 0 || in.PageSize > MaxPageSize:
		return invalid("page_size", "the page size must be 1 to %d (0: %d)", MaxPageSize, defaultPageSize)
	}
	return nil
}

// since is the instant Since names, now being the replay's start.
func (in DLQReplayInput) since(now time.Time) (time.Time, error) {
	if in.Since == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(in.Since); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, in.Since); err == nil {
		return t, nil
	}
	return time.Time{}, invalid("since", "%q is neither a duration like \"24h\" nor an RFC 3339 time", in.Since)
}

// replayActivityOptions: a page reads up to PageSize dead letters, looks for earlier
// replays on the source topic and publishes; it heartbeats between those steps, so
// a worker that dies mid-page is noticed within HeartbeatTimeout and the page is
// retried (it is idempotent). A Kafka outage is retried for up to an hour.
var replayActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    5 * time.Minute,
	HeartbeatTimeout:       15 * time.Second,
	ScheduleToCloseTimeout: time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    30 * time.Second,
	},
}

// DLQReplay re-publishes the selected dead letters of a dead-letter topic to its
// source topic (Topic), page by page (ReplayPage), exactly once each, each with its
// original timestamp.
//
// Design. The ranges to read are fixed when the replay starts: each partition's
// offsets up to its end then, so dead letters written during the replay (replays
// that fail again among them) are not read by it, and a replay always ends. The
// workflow reads the pages of a partition one after the other and keeps the next
// offset in its state, which a query and the Web UI's current details show; after
// pagesPerRun pages it continues as new with that state. A page is one activity:
// exactly once comes from the activity itself, which skips the dead letters whose
// replay (their coordinates in dlq.replayed_from, with their key and value) is on
// the source topic already, so a page
// retried after a worker crash, or a dead letter selected by two requests, is
// published once.
func DLQReplay(ctx workflow.Context, in DLQReplayInput) (DLQReplayResult, error) {
	if err := in.Validate(); err != nil {
		return DLQReplayResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", nil)
	}
	ctx = workflow.WithActivityOptions(ctx, replayActivityOptions)
	var a *activities.Activities
	st := in.Resume
	if st == nil {
		st = &DLQReplayProgress{}
		st.Since, _ = in.since(workflow.Now(ctx)) // valid
		if err := workflow.ExecuteActivity(ctx, a.DLQRanges, in.DLQTopic).Get(ctx, &st.Ranges); err != nil {
			return DLQReplayResult{}, fmt.Errorf("reading dead-letter topic %s: %w", in.DLQTopic, err)
		}
		st.Ranges = slices.DeleteFunc(st.Ranges, func(r dlq.Range) bool { return r.From >= r.To })
		for _, r := range st.Ranges {
			st.Total += int(r.To - r.From)
		}
	}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (DLQReplayProgress, error) { return *st, nil }); err != nil {
		return DLQReplayResult{}, fmt.Errorf("registering the progress query: %w", err)
	}
	workflow.SetCurrentDetails(ctx, st.details())
	pageSize := int64(in.PageSize)
	if pageSize == 0 {
		pageSize = defaultPageSize
	}
	for pages := 0; len(st.Ranges) > 0; pages++ {
		if pages == pagesPerRun {
			next := in
			next.Resume = st
			return DLQReplayResult{}, workflow.NewContinueAsNewError(ctx, DLQReplay, next)
		}
		r := st.Ranges[0]
		page := dlq.Range{Partition: r.Partition, From: r.From, To: min(r.To, r.From+pageSize)}
		opts := replayActivityOptions
		opts.Summary = fmt.Sprintf("partition %d offsets %d to %d", page.Partition, page.From, page.To-1)
		var res activities.ReplayPageResult
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.ReplayPage, activities.ReplayPageInput{
			DLQTopic: in.DLQTopic, Range: page, Topic: in.target(), Reason: in.Reason, Since: st.Since, MaxReplays: in.maxReplays(), Force: in.Force,
		}).Get(ctx, &res); err != nil {
			return DLQReplayResult{}, fmt.Errorf("dead letters %s to offset %d: %w",
				rows.Coordinates(in.DLQTopic, page.Partition, page.From), page.To-1, err)
		}
		st.add(res, page)
		workflow.SetCurrentDetails(ctx, st.details())
	}
	return st.result(in.DLQTopic), nil
}

// add counts a page done and moves past it.
func (p *DLQReplayProgress) add(r activities.ReplayPageResult, page dlq.Range) {
	p.Pages++
	p.Read += int(page.To - page.From) // offsets: records deleted by retention count too
	p.Selected += r.Selected
	p.Replayed += r.Replayed
	p.AlreadyReplayed += r.AlreadyReplayed
	p.LoopBound += r.LoopBound
	p.Failed += r.Failed
	p.Ranges[0].From = page.To
	if p.Ranges[0].From >= p.Ranges[0].To {
		p.Ranges = p.Ranges[1:]
	}
}

func (p *DLQReplayProgress) result(topic string) DLQReplayResult {
	return DLQReplayResult{
		DLQTopic: topic, Read: p.Read, Selected: p.Selected, Replayed: p.Replayed,
		Skipped: p.AlreadyReplayed + p.LoopBound, AlreadyReplayed: p.AlreadyReplayed, LoopBound: p.LoopBound,
		Failed: p.Failed, Pages: p.Pages,
	}
}

// details renders the progress for the Web UI (Temporal markdown).
func (p *DLQReplayProgress) details() string {
	return fmt.Sprintf("**%d of %d dead letters read** · %d selected · %d replayed · %d skipped (%d already, %d loop bound) · %d failed · %d pages",
		p.Read, p.Total, p.Selected, p.Replayed, p.AlreadyReplayed+p.LoopBound, p.AlreadyReplayed, p.LoopBound, p.Failed, p.Pages)
}
