package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// kafkaError says what was being done, at which Kafka (its brokers and the setting
// that named them), and why it failed. A broker that cannot be reached is called
// unreachable with the network's reason: kafka-go's client reports that as "[8]
// Broker Not Available: not a client facing error…", which tells a user nothing.
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
	var netErr *net.OpError
	switch {
	case errors.As(err, &netErr):
		return fmt.Errorf("%s: %s unreachable: %w", doing, where, unwrapOpError(netErr))
	case errors.Is(err, kafka.BrokerNotAvailable):
		if dialErr := a.dialBrokers(ctx); dialErr != nil {
			return fmt.Errorf("%s: %s unreachable: %w", doing, where, dialErr)
		}
	}
	return fmt.Errorf("%s: %s: %w", doing, where, err)
}

// unwrapOpError is the cause of a dial error without the addresses, which the
// message names already: "connection refused", "i/o timeout".
func unwrapOpError(err *net.OpError) error {
	var sys interface{ Unwrap() error }
	if errors.As(err.Err, &sys) && sys.Unwrap() != nil {
		return sys.Unwrap()
	}
	return err.Err
}

// dialBrokers opens a TCP connection to each broker and returns why none could be
// reached, or nil when one answers.
func (a *Activities) dialBrokers(ctx context.Context) error {
	var errs []error
	for _, b := range a.cfg.KafkaBrokers {
		d := net.Dialer{Timeout: 2 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		var netErr *net.OpError
		if errors.As(err, &netErr) {
			err = unwrapOpError(netErr)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckKafka connects to the brokers afresh (the clients' cached metadata would
// hide an outage) and asks one for the cluster's brokers: nil when one answers, else
// an error naming the brokers and the setting that named them. The worker's
// /healthz calls it.
func (a *Activities) CheckKafka(ctx context.Context) error {
	var err error
	for _, b := range a.cfg.KafkaBrokers {
		var conn *kafka.Conn
		d := kafka.Dialer{Timeout: 2 * time.Second}
		if conn, err = d.DialContext(ctx, "tcp", b); err == nil {
			_, err = conn.Brokers()
			_ = conn.Close()
			if err == nil {
				return nil
			}
		}
	}
	return a.kafkaError(ctx, "checking kafka", err)
}
