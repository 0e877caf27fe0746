package streaming_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/activities"
	"github.com/streampipe/streampipe/datasets"
	"github.com/streampipe/streampipe/internal/misconfig"
	"github.com/streampipe/streampipe/internal/opshttp"
	"github.com/streampipe/streampipe/internal/testkit/stacktest"
	"github.com/streampipe/streampipe/rows"
	"github.com/streampipe/streampipe/streaming"
	"github.com/streampipe/streampipe/workflows"
)

// The seeds' own CREATE TABLE statements, as the issue gives them: the tables the
// workers create must be exactly these.
const (
	seedUserDetails5 = `CREATE TABLE %s.%s (id uuid PRIMARY KEY, name text, address text, date text)`
	seedTransactions = `CREATE TABLE %s.%s (
		transaction_id UUID PRIMARY KEY,
		account_number TEXT, account_holder TEXT, transaction_type TEXT, amount DOUBLE, currency TEXT,
		transaction_date DATE, merchant_name TEXT, merchant_category TEXT, location TEXT,
		balance_after_transaction DOUBLE,
		shipping_address TEXT, shipping_method TEXT, shipping_cost DOUBLE, estimated_delivery DATE, tracking_number TEXT,
		customer_feedback TEXT, discount_applied BOOLEAN,
		products_list TEXT, total_price_spent DOUBLE, total_quantity_bought INT)`
)

// datasetCase is one of the seed pipelines besides users.
type datasetCase struct {
	dataset rows.Mapping
	seedDDL string
	// poison is a message the dataset must dead-letter, and the reason.
	poisonKey, poisonValue, poisonReason string
	// want is the row a published message must become, by column: what a user
	// reading the table sees (dates as "2006-01-02").
	want func(t *testing.T, key string, value []byte) map[string]any
}

var datasetCases = []datasetCase{
	{
		dataset:   datasets.RegisteredUsers.Rows,
		seedDDL:   seedUserDetails5,
		poisonKey: newUUID(), poisonValue: `"Only Name$2002"`, poisonReason: rows.ReasonMalformed,
		want: func(t *testing.T, key string, value []byte) map[string]any {
			var s string
			require.NoError(t, json.Unmarshal(value, &s))
			parts := strings.Split(s, "$")
			require.Len(t, parts, 3, s)
			return map[string]any{"id": key, "name": parts[0], "address": parts[1], "date": parts[2]}
		},
	},
	{
		dataset:   datasets.Transactions.Rows,
		seedDDL:   seedTransactions,
		poisonKey: "poison-tx",
		poisonValue: fmt.Sprintf(`{"transaction_id":%q,"transaction_date":"2025-03-14",`+
			`"shipping_info":{"estimated_delivery":"2025-03-20"},"transaction_items":[{"product_name":"x","quantity":-2}]}`, newUUID()),
		poisonReason: rows.ReasonInvalidValue,
		want: func(t *testing.T, key string, value []byte) map[string]any {
			var tx datasets.Transaction
			require.NoError(t, json.Unmarshal(value, &tx))
			var names []string
			spent, quantity := 0.0, 0
			for _, it := range tx.TransactionItems {
				names = append(names, it.ProductName)
				spent += float64(it.Quantity) * it.UnitPrice
				quantity += it.Quantity
			}
			return map[string]any{
				"transaction_id": key, "account_holder": tx.AccountHolder, "amount": tx.Amount,
				"transaction_date": tx.TransactionDate, "shipping_address": tx.ShippingInfo.Address,
				"estimated_delivery": tx.ShippingInfo.EstimatedDelivery, "discount_applied": tx.DiscountApplied,
				"products_list": strings.Join(names, ","), "total_price_spent": spent, "total_quantity_bought": quantity,
			}
		},
	},
}

// startProducer runs the producer's Temporal worker, with the real activities, on a
// task queue of the test's own, and returns a client to start runs with.
func startProducer(t *testing.T) (client.Client, string) {
	t.Helper()
	return temporalWorker(t, activities.Config{KafkaBrokers: stacktest.KafkaBrokers(t), RandomUserURL: "http://127.0.0.1:1/",
		AllowedTopics: []string{"*"}}, workflows.UserAutomation) // each test its own topics
}

