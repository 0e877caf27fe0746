package streaming

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/streampipe/streampipe/record"
	"github.com/streampipe/streampipe/rows"
)

// Transactions is the dataset of incoming_finance_data: a record.Transaction as JSON,
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
type Transactions struct{}

var _ rows.Mapping = Transactions{}

// Name returns "transactions".
func (Transactions) Name() string { return "transactions" }

// Columns returns the seed's transactions columns.
func (Transactions) Columns() []rows.Column {
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
func (Transactions) PrimaryKey() string { return "transaction_id" }

// Decode parses a record.Transaction, checks its id, dates and quantities, and
// flattens it. Text fields that are absent are written as empty strings, numbers as
// 0 and discount_applied as false; the two dates are required.
func (Transactions) Decode(_, value []byte) (rows.Row, error) {
	var t record.Transaction
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

// parseDate reads a record.DateLayout date and returns it the way gocql binds a date
// column: Unix milliseconds of its midnight UTC. (A time.Time of 0001-01-01 would be
// taken for "no value" and rejected by Cassandra.)
func parseDate(field, s string) (int64, error) {
	if s == "" {
		return 0, rows.Invalid(rows.ReasonInvalidValue, "no %s", field)
	}
	d, err := time.Parse(record.DateLayout, s)
	if err != nil {
		return 0, rows.Invalid(rows.ReasonInvalidValue, "%s %q is not a date like 2026-01-31", field, clip(s))
	}
	return d.UnixMilli(), nil
}
