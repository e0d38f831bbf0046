// Package kafkatopic creates the topics the stages write to. A stage must
// not rely on broker auto-creation: brokers usually disable it, a
// transaction producing to a missing topic aborts, and an auto-created
// topic gets the broker's retention.
package kafkatopic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// KeepAll is the configuration of topics whose records must never expire:
// the transform rebuilds its state from the inputs' whole history, and a
// dead letter stays until someone replays it.
func KeepAll() map[string]*string {
	return map[string]*string{"retention.ms": kadm.StringPtr("-1"), "retention.bytes": kadm.StringPtr("-1")}
}

// Ensure creates topics with configs (nil: the broker's defaults) and the
// broker's default partitions and replication factor, unless they exist,
// and waits until they are served. An existing topic is left as it is.
func Ensure(ctx context.Context, adm *kadm.Client, configs map[string]*string, topics ...string) error {
	res, err := adm.CreateTopics(ctx, -1, -1, configs, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for _, r := range res.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", r.Topic, r.Err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return Ready(ctx, adm, topics...)
}

// readyTimeout bounds how long Ready waits for new topics to be served.
const readyTimeout = 30 * time.Second

// Ready waits until the brokers serve every partition of topics (each has a
// leader in the metadata). A topic is created on the controller first; a
// broker that has not caught up yet answers UNKNOWN_TOPIC_OR_PARTITION for a
// moment, which fails offset lookups and aborts transactions that touch it.
func Ready(ctx context.Context, adm *kadm.Client, topics ...string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	wait := 10 * time.Millisecond
	for {
		notReady, err := unserved(ctx, adm, topics)
		if err == nil && len(notReady) == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("topics %v have partitions without a leader", notReady)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for topics to be served: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// unserved returns the topics that are missing or have a partition without
// a leader.
func unserved(ctx context.Context, adm *kadm.Client, topics []string) ([]string, error) {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var out []string
	for _, topic := range topics {
		td, ok := md.Topics[topic]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			out = append(out, topic)
			continue
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				out = append(out, topic)
				break
			}
		}
	}
	return out, nil
}
