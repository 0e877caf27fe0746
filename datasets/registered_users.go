package datasets

import (
	"context"
	"strconv"
	"time"

	"github.com/brianvoe/gofakeit/v6"

	"github.com/streampipe/streampipe/record"
	"github.com/streampipe/streampipe/streaming"
)

// RegisteredUsers are the seed's faker producer: "<name>$<address>$<year>"
// (record.RegisteredUser) keyed by its id, one a second, to my_keyspace.user_details_5
// (streaming.RegisteredUsers).
var RegisteredUsers = register(Dataset{
	Name:     NameRegisteredUsers,
	Topic:    "registered_user_2",
	Keyspace: "my_keyspace",
	Table:    "user_details_5",
	Rows:     streaming.RegisteredUsers{},
	Interval: time.Second,
	PerTick:  1,
	Generate: registeredUsers,
})

// registeredUsers is the generator of registered_users.
func registeredUsers(_ context.Context, _ Sources, t Tick, ids []string) ([]any, string, error) {
	return faked(t, ids, fakeRegisteredUser), SourceFaker, nil
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

// fakeAddress is a postal address on two lines, like Python faker's:
// "983 Alvarado Vista\nPort Matthew, MA 57760".
func fakeAddress(f *gofakeit.Faker) string {
	return f.Street() + "\n" + f.City() + ", " + f.StateAbr() + " " + f.Zip()
}
