// Package activities holds the side effects of the UserAutomation workflow: making a
// tick's records with its dataset's generator (package datasets: users fetched from
// randomuser.me here, falling back to gofakeit; registered users and finance
// transactions from a seeded gofakeit) and publishing them to Kafka.
//
// Activities are methods on [Activities], which holds the clients; the worker
// registers one value and workflows call the methods through a nil pointer.
package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/segmentio/kafka-go"
	"go.temporal.io/sdk/temporal"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/kafkasec"
)

// Config configures the activities' clients. Zero values take the defaults below.
type Config struct {
	// KafkaBrokers are the bootstrap brokers. Required.
	KafkaBrokers []string
	// KafkaBrokersFrom names the setting KafkaBrokers came from, for error messages.
	// Default "KAFKA_BROKERS".
	KafkaBrokersFrom string
	// KafkaSecurity is how the clients connect: TLS, SASL. Default nil: plaintext.
	KafkaSecurity *kafkasec.Security
	// TopicPartitions is the partition count of topics the activities create.
	// Default 3.
	TopicPartitions int
	// TopicReplicationFactor is the replication factor of created topics. Default 1.
	TopicReplicationFactor int
	// BatchTimeout is how long the Kafka writer waits to fill a batch. Default 5ms:
	// the writer's own 1 s default would hold back every tick's users for a second.
	BatchTimeout time.Duration
	// BatchSize is the most messages in one produce request per partition. Default 1000.
	BatchSize int
	// RandomUserURL is the randomuser.me API endpoint. Default https://randomuser.me/api/.
	RandomUserURL string
	// RandomUserTimeout caps one randomuser.me call. Default 5s. A call never gets
	// more than half the tick interval either, so a tick is not held up by a slow API.
	RandomUserTimeout time.Duration
	// Metrics records published ticks. Default nil: no metrics.
	Metrics *Metrics
	// DatasetTopics names a dataset's own topic where it is not the dataset's
	// default (datasets.Dataset.Topic): the worker's KAFKA_TOPIC for users.
	DatasetTopics map[string]string
	// AllowedTopics are the topics a run may publish to besides its dataset's own;
	// "*" allows any. A run's input names its topic, and whoever may start a run
	// could otherwise have the worker create topics and write records wherever its
	// Kafka credentials reach. Default none.
	AllowedTopics []string
}

// checkTopic refuses topic, for good, unless it is the own topic of one of dss or
// an allowed one.
func (c Config) checkTopic(topic string, dss ...datasets.Dataset) error {
	if slices.Contains(c.AllowedTopics, topic) || slices.Contains(c.AllowedTopics, "*") {
		return nil
	}
	own := make([]string, len(dss))
	for i, ds := range dss {
		if own[i] = cmp.Or(c.DatasetTopics[ds.Name], ds.Topic); own[i] == topic {
			return nil
		}
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("topic %s is not allowed: the worker publishes "+
		"a dataset's records to its own topic (%s) and to those WORKER_ALLOWED_TOPICS names (now %s)",
		topic, strings.Join(own, ", "), cmp.Or(strings.Join(c.AllowedTopics, ","), "none")), "TopicNotAllowed", nil)
}

// checkAnyTopic refuses topic, for good, unless it is the own topic of a dataset or
// an allowed one.
func (c Config) checkAnyTopic(topic string) error {
	var all []datasets.Dataset
	for _, name := range datasets.Names() {
		ds, _ := datasets.Lookup(name)
		all = append(all, ds)
	}
	return c.checkTopic(topic, all...)
}

func (c Config) brokersFrom() string {
	if c.KafkaBrokersFrom == "" {
		return "KAFKA_BROKERS"
	}
	return c.KafkaBrokersFrom
}

