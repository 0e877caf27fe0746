package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/testkit/kafkatest"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
)

// generate runs a dataset's generator for a tick of n records, as PublishTick does.
func generate(t *testing.T, a *Activities, dataset string, tick, n int) (ids []string, values []any) {
	t.Helper()
	ds, ok := datasets.Lookup(dataset)
	require.True(t, ok)
	in := TickInput{WorkflowID: "wf", RunID: "run", Dataset: dataset, Tick: tick, Interval: time.Second, Records: n}
	ids = make([]string, n)
	for i := range ids {
		ids[i] = ds.RecordID(in.WorkflowID, in.RunID, tick, i)
	}
	values, _, _ = ds.Generate(context.Background(), sources{a}, in.tick(), ids)
	require.Len(t, values, n)
	return ids, values
}

// TestFakedUsersAreTheOnesBefore pins the users the faker makes for a seed, as JSON,
// to what the producer made before datasets had a package of their own.
func TestFakedUsersAreTheOnesBefore(t *testing.T) {
	h := sha256.New()
	for i, u := range fakeUsers(42, 5) {
		b, err := json.Marshal(formatUser(u, datasets.Users.RecordID("wf", "run", 5, i), datasets.SourceFaker))
		require.NoError(t, err)
		fmt.Fprintf(h, "%s\n", b)
	}
	assert.Equal(t, "40e5d396e196c86d54b188dab2d7cd71d5f3d6563abdbc64d767fe9c134eee5b", hex.EncodeToString(h.Sum(nil)))
}

func TestPublishTickOfUnknownDatasetFailsForGood(t *testing.T) {
	a := New(Config{KafkaBrokers: []string{"127.0.0.1:1"}}, discardLogger())
	t.Cleanup(func() { _ = a.Close() })
	_, err := a.PublishTick(context.Background(), TickInput{Dataset: "orders", Records: 1, Topic: "t"})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), `unknown dataset "orders"`)
}

func TestPublishFakerDatasetsToKafka(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka)
	brokers := stacktest.KafkaBrokers(t)
	a := New(Config{KafkaBrokers: brokers, AllowedTopics: []string{"*"}}, discardLogger())
	t.Cleanup(func() { _ = a.Close() })
	for _, dataset := range []string{datasets.NameRegisteredUsers, datasets.NameTransactions} {
		t.Run(dataset, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			topic := fmt.Sprintf("test-publish-%s-%d", dataset, time.Now().UnixNano())
			require.NoError(t, a.EnsureTopic(ctx, topic))
			in := TickInput{WorkflowID: "wf", RunID: "run", Dataset: dataset, Tick: 2, Due: time.Now(), Interval: time.Second, Records: 7, Topic: topic}
			res, err := a.PublishTick(ctx, in)
			require.NoError(t, err)
			assert.Equal(t, TickResult{Tick: 2, Records: 7, Source: datasets.SourceFaker, Lateness: res.Lateness}, res)

			ids, values := generate(t, a, dataset, 2, 7)
			want := map[string]string{}
			for i, v := range values {
				b, err := json.Marshal(v)
				require.NoError(t, err)
				want[ids[i]] = string(b)
			}
			msgs, _ := kafkatest.ReadAll(ctx, t, brokers, topic)
			got := map[string]string{}
			for _, m := range msgs {
				got[string(m.Key)] = string(m.Value)
			}
			assert.Equal(t, want, got, "keyed by record id, the generator's records")
		})
	}
}
