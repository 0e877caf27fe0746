package datasets

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v6"

	"github.com/streampipe/streampipe/rows"
)

// NameTransactions names the transactions dataset.
const NameTransactions = "transactions"

// Transactions are the seed's finance producer: ten nested transactions
// (Transaction) every five seconds, flattened into finance.transactions
// (transactionRows).
var Transactions = register(Dataset{
	Name:     NameTransactions,
	Topic:    "incoming_finance_data",
	Keyspace: "finance",
	Table:    "transactions",
	Rows:     transactionRows{},
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
	t := Transaction{
		TransactionID:   id,
		AccountNumber:   f.AchAccount(),
		AccountHolder:   f.Name(),
		TransactionType: f.RandomString([]string{"deposit", "withdrawal", "transfer", "payment", "purchase"}),
		Amount:          cents(f.Float64Range(1, 5000)),
		Currency:        f.CurrencyShort(),
		TransactionDate: date.Format(DateLayout),
		MerchantName:    f.Company(),
		MerchantCategory: f.RandomString([]string{"groceries", "electronics", "travel", "restaurants",
			"clothing", "utilities", "health", "entertainment"}),
		Location:                f.City(),
		BalanceAfterTransaction: cents(f.Float64Range(0, 100_000)),
		ShippingInfo: ShippingInfo{
			Address:           fakeAddress(f),
			Method:            f.RandomString([]string{"standard", "express", "overnight"}),
			Cost:              cents(f.Float64Range(0, 50)),
			EstimatedDelivery: date.AddDate(0, 0, f.Number(1, 14)).Format(DateLayout),
			TrackingNumber:    f.Numerify("TRK##########"),
		},
		CustomerFeedback: f.Sentence(8),
		DiscountApplied:  f.Bool(),
	}
	t.TransactionItems = make([]Item, f.Number(1, 5))
	for i := range t.TransactionItems {
		t.TransactionItems[i] = Item{
			ProductName: f.ProductName(),
			Quantity:    f.Number(1, 10),
			UnitPrice:   cents(f.Float64Range(1, 500)),
		}
	}
	return t
}

// cents rounds an amount of money to two decimals.
func cents(x float64) float64 { return math.Round(x*100) / 100 }

// transactionRows is the row mapping of incoming_finance_data: a Transaction as JSON,
// flattened into the seed's finance.transactions keyed by its transaction_id.
//
// The row is the transaction's scalar fields, shipping_info's fields as shipping_*
// columns (estimated_delivery and tracking_number keep their names), and three
// aggregates over transaction_items, computed from the record alone so that a
// replayed record writes the very same row:
//   - products_list: the items' product names in the record's order, joined by ","
//   - total_price_spent: Σ quantity × unit_price, summed in float64 in that order
//   - total_quantity_bought: Σ quantity
//
// A transaction without items has an empty list and zero totals.
type transactionRows struct{}

var _ rows.Mapping = transactionRows{}

// Name returns NameTransactions.
func (transactionRows) Name() string { return NameTransactions }

// Columns returns the seed's transactions columns.
func (transactionRows) Columns() []rows.Column {
	return []rows.Column{
		{Name: "transaction_id", Type: "uuid"},
		{Name: "account_number", Type: "text"},
		{Name: "account_holder", Type: "text"},
		{Name: "transaction_type", Type: "text"},
		{Name: "amount", Type: "double"},
		{Name: "currency", Type: "text"},
		{Name: "transaction_date", Type: "date"},
		{Name: "merchant_name", Type: "text"},
		{Name: "merchant_category", Type: "text"},
		{Name: "location", Type: "text"},
		{Name: "balance_after_transaction", Type: "double"},
		{Name: "shipping_address", Type: "text"},
		{Name: "shipping_method", Type: "text"},
		{Name: "shipping_cost", Type: "double"},
		{Name: "estimated_delivery", Type: "date"},
		{Name: "tracking_number", Type: "text"},
		{Name: "customer_feedback", Type: "text"},
		{Name: "discount_applied", Type: "boolean"},
		{Name: "products_list", Type: "text"},
		{Name: "total_price_spent", Type: "double"},
		{Name: "total_quantity_bought", Type: "int"},
	}
}

// PrimaryKey returns "transaction_id".
func (transactionRows) PrimaryKey() string { return "transaction_id" }

// Decode parses a Transaction, checks its id, dates and quantities, and
// flattens it. Text fields that are absent are written as empty strings, numbers as
// 0 and discount_applied as false; the two dates are required.
func (transactionRows) Decode(_, value []byte) (rows.Row, error) {
	var t Transaction
	if err := json.Unmarshal(value, &t); err != nil {
		return rows.Row{}, jsonError(err, "an object")
	}
	if t.TransactionID == "" {
		return rows.Row{}, rows.Invalid(rows.ReasonMissingID, "no transaction_id")
	}
	id, err := parseUUID(t.TransactionID)
	if err != nil {
		return rows.Row{}, err
	}
	date, err := parseDate("transaction_date", t.TransactionDate)
	if err != nil {
		return rows.Row{}, err
	}
	delivery, err := parseDate("shipping_info.estimated_delivery", t.ShippingInfo.EstimatedDelivery)
	if err != nil {
		return rows.Row{}, err
	}
	names := make([]string, len(t.TransactionItems))
	var spent float64
	var quantity int64
	for i, it := range t.TransactionItems {
		if it.Quantity < 0 || it.Quantity > math.MaxInt32 {
			return rows.Row{}, rows.Invalid(rows.ReasonInvalidValue, "transaction_items[%d].quantity is %d, want 0 to %d", i, it.Quantity, math.MaxInt32)
		}
		names[i] = it.ProductName
		spent += float64(it.Quantity) * it.UnitPrice
		quantity += int64(it.Quantity)
	}
	if quantity > math.MaxInt32 {
		return rows.Row{}, rows.Invalid(rows.ReasonInvalidValue, "the items' quantities add up to %d, more than an int column holds", quantity)
	}
	s := t.ShippingInfo
	return rows.Row{Values: []any{
		id, t.AccountNumber, t.AccountHolder, t.TransactionType, t.Amount, t.Currency, date,
		t.MerchantName, t.MerchantCategory, t.Location, t.BalanceAfterTransaction,
		s.Address, s.Method, s.Cost, delivery, s.TrackingNumber,
		t.CustomerFeedback, t.DiscountApplied, strings.Join(names, ","), spent, int32(quantity),
	}}, nil
}

// parseDate reads a DateLayout date and returns it the way gocql binds a date
// column: Unix milliseconds of its midnight UTC. (A time.Time of 0001-01-01 would be
// taken for "no value" and rejected by Cassandra.)
func parseDate(field, s string) (int64, error) {
	if s == "" {
		return 0, rows.Invalid(rows.ReasonInvalidValue, "no %s", field)
	}
	d, err := time.Parse(DateLayout, s)
	if err != nil {
		return 0, rows.Invalid(rows.ReasonInvalidValue, "%s %q is not a date like 2026-01-31", field, clip(s))
	}
	return d.UnixMilli(), nil
}

// DateLayout is how a Transaction writes its dates (transaction_date and
// shipping_info.estimated_delivery): ISO 8601 calendar dates, as the seed's
// Structured Streaming job parsed them ("yyyy-MM-dd").
const DateLayout = "2006-01-02"

// Transaction is the value of an incoming_finance_data message: one finance
// transaction with its shipping and its items, serialized as JSON. The Kafka key is
// TransactionID.
type Transaction struct {
	TransactionID           string       `json:"transaction_id"` // UUID string
	AccountNumber           string       `json:"account_number"`
	AccountHolder           string       `json:"account_holder"`
	TransactionType         string       `json:"transaction_type"` // deposit, withdrawal, transfer, payment, purchase
	Amount                  float64      `json:"amount"`
	Currency                string       `json:"currency"`         // ISO 4217 code
	TransactionDate         string       `json:"transaction_date"` // DateLayout
	MerchantName            string       `json:"merchant_name"`
	MerchantCategory        string       `json:"merchant_category"`
	Location                string       `json:"location"`
	BalanceAfterTransaction float64      `json:"balance_after_transaction"`
	ShippingInfo            ShippingInfo `json:"shipping_info"`
	CustomerFeedback        string       `json:"customer_feedback"`
	DiscountApplied         bool         `json:"discount_applied"`
	TransactionItems        []Item       `json:"transaction_items"` // 1 to 5
}

// ShippingInfo is how a transaction's goods travel.
type ShippingInfo struct {
	Address           string  `json:"address"`
	Method            string  `json:"method"` // standard, express, overnight
	Cost              float64 `json:"cost"`
	EstimatedDelivery string  `json:"estimated_delivery"` // DateLayout
	TrackingNumber    string  `json:"tracking_number"`
}

// Item is one line of a transaction.
type Item struct {
	ProductName string  `json:"product_name"`
	Quantity    int     `json:"quantity"` // never negative
	UnitPrice   float64 `json:"unit_price"`
}
