package activities

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v6"

	"github.com/streampipe/streampipe/record"
)

// The faker draws dates from fixed ranges so that a seed always gives the same users.
var (
	dobFrom        = time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC)
	dobTo          = time.Date(2006, 1, 1, 0, 0, 0, 0, time.UTC)
	registeredFrom = time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC)
	registeredTo   = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

// apiTime is how randomuser.me writes dates: RFC 3339, milliseconds, UTC.
const apiTime = "2006-01-02T15:04:05.000Z"

// fakeUsers makes n users in randomuser.me's shape from a seeded gofakeit, so that the
// same seed gives the same users.
func fakeUsers(seed int64, n int) []apiUser {
	f := gofakeit.New(seed)
	users := make([]apiUser, n)
	for i := range users {
		u := &users[i]
		u.Gender = f.RandomString([]string{"male", "female"})
		u.Name.First = f.FirstName()
		u.Name.Last = f.LastName()
		u.Location.Street.Number = flexString(fmt.Sprint(f.Number(1, 9999)))
		u.Location.Street.Name = f.StreetName() + " " + f.StreetSuffix()
		u.Location.City = f.City()
		u.Location.State = f.State()
		u.Location.Country = f.Country()
		u.Location.Postcode = flexString(f.Zip())
		u.Email = strings.ToLower(u.Name.First + "." + u.Name.Last + "@example.com")
		u.Login.Username = strings.ToLower(f.Username())
		u.DOB.Date = f.DateRange(dobFrom, dobTo).UTC().Format(apiTime)
		u.Registered.Date = f.DateRange(registeredFrom, registeredTo).UTC().Format(apiTime)
		u.Phone = f.Phone()
		folder := "women"
		if u.Gender == "male" {
			folder = "men"
		}
		u.Picture.Medium = fmt.Sprintf("https://randomuser.me/api/portraits/med/%s/%d.jpg", folder, f.Number(0, 99))
	}
	return users
}

// fakeRegisteredUser is the seed's registered-user producer: a name, a two-line
// address and a year, joined by "$". Its value encodes as a JSON string.
func fakeRegisteredUser(f *gofakeit.Faker, _ string) any {
	return record.RegisteredUser{
		Name:    f.Name(),
		Address: fakeAddress(f),
		Year:    strconv.Itoa(f.Number(1970, 2024)),
	}.String()
}

// The faker draws transaction dates from a fixed range, like the users' dates.
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

// fakeAddress is a postal address on two lines, like Python faker's:
// "983 Alvarado Vista\nPort Matthew, MA 57760".
func fakeAddress(f *gofakeit.Faker) string {
	return f.Street() + "\n" + f.City() + ", " + f.StateAbr() + " " + f.Zip()
}

// cents rounds an amount of money to two decimals.
func cents(x float64) float64 { return math.Round(x*100) / 100 }
