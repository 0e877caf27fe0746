package datasets

import (
	"context"
	"time"

	"github.com/streampipe/streampipe/streaming"
)

// Users are randomuser.me users in the seed's format_data shape (record.User), one a
// second, to spark_streaming.created_users (streaming.Users).
var Users = register(Dataset{
	Name:     NameUsers,
	Topic:    "users_created",
	Keyspace: "spark_streaming",
	Table:    "created_users",
	Rows:     streaming.Users{},
	Interval: time.Second,
	PerTick:  1,
	Generate: randomUsers,
})

// randomUsers is the generator of users: the producer fetches them (Sources).
func randomUsers(ctx context.Context, src Sources, t Tick, ids []string) ([]any, string, error) {
	return src.RandomUsers(ctx, t, ids)
}
