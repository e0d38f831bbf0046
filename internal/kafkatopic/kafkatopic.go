// Package kafkatopic creates the topics the stages write to. A stage must
// not rely on broker auto-creation: brokers usually disable it, a
// transaction producing to a missing topic aborts, and an auto-created
// topic gets the broker's retention.
package kafkatopic

import (
	"context"
	"errors"
	"fmt"

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
// broker's default partitions and replication factor, unless they exist.
// An existing topic is left as it is.
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
	return errors.Join(errs...)
}
