package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/streampipe/streampipe/internal/kafkasec"
	"github.com/streampipe/streampipe/internal/misconfig"
)

// kafkaError says what was being done, at which Kafka (its brokers and the setting
// that named them), and why it failed. A broker that cannot be reached is called
// unreachable with the network's reason: kafka-go's client reports that as "[8]
// Broker Not Available: not a client facing error…", which tells a user nothing. A
// failure of TLS or SASL says which setting to change (kafkasec.Explain): refused
// credentials name the user and the mechanism.
func (a *Activities) kafkaError(ctx context.Context, doing string, err error) error {
	where := fmt.Sprintf("Kafka at %s (%s)", strings.Join(a.cfg.KafkaBrokers, ","), a.cfg.brokersFrom())
	var writeErrs kafka.WriteErrors // one error a message: the first tells why
	if errors.As(err, &writeErrs) {
		for _, e := range writeErrs {
			if e != nil {
				err = e
				break
			}
		}
	}
	err = a.cfg.KafkaSecurity.Explain(ctx, a.cfg.KafkaBrokers, err)
	var netErr *net.OpError
	switch {
	case misconfig.Is(err):
	case errors.As(err, &netErr):
		return fmt.Errorf("%s: %s unreachable: %w", doing, where, unwrapOpError(netErr))
	case errors.Is(err, kafka.BrokerNotAvailable):
		if dialErr := kafkasec.Dial(ctx, a.cfg.KafkaBrokers); dialErr != nil {
			return fmt.Errorf("%s: %s unreachable: %w", doing, where, causes(dialErr))
		}
	}
	return fmt.Errorf("%s: %s: %w", doing, where, err)
}

// causes is err, or each of the errors it joins, without the addresses of a dial
// error, which the message names already: "connection refused", "i/o timeout".
func causes(err error) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs := joined.Unwrap()
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = causes(e)
		}
		return errors.Join(out...)
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return unwrapOpError(netErr)
	}
	return err
}

// unwrapOpError is the cause of a dial error without the addresses.
func unwrapOpError(err *net.OpError) error {
	var sys interface{ Unwrap() error }
	if errors.As(err.Err, &sys) && sys.Unwrap() != nil {
		return sys.Unwrap()
	}
	return err.Err
}

// CheckKafka asks the brokers afresh for the cluster's metadata (the clients' shared
// transport would hide an outage): nil when one answers, else an error naming the
// brokers and the setting that named them. The worker's /healthz calls it.
func (a *Activities) CheckKafka(ctx context.Context) error {
	if err := kafkasec.Metadata(ctx, a.cfg.KafkaSecurity, a.cfg.KafkaBrokers); err != nil {
		return a.kafkaError(ctx, "checking kafka", err)
	}
	return nil
}
