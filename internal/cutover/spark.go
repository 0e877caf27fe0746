package cutover

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// SparkGroupPrefix begins the ids of the consumer groups Spark's Kafka source
// makes (spark-kafka-source-<query>-…), unless the query sets kafka.group.id or
// groupIdPrefix.
const SparkGroupPrefix = "spark-kafka-source-"

// CheckSparkStopped refuses while the Spark query of ck may still run, which
// would go on consuming topic after the cut-over: its checkpoint was written less
// than quiet before now (a running query writes a batch file each batch), or a
// consumer group whose id begins with groupPrefix has live members reading topic.
// A query that is idle (no new records, so no batch) and holds no group membership
// (Spark 3.4 and later read offsets through the admin client) passes both: stop it
// first in any case.
func CheckSparkStopped(ctx context.Context, c *kafka.Client, ck Checkpoint, topic, groupPrefix string, quiet time.Duration, now time.Time) error {
	if age := now.Sub(ck.Written); age < quiet {
		return refuse("the Spark query wrote its checkpoint %s %s ago (batch %d), less than %s (-spark-quiet): it may still run; "+
			"stop it, then cut over once it has been quiet that long", ck.Dir, age.Round(time.Second), ck.Batch, quiet)
	}
	groups, err := c.ListGroups(ctx, &kafka.ListGroupsRequest{})
	if err != nil {
		return fmt.Errorf("listing the consumer groups: %w", err)
	}
	var ids []string
	for _, g := range groups.Groups {
		if strings.HasPrefix(g.GroupID, groupPrefix) {
			ids = append(ids, g.GroupID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	res, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: ids})
	if err != nil {
		return fmt.Errorf("describing the Spark consumer groups: %w", err)
	}
	for _, g := range res.Groups {
		for _, m := range g.Members {
			if reads(m, topic) {
				return refuse("consumer group %s has a live member reading topic %s (%s at %s): the Spark query still runs; stop it first",
					g.GroupID, topic, m.ClientID, m.ClientHost)
			}
		}
	}
	return nil
}

// reads reports whether group member m subscribes to, or is assigned, topic.
func reads(m kafka.DescribeGroupsResponseMember, topic string) bool {
	if slices.Contains(m.MemberMetadata.Topics, topic) {
		return true
	}
	return slices.ContainsFunc(m.MemberAssignments.Topics, func(t kafka.GroupMemberTopic) bool { return t.Topic == topic })
}
