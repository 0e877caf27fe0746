package record

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
