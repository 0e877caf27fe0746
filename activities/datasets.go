package activities

import (
	"context"
	"time"

	"github.com/brianvoe/gofakeit/v6"
	"github.com/google/uuid"
)

// Names of the datasets a run can publish: the values of the run input's dataset field.
const (
	DatasetUsers           = "users"
	DatasetRegisteredUsers = "registered_users"
	DatasetTransactions    = "transactions"
)

// Dataset is one kind of record a run publishes: where a tick's records come from,
// what they look like, and a run's defaults for it. Every record is keyed by its id,
// a name-based UUID of the run, the tick and the index, in the dataset's own UUID
// namespace: a tick sent again carries the same ids, and from the same source the
// same records.
type Dataset struct {
	// Name is the value of the run input's dataset field.
	Name string
	// Topic, Interval and PerTick are the defaults of a run's topic, tick interval
	// and records per tick.
	Topic    string
	Interval time.Duration
	PerTick  int

	space    uuid.UUID
	generate generator
}

// generator makes a tick's record values, the i-th with id ids[i], ready for JSON
// encoding, and says where they came from and, if it fell back to the faker, why.
type generator func(a *Activities, ctx context.Context, in TickInput, ids []string) (values []any, source string, fallback error)

// LookupDataset returns the dataset called name; the empty name is DatasetUsers, so
// that runs started before datasets existed publish users as they did.
func LookupDataset(name string) (Dataset, bool) {
	switch name {
	case "", DatasetUsers:
		// randomuser.me users in the seed's format_data shape, one a second.
		return newDataset(DatasetUsers, "users_created", time.Second, 1, (*Activities).users), true
	case DatasetRegisteredUsers:
		// The seed's faker producer: "<name>$<address>$<year>", one a second.
		return newDataset(DatasetRegisteredUsers, "registered_user_2", time.Second, 1, registeredUsers), true
	case DatasetTransactions:
		// The seed's finance producer: ten nested transactions every five seconds.
		return newDataset(DatasetTransactions, "incoming_finance_data", 5*time.Second, 10, transactions), true
	}
	return Dataset{}, false
}

// DatasetNames lists the datasets, for messages that say what is allowed.
func DatasetNames() []string {
	return []string{DatasetUsers, DatasetRegisteredUsers, DatasetTransactions}
}

func newDataset(name, topic string, interval time.Duration, perTick int, generate generator) Dataset {
	return Dataset{
		Name: name, Topic: topic, Interval: interval, PerTick: perTick,
		// The users namespace is the one user ids always had.
		space:    uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/streampipe/streampipe/"+name)),
		generate: generate,
	}
}

// users fetches a tick's users from randomuser.me, or the faker, and formats them.
func (a *Activities) users(ctx context.Context, in TickInput, ids []string) ([]any, string, error) {
	users, source, fallback := a.fetchUsers(ctx, in)
	values := make([]any, len(users))
	for i, u := range users {
		values[i] = formatUser(u, ids[i], source)
	}
	return values, source, fallback
}

// registeredUsers is the generator of registered_users.
func registeredUsers(_ *Activities, _ context.Context, in TickInput, ids []string) ([]any, string, error) {
	return faked(in, ids, fakeRegisteredUser), SourceFaker, nil
}

// transactions is the generator of transactions.
func transactions(_ *Activities, _ context.Context, in TickInput, ids []string) ([]any, string, error) {
	return faked(in, ids, fakeTransaction), SourceFaker, nil
}

// faked makes the records of a dataset that only the faker makes: one gofakeit
// seeded from the tick makes every record of the tick, in index order. (Generators
// are plain functions, not closures made here: the workflow calls LookupDataset, and
// workflowcheck would follow such a call into gofakeit.)
func faked(in TickInput, ids []string, record func(f *gofakeit.Faker, id string) any) []any {
	_, seed := tickSeeds(in.WorkflowID, in.RunID, in.Tick)
	f := gofakeit.New(seed)
	values := make([]any, len(ids))
	for i, id := range ids {
		values[i] = record(f, id)
	}
	return values
}