func (c Config) withDefaults() Config {
	if c.TopicPartitions == 0 {
		c.TopicPartitions = 3
	}
	if c.TopicReplicationFactor == 0 {
		c.TopicReplicationFactor = 1
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = 5 * time.Millisecond
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.RandomUserURL == "" {
		c.RandomUserURL = "https://randomuser.me/api/"
	}
	if c.RandomUserTimeout == 0 {
		c.RandomUserTimeout = 5 * time.Second
	}
	return c
}

// Activities are the UserAutomation activities and the clients they share.
type Activities struct {
	cfg    Config
	http   *resty.Client
	kafka  *kafka.Client
	writer *kafka.Writer
}

// New builds the activities' clients. It does not connect: the clients dial on first
// use. Close releases them.
func New(cfg Config, logger *slog.Logger) *Activities {
	cfg = cfg.withDefaults()
	addr := kafka.TCP(cfg.KafkaBrokers...)
	// One transport: the topic creations refresh the metadata the writer uses.
	transport := cfg.KafkaSecurity.Transport()
	return &Activities{
		cfg:   cfg,
		http:  newRandomUserClient(),
		kafka: &kafka.Client{Addr: addr, Timeout: 10 * time.Second, Transport: transport},
		writer: &kafka.Writer{
			Addr:         addr,
			Transport:    transport,
			Balancer:     &kafka.Hash{},
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: cfg.BatchTimeout,
			BatchSize:    cfg.BatchSize,
			Logger: kafka.LoggerFunc(func(msg string, args ...any) {
				logger.Debug(fmt.Sprintf(msg, args...), "component", "kafka-writer")
			}),
			ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
				logger.Warn(fmt.Sprintf(msg, args...), "component", "kafka-writer")
			}),
		},
	}
}

// Close flushes and closes the Kafka writer.
func (a *Activities) Close() error {
	if err := a.writer.Close(); err != nil {
		return fmt.Errorf("closing kafka writer: %w", err)
	}
	return nil
}

// EnsureTopic creates topic with the configured partitions and replication factor,
// unless it exists already, so that it is never left to broker auto-creation. The
// topic must be a dataset's own or an allowed one (Config.AllowedTopics).
func (a *Activities) EnsureTopic(ctx context.Context, topic string) error {
	if err := a.cfg.checkAnyTopic(topic); err != nil {
		return err
	}
	resp, err := a.kafka.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             topic,
		NumPartitions:     a.cfg.TopicPartitions,
		ReplicationFactor: a.cfg.TopicReplicationFactor,
	}}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return a.kafkaError(ctx, "creating topic "+topic, err)
	}
	return nil
}

// TickInput names one tick of a run.
type TickInput struct {
	// WorkflowID and RunID identify the run; RunID is the run id of its first
	// execution, which stays the same when the workflow continues as new.
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	// Dataset names what the tick publishes (datasets.Lookup); empty means users, as
	// in ticks scheduled before datasets existed.
	Dataset string `json:"dataset,omitempty"`
	// Tick counts from 0.
	Tick int `json:"tick"`
	// Due is when the tick fell due on the run's fixed-rate clock.
	Due time.Time `json:"due"`
	// Interval is the run's tick interval; a randomuser.me call gets at most half of it.
	Interval time.Duration `json:"interval"`
	// Records is how many records the tick publishes. Its JSON name is the one of
	// the users pipeline, which ticks in recorded histories carry.
	Records int    `json:"users"`
	Topic   string `json:"topic"`
}

// TickResult tells what a tick published.
type TickResult struct {
	Tick int `json:"tick"`
	// Records is how many records the tick published; its JSON name is the users
	// pipeline's.
	Records int    `json:"users"`
	Source  string `json:"source"`
	// FallbackReason says why the records came from the faker, or why some users did
	// (oversized fields; Source stays randomuser, and those users' records say faker);
	// empty when none did.
	FallbackReason string `json:"fallback_reason,omitempty"`
	// Lateness is how long after Due Kafka acknowledged the tick's records.
	Lateness time.Duration `json:"lateness"`
}

