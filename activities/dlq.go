package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/dlq"
	"github.com/streampipe/streampipe/rows"
)

// DLQRanges returns the offsets dead-letter topic topic holds now, by partition:
// what a replay reads, fixed when it starts.
func (a *Activities) DLQRanges(ctx context.Context, topic string) ([]dlq.Range, error) {
	rs, err := dlq.Ranges(ctx, a.kafka, topic)
	if errors.Is(err, kafka.UnknownTopicOrPartition) { // waiting will not make it
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("dead-letter topic %s does not exist on Kafka at %s (%s)",
			topic, strings.Join(a.cfg.KafkaBrokers, ","), a.cfg.brokersFrom()), "NoSuchTopic", err)
	}
	if err != nil {
		return nil, a.kafkaError(ctx, "reading dead-letter topic "+topic, err)
	}
	return rs, nil
}

// ReplayPageInput is one page of a replay: a range of one partition of the
// dead-letter topic and the selection.
type ReplayPageInput struct {
	DLQTopic string    `json:"dlq_topic"`
	Range    dlq.Range `json:"range"`
	// Topic is the source topic the dead letters go back to: a dead letter whose
	// dlq.topic names another fails. Empty (a page of a replay started before it
	// was set): datasets.SourceTopic of DLQTopic.
	Topic string `json:"topic,omitempty"`
	// Reason, if set, selects the dead letters of that dlq.reason only.
	Reason string `json:"reason,omitempty"`
	// Since, if set, selects the dead letters written at or after it.
	Since time.Time `json:"since,omitzero"`
	// MaxReplays: a dead letter of a record replayed that many times already is
	// skipped, unless Force.
	MaxReplays int  `json:"max_replays"`
	Force      bool `json:"force,omitempty"`
}

// ReplayPageResult counts a page's dead letters. Selected = Replayed + Skipped +
// Failed; the others (Read - Selected) did not match the selection.
type ReplayPageResult struct {
	Read     int `json:"read"`
	Selected int `json:"selected"`
	Replayed int `json:"replayed"`
	// AlreadyReplayed were on the source topic already (a retried page, another
	// request); LoopBound had been replayed MaxReplays times. Both are skipped.
	AlreadyReplayed int `json:"already_replayed"`
	LoopBound       int `json:"loop_bound"`
	// Failed cannot be replayed: truncated (too_large), without a source topic, or
	// of a source topic other than the replay's.
	Failed int `json:"failed"`
}

// clockSkew is how much earlier than its dead letter's time a replay's Kafka
// timestamp may be, the producers' clocks differing: the search for replays starts
// that much earlier.
const clockSkew = time.Minute

// ReplayPage re-publishes the selected dead letters of a page to their source
// topic, in.Topic (a dataset's own topic, or one of Config.AllowedTopics: else the
// page fails for good), each with its key, value, headers and original timestamp
// plus dlq.replayed_from (its coordinates) and dlq.replays. A dead letter whose
// dlq.topic names another topic fails: whoever may write the dead-letter topic
// does not choose where its letters go. It is idempotent: before publishing, it
// looks for the page's replays on the source topic and does not send those found
// again. So a page retried after a worker crash, or a dead letter that two
// requests select, is published once.
func (a *Activities) ReplayPage(ctx context.Context, in ReplayPageInput) (ReplayPageResult, error) {
	var res ReplayPageResult
	target := cmp.Or(in.Topic, datasets.SourceTopic(in.DLQTopic))
	if err := a.cfg.checkAnyTopic(target); err != nil {
		return res, err
	}
	var todo []rows.Letter
	err := dlq.ReadRange(ctx, a.cfg.KafkaBrokers, a.cfg.KafkaSecurity.Dialer(), in.DLQTopic, in.Range, func(m kafka.Message) bool {
		res.Read++
		beat(ctx, res.Read)
		l := rows.ParseLetter(m)
		if (in.Reason != "" && l.Reason != in.Reason) || l.Time.Before(in.Since) {
			return true
		}
		res.Selected++
		switch {
		case l.Truncated || l.SourceTopic == "":
			res.Failed++
		case l.SourceTopic != target:
			res.Failed++
			activity.GetLogger(ctx).Warn("dead letter of another topic not replayed", "dead_letter",
				rows.Coordinates(in.DLQTopic, l.Partition, l.Offset), "its_topic", l.SourceTopic, "replay_topic", target)
		case l.Replays >= in.MaxReplays && !in.Force:
			res.LoopBound++
		default:
			todo = append(todo, l)
		}
		return true
	})
	if err != nil {
		return res, a.kafkaError(ctx, "reading dead letters", err)
	}
	done, err := a.replayed(ctx, in.DLQTopic, target, todo)
	if err != nil {
		return res, err
	}
	var msgs []kafka.Message
	for _, l := range todo {
		if done[rows.Coordinates(in.DLQTopic, l.Partition, l.Offset)] {
			res.AlreadyReplayed++
			continue
		}
		msgs = append(msgs, l.Replay(in.DLQTopic))
	}
	if err := a.writer.WriteMessages(ctx, msgs...); err != nil {
		return res, a.kafkaError(ctx, fmt.Sprintf("re-publishing %d dead letters", len(msgs)), err)
	}
	res.Replayed = len(msgs)
	return res, nil
}

// replayed returns the coordinates of the letters of dead-letter topic dlqTopic
// whose replay is on topic already (rows.Letter.IsReplayOf), read from the earliest
// of their ReplayedSince (less clockSkew) to the end: Kafka finds the first record
// of that timestamp or later, and each replay is at it or after it.
func (a *Activities) replayed(ctx context.Context, dlqTopic, topic string, letters []rows.Letter) (map[string]bool, error) {
	if len(letters) == 0 {
		return nil, nil
	}
	wanted := map[string]rows.Letter{}
	since := letters[0].ReplayedSince()
	for _, l := range letters {
		wanted[rows.Coordinates(dlqTopic, l.Partition, l.Offset)] = l
		if t := l.ReplayedSince(); t.Before(since) {
			since = t
		}
	}
	rs, err := dlq.RangesSince(ctx, a.kafka, topic, since.Add(-clockSkew))
	if err != nil {
		return nil, a.kafkaError(ctx, "looking for replays", err)
	}
	found := map[string]bool{}
	for _, r := range rs {
		read := 0
		err := dlq.ReadRange(ctx, a.cfg.KafkaBrokers, a.cfg.KafkaSecurity.Dialer(), topic, r, func(m kafka.Message) bool {
			read++
			beat(ctx, read)
			for _, h := range m.Headers {
				if l, ok := wanted[string(h.Value)]; ok && h.Key == rows.HeaderReplayedFrom && l.IsReplayOf(dlqTopic, m) {
					found[string(h.Value)] = true
				}
			}
			return true
		})
		if err != nil {
			return nil, a.kafkaError(ctx, "looking for replays", err)
		}
	}
	return found, nil
}

// beat heartbeats every 100 records read: a long read of a source topic is alive.
// (The SDK sends at most one heartbeat per 80% of the heartbeat timeout.)
func beat(ctx context.Context, read int) {
	if read%100 == 0 {
		activity.RecordHeartbeat(ctx, read)
	}
}
