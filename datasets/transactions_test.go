package datasets

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"

	"github.com/streampipe/streampipe/rows"
)

const validTransaction = `{"transaction_id":"7d3f6b2a-1c4e-5f8a-9b0c-2d4e6f8a0b1c","account_number":"871206375302",` +
	`"account_holder":"Ada Lovelace","transaction_type":"purchase","amount":142.5,"currency":"EUR",` +
	`"transaction_date":"2025-03-14","merchant_name":"Babbage Ltd","merchant_category":"electronics",` +
	`"location":"London","balance_after_transaction":1857.25,` +
	`"shipping_info":{"address":"12 Ockham Road\nLondon, GL 12345","method":"express","cost":7.99,` +
	`"estimated_delivery":"2025-03-17","tracking_number":"TRK0123456789"},` +
	`"customer_feedback":"Fast and careful.","discount_applied":true,` +
	`"transaction_items":[{"product_name":"Gear","quantity":3,"unit_price":10.25},` +
	`{"product_name":"Punch card","quantity":10,"unit_price":0.5},{"product_name":"Crank","quantity":1,"unit_price":99}]}`

// withField returns validTransaction with the JSON text old replaced by new.
func withField(old, new string) string {
	if !strings.Contains(validTransaction, old) {
		panic("validTransaction has no " + old)
	}
	return strings.Replace(validTransaction, old, new, 1)
}

func TestTransactionsDecode(t *testing.T) {
	rows := checkDecode(t, transactionRows{}, []decodeCase{
		{"valid", "", validTransaction, ""},
		{"no items", "", withField(`"transaction_items":[`, `"transaction_items":[],"x":[`), ""},
		{"zero quantity", "", withField(`"quantity":3`, `"quantity":0`), ""},
		{"extra fields", "", withField(`"currency"`, `"extra":{"a":[1]},"currency"`), ""},
		{"not json", "", `transaction_id=1`, rows.ReasonNotJSON},
		{"truncated", "", validTransaction[:60], rows.ReasonNotJSON},
		{"array", "", `[]`, rows.ReasonWrongType},
		{"no id", "", `{"transaction_date":"2025-03-14"}`, rows.ReasonMissingID},
		{"id not a uuid", "", withField(`"7d3f6b2a-1c4e-5f8a-9b0c-2d4e6f8a0b1c"`, `"T-1001"`), rows.ReasonInvalidID},
		{"id a number", "", withField(`"7d3f6b2a-1c4e-5f8a-9b0c-2d4e6f8a0b1c"`, `1001`), rows.ReasonWrongType},
		{"amount a string", "", withField(`"amount":142.5`, `"amount":"142.50"`), rows.ReasonWrongType},
		{"discount a string", "", withField(`"discount_applied":true`, `"discount_applied":"yes"`), rows.ReasonWrongType},
		{"quantity a fraction", "", withField(`"quantity":3`, `"quantity":2.5`), rows.ReasonWrongType},
		{"items an object", "", withField(`"transaction_items":[`, `"transaction_items":{},"x":[`), rows.ReasonWrongType},
		{"shipping a string", "", withField(`"shipping_info":{`, `"shipping_info":"post","x":{`), rows.ReasonWrongType},
		{"negative quantity", "", withField(`"quantity":10`, `"quantity":-10`), rows.ReasonInvalidValue},
		{"quantities beyond an int", "", withField(`"quantity":3`, `"quantity":2147483647`), rows.ReasonInvalidValue},
		{"date unparseable", "", withField(`"2025-03-14"`, `"14/03/2025"`), rows.ReasonInvalidValue},
		{"date a timestamp", "", withField(`"2025-03-14"`, `"2025-03-14T10:00:00Z"`), rows.ReasonInvalidValue},
		{"date impossible", "", withField(`"2025-03-14"`, `"2025-02-30"`), rows.ReasonInvalidValue},
		{"no date", "", withField(`"transaction_date":"2025-03-14",`, ``), rows.ReasonInvalidValue},
		{"delivery unparseable", "", withField(`"2025-03-17"`, `"soon"`), rows.ReasonInvalidValue},
	})
	id := [16]byte(uuid.MustParse("7d3f6b2a-1c4e-5f8a-9b0c-2d4e6f8a0b1c"))
	day := func(s string) int64 { d, _ := time.Parse(time.DateOnly, s); return d.UnixMilli() }
	assertRow(t, transactionRows{}, map[string]any{
		"transaction_id": id, "account_number": "871206375302", "account_holder": "Ada Lovelace",
		"transaction_type": "purchase", "amount": 142.5, "currency": "EUR", "transaction_date": day("2025-03-14"),
		"merchant_name": "Babbage Ltd", "merchant_category": "electronics", "location": "London",
		"balance_after_transaction": 1857.25, "shipping_address": "12 Ockham Road\nLondon, GL 12345",
		"shipping_method": "express", "shipping_cost": 7.99, "estimated_delivery": day("2025-03-17"),
		"tracking_number": "TRK0123456789", "customer_feedback": "Fast and careful.", "discount_applied": true,
		"products_list":     "Gear,Punch card,Crank",
		"total_price_spent": 3*10.25 + 10*0.5 + 1*99.0, "total_quantity_bought": int32(14),
	}, rows["valid"])

	for col, want := range map[string]any{"products_list": "", "total_price_spent": 0.0, "total_quantity_bought": int32(0)} {
		assert.Equal(t, want, columnValue(t, transactionRows{}, rows["no items"], col), "no items: %s", col)
	}
}

func FuzzTransactionsDecode(f *testing.F) {
	var seeds [][2]string
	for _, s := range []string{
		validTransaction, `{}`, `[]`, `null`, `{"transaction_id":"x"}`,
		withField(`"quantity":3`, `"quantity":-1`), withField(`"quantity":3`, `"quantity":1e30`),
		withField(`"2025-03-14"`, `"0001-01-01"`), withField(`"amount":142.5`, `"amount":1e308`),
		withField(`"transaction_items":[`, `"transaction_items":null,"x":[`),
	} {
		seeds = append(seeds, [2]string{"", s})
	}
	fuzzDecode(f, transactionRows{}, seeds)
}