// PublishTick makes a tick's records with its dataset's generator — users from
// randomuser.me, or from the faker when the API fails or is slow; the other datasets
// from the faker — waits for the tick's due time (the workflow starts ticks a little
// early, since Temporal's timers may fire late) and publishes them to Kafka as JSON,
// keyed by record id. It returns only when Kafka has acknowledged every record on all
// in-sync replicas; an error (Kafka unreachable, say) makes Temporal retry the whole
// tick, which then carries the same ids and, from the same source, the same records.
func (a *Activities) PublishTick(ctx context.Context, in TickInput) (TickResult, error) {
	ds, ok := datasets.Lookup(in.Dataset)
	if !ok {
		return TickResult{}, temporal.NewNonRetryableApplicationError(datasets.UnknownError(in.Dataset).Error(), "InvalidInput", nil)
	}
	if err := a.cfg.checkTopic(in.Topic, ds); err != nil {
		return TickResult{}, err
	}
	ids := make([]string, in.Records)
	for i := range ids {
		ids[i] = ds.RecordID(in.WorkflowID, in.RunID, in.Tick, i)
	}
	values, source, fallback := ds.Generate(ctx, sources{a}, in.tick(), ids)
	res := TickResult{Tick: in.Tick, Records: len(values), Source: source}
	if fallback != nil {
		res.FallbackReason = fallback.Error()
	}
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		value, err := json.Marshal(v)
		if err != nil {
			return TickResult{}, fmt.Errorf("encoding %s record %s: %w", ds.Name, ids[i], err)
		}
		msgs[i] = kafka.Message{Topic: in.Topic, Key: []byte(ids[i]), Value: value}
	}

	wait := time.NewTimer(time.Until(in.Due))
	defer wait.Stop()
	select {
	case <-wait.C:
	case <-ctx.Done():
		return TickResult{}, fmt.Errorf("waiting for tick %d to fall due: %w", in.Tick, ctx.Err())
	}
	if err := a.writer.WriteMessages(ctx, msgs...); err != nil {
		return TickResult{}, a.kafkaError(ctx, fmt.Sprintf("tick %d: publishing %d %s to topic %s",
			in.Tick+1, len(msgs), ds.RecordsNoun(), in.Topic), err)
	}
	res.Lateness = time.Since(in.Due)
	a.cfg.Metrics.published(ds.Name, res)
	return res, nil
}

// tick is the tick as its generator sees it.
func (in TickInput) tick() datasets.Tick {
	return datasets.Tick{WorkflowID: in.WorkflowID, RunID: in.RunID, Tick: in.Tick, Interval: in.Interval}
}

// sources lends the activities' randomuser.me client to the generators
// (datasets.Sources). It is not Activities itself, whose exported methods are all
// registered as activities.
type sources struct{ a *Activities }

// RandomUsers fetches a tick's users and formats them, the i-th with id ids[i].
func (s sources) RandomUsers(ctx context.Context, t datasets.Tick, ids []string) ([]any, string, error) {
	users, source, fallback := s.a.fetchUsers(ctx, t, len(ids))
	values := make([]any, len(users))
	for i, u := range users {
		from := source
		if u.faked {
			from = datasets.SourceFaker
		}
		values[i] = formatUser(u, ids[i], from)
	}
	return values, source, fallback
}

// fetchUsers gets a tick's n users from randomuser.me within a deadline well inside
// the tick interval, or from the seeded faker if that fails; fallback says why. A
// user of the API's with an oversized field is replaced by the faker's alone (marked
// faked; the tick's source stays randomuser, and fallback says which).
func (a *Activities) fetchUsers(ctx context.Context, t datasets.Tick, n int) (users []apiUser, source string, fallback error) {
	textSeed, numberSeed := t.Seeds()
	timeout := a.cfg.RandomUserTimeout
	if t.Interval > 0 {
		timeout = min(timeout, t.Interval/2)
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	users, err := a.fetchRandomUsers(callCtx, textSeed, n)
	if err == nil {
		return users, datasets.SourceRandomUser, replaceOversized(users, numberSeed)
	}
	return fakeUsers(numberSeed, n), datasets.SourceFaker, err
}
