package streaming

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/misconfig"
	"github.com/streampipe/streampipe/internal/opshttp"
)

// outage follows one thing the worker waits for (Kafka, Cassandra, the dead-letter
// topic) through its failures: it logs one warning when the first attempt fails and
// one info line when an attempt succeeds again, not a line per retry, and says on
// /healthz what the worker waits for and since when.
type outage struct {
	what server
	log  *slog.Logger

	mu      sync.Mutex
	since   time.Time // when the first failed attempt ended; zero while up
	last    time.Time // when the latest failed attempt ended
	err     error     // the latest failure
	retries int       // failed attempts since since
}

func newOutage(what server, log *slog.Logger) *outage { return &outage{what: what, log: log} }

// fail records a failed attempt.
func (o *outage) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.last, o.err = now, err
	o.retries++
	if o.since.IsZero() {
		o.since = now
		o.log.Warn("waiting for "+o.what.at+"; retrying until it answers", "err", err)
		return
	}
	o.log.Debug("still waiting for "+o.what.at, "since", o.since, "retries", o.retries, "err", err)
}

// ok records a successful attempt, and ends the outage if there is one.
func (o *outage) ok() { o.okIfQuiet(0) }

// okIfQuiet ends the outage only if no attempt failed for quiet: some successes prove
// little (a message fetched from a buffer filled before the outage).
func (o *outage) okIfQuiet(quiet time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() || time.Since(o.last) < quiet {
		return
	}
	o.log.Info(o.what.at+" answers again; going on", "waited", time.Since(o.since).Round(time.Millisecond),
		"retries", o.retries)
	o.since, o.last, o.err, o.retries = time.Time{}, time.Time{}, nil, 0
}

// down returns since when the outage lasts, and its latest error; zero when up.
func (o *outage) down() (since, last time.Time, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.since, o.last, o.err
}

// problem says what the worker waits for, or nothing when it does not.
func (o *outage) problem() status {
	since, _, err := o.down()
	if since.IsZero() {
		return status{}
	}
	return waitStatus(o.what, since, err)
}

// waitStatus says that the worker waits for srv since since, the latest attempt
// having failed with err: in /healthz's one grammar of a wait (opshttp.Waiting), at
// start-up as later.
func waitStatus(srv server, since time.Time, err error) status {
	return status{public: opshttp.Waiting(srv.public, since), detail: fmt.Sprintf("%s: %v", opshttp.Waiting(srv.at, since), err)}
}

// status is what a worker waits for, said twice: public for /healthz (what, since
// when: no addresses, nothing a server said), detail with everything, for errors and
// the log. Both are empty when it waits for nothing.
type status struct{ public, detail string }

// join puts statuses side by side, skipping the empty ones.
func join(ss ...status) status {
	var public, detail []string
	for _, s := range ss {
		if s.public != "" {
			public, detail = append(public, s.public), append(detail, s.detail)
		}
	}
	return status{strings.Join(public, "; "), strings.Join(detail, "; ")}
}

// kafkaFatal reports whether a Kafka error says something that waiting will not
// change: rejected credentials, a missing permission, a setting the broker refuses,
// a failure of TLS or SASL that kafkasec explains. Everything else Kafka says (not
// available, not the leader or coordinator, a refused connection, a timeout) is an
// outage that ends.
func kafkaFatal(err error) bool {
	return misconfig.Is(err) || isKafkaError(err,
		kafka.SASLAuthenticationFailed, kafka.UnsupportedSASLMechanism, kafka.IllegalSASLState,
		kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed, kafka.ClusterAuthorizationFailed,
		kafka.InvalidSessionTimeout, kafka.InconsistentGroupProtocol, kafka.InvalidGroupId,
		kafka.UnsupportedVersion, kafka.UnsupportedForMessageFormat, kafka.UnsupportedCompressionType)
}

// isKafkaError reports whether err is one of codes.
func isKafkaError(err error, codes ...kafka.Error) bool {
	for _, e := range codes {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// fatal reports whether an error on the streaming path ends the worker: Cassandra
// or Kafka says something that retrying will not cure.
func fatal(err error) bool { return permanent(err) || kafkaFatal(err) }
