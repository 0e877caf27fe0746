package activities

import (
	"fmt"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v6"
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
