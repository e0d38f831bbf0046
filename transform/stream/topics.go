package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// ensureTopics creates the topics the transform produces to, unless they
// exist: a transaction producing to a missing topic fails, and brokers
// usually do not auto-create. product_links is compacted (an identity map);
// the inputs' dead-letter topics keep their records (unlimited retention)
// until someone looks at them. It also refuses input topics that delete
// history (see checkInputRetention).
func ensureTopics(ctx context.Context, cfg Config) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("stream: ensure topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	compacted := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	var dlqs, inputs []string
	for _, t := range Topics() {
		dlqs = append(dlqs, deadletter.Topic(cfg.TopicPrefix+t))
		inputs = append(inputs, cfg.TopicPrefix+t)
	}
	if err := errors.Join(
		kafkatopic.Ensure(ctx, adm, compacted, cfg.TopicPrefix+identity.TopicProductLinks),
		kafkatopic.Ensure(ctx, adm, nil, cfg.TopicPrefix+join.TopicProductDaily),
		kafkatopic.Ensure(ctx, adm, kafkatopic.KeepAll(), dlqs...),
		checkInputRetention(ctx, adm, inputs),
	); err != nil {
		return fmt.Errorf("stream: ensure topics: %w", err)
	}
	return nil
}

// checkInputRetention refuses existing input topics whose records expire
// (cleanup.policy delete with a finite retention.ms or retention.bytes).
// The state is rebuilt from the whole input history at every start, so
// after expiry a restart would re-emit rows without the older facts, and
// TikTok's lifetime totals would turn into oversized daily deltas. Topics
// that do not exist yet are left to whoever creates them (the ingest stages
// create theirs with unlimited retention).
func checkInputRetention(ctx context.Context, adm *kadm.Client, topics []string) error {
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return fmt.Errorf("describe input topics: %w", err)
	}
	var errs []error
	for _, rc := range rcs {
		if errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
			continue
		}
		if rc.Err != nil {
			errs = append(errs, fmt.Errorf("describe input topic %s: %w", rc.Name, rc.Err))
			continue
		}
		conf := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil {
				conf[c.Key] = *c.Value
			}
		}
		if policy, ok := conf["cleanup.policy"]; ok && !strings.Contains(policy, "delete") {
			continue
		}
		for _, key := range []string{"retention.ms", "retention.bytes"} {
			if v, ok := conf[key]; ok && v != "-1" {
				errs = append(errs, fmt.Errorf("input topic %s has %s=%s, but the transform rebuilds its state from the whole "+
					"input history at every start; keep it (kafka-configs.sh --alter --entity-type topics --entity-name %s "+
					"--add-config %s=-1)", rc.Name, key, v, rc.Name, key))
			}
		}
	}
	return errors.Join(errs...)
}
