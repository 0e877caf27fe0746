package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/streampipe/streampipe/internal/kafkatest"
	"github.com/streampipe/streampipe/internal/stacktest"
	"github.com/streampipe/streampipe/record"
)

func TestLookupDataset(t *testing.T) {
	tests := []struct {
		name, want, topic string
		interval          time.Duration
		perTick           int
	}{
		{"", DatasetUsers, "users_created", time.Second, 1},
		{DatasetUsers, DatasetUsers, "users_created", time.Second, 1},
		{DatasetRegisteredUsers, DatasetRegisteredUsers, "registered_user_2", time.Second, 1},
		{DatasetTransactions, DatasetTransactions, "incoming_finance_data", 5 * time.Second, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, ok := LookupDataset(tt.name)
			require.True(t, ok)
			assert.Equal(t, tt.want, ds.Name)
			assert.Equal(t, tt.topic, ds.Topic)
			assert.Equal(t, tt.interval, ds.Interval)
			assert.Equal(t, tt.perTick, ds.PerTick)
		})
	}
	_, ok := LookupDataset("orders")
	assert.False(t, ok)
	for _, name := range DatasetNames() {
		_, ok := LookupDataset(name)
		assert.True(t, ok, name)
	}
}

func TestRecordIDsAreTheDatasets(t *testing.T) {
	seen := map[string]string{}
	for _, name := range DatasetNames() {
		ds, _ := LookupDataset(name)
		id := ds.RecordID("wf", "run", 1, 2)
		assert.Equal(t, id, ds.RecordID("wf", "run", 1, 2), "same names, same id")
		assert.NotContains(t, seen, id, "%s shares an id with %s", name, seen[id])
		seen[id] = name
	}
	users, _ := LookupDataset(DatasetUsers)
	assert.Equal(t, UserID("wf", "run", 1, 2), users.RecordID("wf", "run", 1, 2))
}

// generate runs a dataset's generator for a tick of n records.
func generate(t *testing.T, dataset string, tick, n int) (ids []string, values []any) {
	t.Helper()
	ds, ok := LookupDataset(dataset)
	require.True(t, ok)
	in := TickInput{WorkflowID: "wf", RunID: "run", Dataset: dataset, Tick: tick, Users: n}
	ids = make([]string, n)
	for i := range ids {
		ids[i] = ds.RecordID(in.WorkflowID, in.RunID, tick, i)
	}
	values, source, fallback := ds.generate(nil, context.Background(), in, ids)
	require.NoError(t, fallback)
	assert.Equal(t, SourceFaker, source)
	require.Len(t, values, n)
	return ids, values
}

func TestFakerDatasetsAreSeededByTick(t *testing.T) {
	for _, dataset := range []string{DatasetRegisteredUsers, DatasetTransactions} {
		t.Run(dataset, func(t *testing.T) {
			_, first := generate(t, dataset, 3, 20)
			_, again := generate(t, dataset, 3, 20)
			assert.Equal(t, first, again, "a tick sent again carries the same records")
			_, next := generate(t, dataset, 4, 20)
			assert.NotEqual(t, first, next, "another tick draws other records")
		})
	}
}

func TestRegisteredUsersAreTheSeedsString(t *testing.T) {
	_, values := generate(t, DatasetRegisteredUsers, 0, 200)
	for _, v := range values {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(b), `"`), "the value is a JSON string: %s", b)
		var s string
		require.NoError(t, json.Unmarshal(b, &s))
		u, err := record.ParseRegisteredUser(s)
		require.NoError(t, err, s)
		assert.Regexp(t, `^[^\n$]+ [^\n$]+$`, u.Name)
		assert.Regexp(t, `^[^\n$]+\n[^\n$]+, [A-Z]{2} \d{5}$`, u.Address, "two lines, as faker's addresses")
		assert.Regexp(t, `^(19[7-9]\d|20[0-2]\d)$`, u.Year)
	}
}

func TestTransactionsHaveTheSeedsShape(t *testing.T) {
	ids, values := generate(t, DatasetTransactions, 0, 200)
	items := map[int]int{}
	for i, v := range values {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		var fields map[string]any
		require.NoError(t, json.Unmarshal(b, &fields))
		for _, f := range []string{"transaction_id", "account_number", "account_holder", "transaction_type",
			"amount", "currency", "transaction_date", "merchant_name", "merchant_category", "location",
			"balance_after_transaction", "shipping_info", "customer_feedback", "discount_applied", "transaction_items"} {
			assert.Contains(t, fields, f)
		}
		tx := v.(record.Transaction)
		assert.Equal(t, ids[i], tx.TransactionID)
		for _, s := range []string{tx.AccountNumber, tx.AccountHolder, tx.TransactionType, tx.Currency, tx.MerchantName,
			tx.MerchantCategory, tx.Location, tx.ShippingInfo.Address, tx.ShippingInfo.Method,
			tx.ShippingInfo.TrackingNumber, tx.CustomerFeedback} {
			assert.NotEmpty(t, s)
		}
		date, err := time.Parse(record.DateLayout, tx.TransactionDate)
		require.NoError(t, err)
		delivery, err := time.Parse(record.DateLayout, tx.ShippingInfo.EstimatedDelivery)
		require.NoError(t, err)
		assert.True(t, delivery.After(date), "delivery %s after the transaction %s", delivery, date)
		assert.Positive(t, tx.Amount)
		items[len(tx.TransactionItems)]++
		for _, it := range tx.TransactionItems {
			assert.NotEmpty(t, it.ProductName)
			assert.Positive(t, it.Quantity)
			assert.Positive(t, it.UnitPrice)
			assert.Equal(t, math.Round(it.UnitPrice*100)/100, it.UnitPrice, "whole cents")
		}
	}
	for n := 1; n <= 5; n++ {
		assert.Positive(t, items[n], "transactions with %d items among 200", n)
	}
	assert.Len(t, items, 5, "1 to 5 items: %v", items)
}

func TestPublishTickOfUnknownDatasetFailsForGood(t *testing.T) {
	a := New(Config{KafkaBrokers: []string{"127.0.0.1:1"}}, discardLogger())
	t.Cleanup(func() { _ = a.Close() })
	_, err := a.PublishTick(context.Background(), TickInput{Dataset: "orders", Users: 1, Topic: "t"})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), `unknown dataset "orders"`)
}

func TestPublishFakerDatasetsToKafka(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	a := New(Config{KafkaBrokers: brokers}, discardLogger())
	t.Cleanup(func() { _ = a.Close() })
	for _, dataset := range []string{DatasetRegisteredUsers, DatasetTransactions} {
		t.Run(dataset, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			topic := fmt.Sprintf("test-publish-%s-%d", dataset, time.Now().UnixNano())
			require.NoError(t, a.EnsureTopic(ctx, topic))
			in := TickInput{WorkflowID: "wf", RunID: "run", Dataset: dataset, Tick: 2, Due: time.Now(), Interval: time.Second, Users: 7, Topic: topic}
			res, err := a.PublishTick(ctx, in)
			require.NoError(t, err)
			assert.Equal(t, TickResult{Tick: 2, Users: 7, Source: SourceFaker, Lateness: res.Lateness}, res)

			ids, values := generate(t, dataset, 2, 7)
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