// Each seed pipeline on the real stack, in one streaming process: a run of N ticks
// through the Temporal worker yields exactly its records as rows, each as the seed's
// job would have written it (counted by key), and a poison message lands in the
// dataset's own dead-letter topic. The tables the workers create are the seeds'.
func TestSeedPipelinesEndToEnd(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsTemporal, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	temporal, queue := startProducer(t)
	metrics := streaming.NewMetrics(prometheus.NewRegistry())
	pipes := make([]*pipe, len(datasetCases))
	var workers []*streaming.Worker
	for i, dc := range datasetCases {
		pipes[i] = newPipe(t, 3)
		w, err := streaming.New(pipes[i].config(), dc.dataset, metrics)
		require.NoError(t, err)
		workers = append(workers, w)
	}
	group := streaming.NewGroup(workers...)
	stop := runUntilStopped(t, group.Run)
	require.Eventually(t, func() bool { return group.Ready() == nil }, time.Minute, 100*time.Millisecond,
		"every dataset consumes")

	const ticks = 3
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runs := make([]client.WorkflowRun, len(datasetCases))
	for i, dc := range datasetCases {
		var err error
		runs[i], err = temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-" + pipes[i].topic, TaskQueue: queue},
			workflows.UserAutomation, workflows.UserAutomationInput{
				Dataset: dc.dataset.Name(), Duration: fmt.Sprint(ticks, "s"), Interval: "1s", Topic: pipes[i].topic,
			})
		require.NoError(t, err)
	}
	loads := make([]*load, len(datasetCases))
	for i, dc := range datasetCases {
		var res workflows.UserAutomationResult
		require.NoError(t, runs[i].Get(ctx, &res))
		ds, _ := datasets.Lookup(dc.dataset.Name())
		assert.Equal(t, dc.dataset.Name(), res.Dataset)
		assert.Equal(t, ticks, res.Ticks)
		assert.Equal(t, ticks*ds.PerTick, res.RecordsPublished)

		p := pipes[i]
		loads[i] = newLoad()
		loads[i].invalid[dc.poisonKey], loads[i].reason[dc.poisonKey] = 1, dc.poisonReason
		p.produce([]kafka.Message{{Key: []byte(dc.poisonKey), Value: []byte(dc.poisonValue), Time: time.Now()}})
	}
	for i, dc := range datasetCases { // not subtests: the pipes fail the test that made them
		p := pipes[i]
		p.waitCaughtUp(time.Minute)
		ds, _ := datasets.Lookup(dc.dataset.Name())
		var ids []string
		for tick := range ticks {
			for j := range ds.PerTick {
				ids = append(ids, ds.RecordID(runs[i].GetID(), runs[i].GetRunID(), tick, j))
			}
		}
		published := map[string][]byte{}
		for _, m := range p.readAll(p.topic) {
			published[string(m.Key)] = m.Value
		}
		rows := p.rowsByKey(dc.dataset, ids)
		require.Len(t, rows, len(ids), "%s: rows for the run's %d record ids, counted by key", dc.dataset.Name(), len(ids))
		for _, id := range ids {
			require.Contains(t, published, id, "record %s on the topic", id)
			want := dc.want(t, id, published[id])
			got := map[string]any{}
			for col := range want {
				got[col] = rows[id][col]
			}
			assert.Equal(t, want, got, "%s row %s", dc.dataset.Name(), id)
		}
		p.checkDLQ(loads[i], true)
		p.checkSeedSchema(dc.seedDDL)
	}
	require.NoError(t, stop())
}

// One process, two datasets, one of which cannot work (its table has a column of
// another type): that one stops, says why on /healthz, and the other goes on.
func TestDatasetThatFailsStopsAlone(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	good, bad := newPipe(t, 3), newPipe(t, 1)
	require.NoError(t, bad.session.Query(fmt.Sprintf(
		"CREATE TABLE %s.%s (transaction_id uuid PRIMARY KEY, amount text)", testKeyspace, bad.table)).Exec())
	metrics := streaming.NewMetrics(prometheus.NewRegistry())
	registered, err := streaming.New(good.config(), datasets.RegisteredUsers.Rows, metrics)
	require.NoError(t, err)
	transactions, err := streaming.New(bad.config(), datasets.Transactions.Rows, metrics)
	require.NoError(t, err)
	group := streaming.NewGroup(registered, transactions)
	stop := runUntilStopped(t, group.Run)

	require.Eventually(t, func() bool {
		err := group.Ready()
		return registered.Ready() && err != nil && strings.Contains(err.Error(), "transactions: stopped")
	}, time.Minute, 100*time.Millisecond)
	assert.ErrorContains(t, group.Ready(), "column amount of "+testKeyspace+"."+bad.table+" is text in the table but double in the dataset")
	assert.Equal(t, "transactions: stopped (the log says why)", opshttp.Public(group.Ready()),
		"/healthz names the dataset and its state, not the table or the error")

	l := newLoad()
	ids := newIDs(50)
	var msgs []kafka.Message
	for i, id := range ids {
		msgs = append(msgs, kafka.Message{Key: []byte(id), Value: fmt.Appendf(nil, `"User %d$%d Main St\nTown, ST 12345$2001"`, i, i)})
	}
	l.invalid["not-a-uuid"], l.reason["not-a-uuid"] = 1, rows.ReasonInvalidID
	msgs = append(msgs, kafka.Message{Key: []byte("not-a-uuid"), Value: []byte(`"a$b$c"`)})
	good.produce(msgs)
	good.waitCaughtUp(time.Minute)
	assert.Len(t, good.rowsByKey(datasets.RegisteredUsers.Rows, ids), len(ids))
	good.checkDLQ(l, true)

	err = stop()
	assert.ErrorContains(t, err, "dataset transactions: ")
	assert.NotContains(t, err.Error(), "registered_users")
}

