package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name, want, topic, dlq, keyspace, table, records, key string
		interval                                              time.Duration
		perTick                                               int
	}{
		{"", NameUsers, "users_created", "users_created.dlq", "spark_streaming", "created_users", "users", "id", time.Second, 1},
		{NameUsers, NameUsers, "users_created", "users_created.dlq", "spark_streaming", "created_users", "users", "id", time.Second, 1},
		{NameRegisteredUsers, NameRegisteredUsers, "registered_user_2", "registered_user_2.dlq", "my_keyspace", "user_details_5",
			"registered users", "id", time.Second, 1},
		{NameTransactions, NameTransactions, "incoming_finance_data", "incoming_finance_data.dlq", "finance", "transactions",
			"transactions", "transaction_id", 5 * time.Second, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, ok := Lookup(tt.name)
			require.True(t, ok)
			assert.Equal(t, tt.want, ds.Name)
			assert.Equal(t, tt.want, ds.Rows.Name(), "the row mapping is the dataset's")
			assert.Equal(t, tt.topic, ds.Topic)
			assert.Equal(t, tt.dlq, ds.DeadLetterTopic())
			assert.Equal(t, tt.keyspace, ds.Keyspace)
			assert.Equal(t, tt.table, ds.Table)
			assert.Equal(t, tt.records, ds.RecordsNoun())
			assert.Equal(t, tt.key, ds.KeyColumn())
			assert.Equal(t, tt.interval, ds.Interval)
			assert.Equal(t, tt.perTick, ds.PerTick)
			assert.NotNil(t, ds.Generate)
		})
	}
	_, ok := Lookup("orders")
	assert.False(t, ok)
	assert.EqualError(t, UnknownError("orders"), `unknown dataset "orders": want one of users, registered_users, transactions`)
	assert.Equal(t, []string{NameUsers, NameRegisteredUsers, NameTransactions}, Names())
	for _, name := range Names() {
		_, ok := Lookup(name)
		assert.True(t, ok, name)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	assert.Panics(t, func() { register(Dataset{Name: NameUsers}) })
	assert.Panics(t, func() { register(Dataset{}) })
}

func TestRecordIDsAreTheDatasets(t *testing.T) {
	seen := map[string]string{}
	for _, name := range Names() {
		ds, _ := Lookup(name)
		id := ds.RecordID("wf", "run", 1, 2)
		assert.Equal(t, id, ds.RecordID("wf", "run", 1, 2), "same names, same id")
		assert.NotContains(t, seen, id, "%s shares an id with %s", name, seen[id])
		seen[id] = name
		// The namespaces the ids had before this package existed: runs in flight keep
		// their ids.
		space := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/streampipe/streampipe/"+name))
		assert.Equal(t, uuid.NewSHA1(space, []byte(`"wf" "run" 1 2`)).String(), id)
	}
}

func TestUserID(t *testing.T) {
	id := Users.RecordID("wf", "run", 1, 2)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)
	others := []string{
		Users.RecordID("wf", "run", 1, 3), Users.RecordID("wf", "run", 2, 2),
		Users.RecordID("wf", "run2", 1, 2), Users.RecordID("wf2", "run", 1, 2),
		Users.RecordID("wf run", "", 1, 2), // names are quoted, so joining them cannot collide
	}
	for _, other := range others {
		assert.NotEqual(t, id, other)
	}
}

func TestSeeds(t *testing.T) {
	text, number := Tick{WorkflowID: "wf", RunID: "run", Tick: 3}.Seeds()
	// The seeds of ticks in flight when this package was made: the same records.
	assert.Equal(t, "dd0d3220c8382ddf", text)
	assert.Equal(t, int64(7964221286729389807), number)
}

// generate runs a faker dataset's generator for a tick of n records.
func generate(t *testing.T, dataset string, tick, n int) (ids []string, values []any) {
	t.Helper()
	ds, ok := Lookup(dataset)
	require.True(t, ok)
	ids = make([]string, n)
	for i := range ids {
		ids[i] = ds.RecordID("wf", "run", tick, i)
	}
	values, source, fallback := ds.Generate(context.Background(), nil, Tick{WorkflowID: "wf", RunID: "run", Tick: tick}, ids)
	require.NoError(t, fallback)
	assert.Equal(t, SourceFaker, source)
	require.Len(t, values, n)
	return ids, values
}

func TestFakerDatasetsAreSeededByTick(t *testing.T) {
	for _, dataset := range []string{NameRegisteredUsers, NameTransactions} {
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
	_, values := generate(t, NameRegisteredUsers, 0, 200)
	for _, v := range values {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(b), `"`), "the value is a JSON string: %s", b)
		var s string
		require.NoError(t, json.Unmarshal(b, &s))
		u, err := ParseRegisteredUser(s)
		require.NoError(t, err, s)
		assert.Regexp(t, `^[^\n$]+ [^\n$]+$`, u.Name)
		assert.Regexp(t, `^[^\n$]+\n[^\n$]+, [A-Z]{2} \d{5}$`, u.Address, "two lines, as faker's addresses")
		assert.Regexp(t, `^(19[7-9]\d|20[0-2]\d)$`, u.Year)
	}
}

func TestTransactionsHaveTheSeedsShape(t *testing.T) {
	ids, values := generate(t, NameTransactions, 0, 200)
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
		tx := v.(Transaction)
		assert.Equal(t, ids[i], tx.TransactionID)
		for _, s := range []string{tx.AccountNumber, tx.AccountHolder, tx.TransactionType, tx.Currency, tx.MerchantName,
			tx.MerchantCategory, tx.Location, tx.ShippingInfo.Address, tx.ShippingInfo.Method,
			tx.ShippingInfo.TrackingNumber, tx.CustomerFeedback} {
			assert.NotEmpty(t, s)
		}
		date, err := time.Parse(DateLayout, tx.TransactionDate)
		require.NoError(t, err)
		delivery, err := time.Parse(DateLayout, tx.ShippingInfo.EstimatedDelivery)
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

// TestRecordsAreTheOnesBefore pins a tick's ids and records, as JSON, to what the
// producer made before datasets had a package of their own: the same bytes.
func TestRecordsAreTheOnesBefore(t *testing.T) {
	for name, want := range map[string]string{
		NameRegisteredUsers: "c0e25f54ba106ef1b87570ff2a03fa22780877dd40277701bdfcbe22ae84a275",
		NameTransactions:    "53eea6f25008b610b17c344203199fa7bcb6fbdf38e1f4665c1f36d6e09bec38",
	} {
		ids, values := generate(t, name, 5, 10)
		h := sha256.New()
		for i, v := range values {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			fmt.Fprintf(h, "%s %s\n", ids[i], b)
		}
		assert.Equal(t, want, hex.EncodeToString(h.Sum(nil)), name)
	}
}
