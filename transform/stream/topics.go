package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// ensureTopics creates the topics the transform produces to, unless they
// exist: a transaction producing to a missing topic fails, and brokers
// usually do not auto-create. product_links is compacted (an identity map);
// the inputs' dead-letter topics take the broker defaults.
func ensureTopics(ctx context.Context, cfg Config) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("stream: ensure topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	compacted := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	var errs []error
	check := func(res kadm.CreateTopicResponses, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, r := range res.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				errs = append(errs, fmt.Errorf("create topic %s: %w", r.Topic, r.Err))
			}
		}
	}
	check(adm.CreateTopics(ctx, -1, -1, compacted, cfg.TopicPrefix+identity.TopicProductLinks))
	names := []string{cfg.TopicPrefix + join.TopicProductDaily}
	for _, t := range Topics() {
		names = append(names, cfg.TopicPrefix+t+DeadLetterSuffix)
	}
	check(adm.CreateTopics(ctx, -1, -1, nil, names...))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stream: ensure topics: %w", err)
	}
	return nil
}
