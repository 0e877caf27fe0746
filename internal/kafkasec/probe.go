package kafkasec

// This file asks Kafka whether it is there, on connections of its own: a program's
// long-lived clients share a transport that remembers a failed look-up for seconds and
// reports a broker it cannot reach as "[8] Broker Not Available", which hides both
// when an outage ends and why it happened.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
)

// Dial returns nil once one of brokers accepts a TCP connection, else each broker's
// dial error, joined.
func Dial(ctx context.Context, brokers []string) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	var errs []error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			return conn.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Cluster asks the brokers, connecting with sec (nil: plaintext), for the metadata
// of topics (of every topic if none); a failure is explained by sec.Explain.
func Cluster(ctx context.Context, sec *Security, brokers []string, topics ...string) (*kafka.MetadataResponse, error) {
	transport := sec.Transport()
	transport.DialTimeout = 3 * time.Second
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second, Transport: transport}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, sec.Explain(ctx, brokers, err)
	}
	return md, nil
}

// Metadata asks the brokers as Cluster does and returns the first error of a topic
// or partition in the answer, if any.
func Metadata(ctx context.Context, sec *Security, brokers []string, topics ...string) error {
	md, err := Cluster(ctx, sec, brokers, topics...)
	if err != nil {
		return err
	}
	for _, t := range md.Topics {
		if t.Error != nil {
			return t.Error
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return p.Error
			}
		}
	}
	return nil
}

// Settling says whether err is an answer of a Kafka in passage, which the same
// request a moment later does not get: a group coordinator loading the group, not up
// yet or moved, a group rebalancing, a partition whose leader is being elected. Not
// every error kafka-go calls Temporary: an unknown topic is an answer a caller may
// wait for itself (a topic that a run makes later), so it is not one.
func Settling(err error) bool {
	for _, e := range []kafka.Error{kafka.GroupLoadInProgress, kafka.GroupCoordinatorNotAvailable,
		kafka.NotCoordinatorForGroup, kafka.RebalanceInProgress, kafka.LeaderNotAvailable, kafka.NotLeaderForPartition} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// SettleWait bounds how long Settle asks again while Kafka answers that it is in
// passage. A group's coordinator loads the group's offsets for about half a second
// after a restart or a move, and on a loaded machine for some seconds; on a fresh
// Kafka the first group request creates __consumer_offsets, which takes a few seconds.
const SettleWait = 30 * time.Second

// Settle calls do until it returns nil or an error that is not Settling, ctx ends or
// SettleWait has passed, and returns the settling errors it waited out and do's last
// error (saying how long it waited, if it did).
func Settle(ctx context.Context, do func() error) (waited []error, err error) {
	start := time.Now()
	pause := 50 * time.Millisecond
	for {
		err = do()
		if !Settling(err) {
			return waited, err
		}
		if time.Since(start) > SettleWait {
			return waited, fmt.Errorf("%w (still, after %d tries in %s)", err, len(waited)+1, time.Since(start).Round(time.Millisecond))
		}
		waited = append(waited, err)
		select {
		case <-ctx.Done():
			return waited, fmt.Errorf("%w (waiting for kafka to settle: %w)", ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}