// rowsByKey reads the rows of ds's table whose partition key is one of keys, as
// column → value; dates as "2006-01-02", UUIDs as strings.
func (p *pipe) rowsByKey(ds rows.Mapping, keys []string) map[string]map[string]any {
	p.t.Helper()
	key := ds.Columns()[0].Name
	rows := map[string]map[string]any{}
	for i := 0; i < len(keys); i += 100 {
		chunk := keys[i:min(i+100, len(keys))]
		args := make([]any, len(chunk))
		for j, k := range chunk {
			args[j] = k
		}
		iter := p.session.Query(fmt.Sprintf("SELECT * FROM %s.%s WHERE %s IN (%s)", testKeyspace, p.table, key,
			strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")), args...).Iter()
		for {
			row := map[string]any{}
			if !iter.MapScan(row) {
				break
			}
			for col, v := range row {
				switch v := v.(type) {
				case time.Time:
					row[col] = v.UTC().Format(time.DateOnly)
				case gocql.UUID:
					row[col] = v.String()
				case float64:
					if math.IsNaN(v) {
						p.t.Errorf("column %s is NaN", col)
					}
				}
			}
			rows[row[key].(string)] = row
		}
		require.NoError(p.t, iter.Close())
	}
	return rows
}

// checkSeedSchema creates a table with the seed's CREATE TABLE (ddl, with the
// keyspace and table left as %s) and checks that the table the worker made has the
// very same columns, types and key.
func (p *pipe) checkSeedSchema(ddl string) {
	p.t.Helper()
	seed := p.table + "_seed"
	require.NoError(p.t, p.session.Query(fmt.Sprintf(ddl, testKeyspace, seed)).Exec())
	p.t.Cleanup(func() { _ = p.session.Query("DROP TABLE IF EXISTS " + testKeyspace + "." + seed).Exec() })
	assert.Equal(p.t, p.columns(seed), p.columns(p.table), "the worker's table %s against the seed's", p.table)
}

// columns describes a table of the test keyspace: "name type kind" per column.
func (p *pipe) columns(table string) []string {
	p.t.Helper()
	iter := p.session.Query("SELECT column_name, type, kind FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
		testKeyspace, table).Iter()
	var cols []string
	var name, typ, kind string
	for iter.Scan(&name, &typ, &kind) {
		cols = append(cols, name+" "+typ+" "+kind)
	}
	require.NoError(p.t, iter.Close())
	require.NotEmpty(p.t, cols, "table %s.%s", testKeyspace, table)
	return cols
}

// A dataset stopped by a misconfiguration says it on /healthz, in the words of its
// diagnosis without addresses or users (docs/configuration.md, Misconfigurations).
func TestMisconfiguredDatasetSaysWhyOnHealthz(t *testing.T) {
	stacktest.Needs(t, stacktest.NeedsKafka, stacktest.NeedsCassandra)
	p := newPipe(t, 1)
	cfg := p.config()
	cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12} // the stack's Cassandra is plaintext
	cfg.HostsFrom = "CASSANDRA_HOSTS"                   // as the program names them
	w, err := streaming.New(cfg, datasets.Users.Rows, streaming.NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	group := streaming.NewGroup(w)
	err = group.Run(t.Context())
	require.True(t, misconfig.Is(err), "a misconfiguration: %v", err)
	assert.Equal(t, "users: stopped: cassandra (CASSANDRA_HOSTS) does not speak TLS on that port: unset CASSANDRA_TLS, "+
		"or point CASSANDRA_HOSTS at the cluster's TLS port", opshttp.Public(group.Ready()))
}
