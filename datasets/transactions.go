package datasets

import (
	"context"
	"math"
	"time"

	"github.com/brianvoe/gofakeit/v6"

	"github.com/streampipe/streampipe/record"
	"github.com/streampipe/streampipe/streaming"
)

// Transactions are the seed's finance producer: ten nested transactions
// (record.Transaction) every five seconds, flattened into finance.transactions
// (streaming.Transactions).
var Transactions = register(Dataset{
	Name:     NameTransactions,
	Topic:    "incoming_finance_data",
	Keyspace: "finance",
	Table:    "transactions",
	Rows:     streaming.Transactions{},
	Interval: 5 * time.Second,
	PerTick:  10,
	Generate: transactions,
})

// transactions is the generator of transactions.
func transactions(_ context.Context, _ Sources, t Tick, ids []string) ([]any, string, error) {
	return faked(t, ids, fakeTransaction), SourceFaker, nil
}

// The faker draws transaction dates from a fixed range, so that a seed always gives
// the same transactions.
var (
	transactionFrom = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	transactionTo   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// fakeTransaction is the seed's finance producer: one transaction with id as its
// transaction_id, its shipping and one to five items.
func fakeTransaction(f *gofakeit.Faker, id string) any {
	date := f.DateRange(transactionFrom, transactionTo).UTC()
	t := record.Transaction{
		TransactionID:   id,
		AccountNumber:   f.AchAccount(),
		AccountHolder:   f.Name(),
		TransactionType: f.RandomString([]string{"deposit", "withdrawal", "transfer", "payment", "purchase"}),
		Amount:          cents(f.Float64Range(1, 5000)),
		Currency:        f.CurrencyShort(),
		TransactionDate: date.Format(record.DateLayout),
		MerchantName:    f.Company(),
		MerchantCategory: f.RandomString([]string{"groceries", "electronics", "travel", "restaurants",
			"clothing", "utilities", "health", "entertainment"}),
		Location:                f.City(),
		BalanceAfterTransaction: cents(f.Float64Range(0, 100_000)),
		ShippingInfo: record.ShippingInfo{
			Address:           fakeAddress(f),
			Method:            f.RandomString([]string{"standard", "express", "overnight"}),
			Cost:              cents(f.Float64Range(0, 50)),
			EstimatedDelivery: date.AddDate(0, 0, f.Number(1, 14)).Format(record.DateLayout),
			TrackingNumber:    f.Numerify("TRK##########"),
		},
		CustomerFeedback: f.Sentence(8),
		DiscountApplied:  f.Bool(),
	}
	t.TransactionItems = make([]record.Item, f.Number(1, 5))
	for i := range t.TransactionItems {
		t.TransactionItems[i] = record.Item{
			ProductName: f.ProductName(),
			Quantity:    f.Number(1, 10),
			UnitPrice:   cents(f.Float64Range(1, 500)),
		}
	}
	return t
}

// cents rounds an amount of money to two decimals.
func cents(x float64) float64 { return math.Round(x*100) / 100 }
