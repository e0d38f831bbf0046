package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/stream"
)

func newTransformCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "transform",
		Short: "Resolve product identity across channels and join per product and day, in Kafka transactions",
		Long: `Consume the input topics (amazon.*, tiktok.* except webhook events) in the
consumer group transform.group, give every channel product a product_key
(transform.mapping_file, then GTIN-14, then seller SKU), join the inputs per
product_key and day of transform.time_zone, and produce
xchannel.product_links and xchannel.product_daily in transactions that also
commit the input offsets (transactional id transform.transactional_id).

At every start the state is rebuilt by replaying the input topics from the
beginning; outputs resume from the group's committed offsets. Run one
instance per consumer group.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			return a.runTransform(cmd.Context())
		},
	}
}

func (a *app) runTransform(ctx context.Context) error {
	cfg := a.cfg
	if len(cfg.Kafka.Brokers) == 0 {
		return fmt.Errorf("transform needs kafka.brokers (set %s; run starts an in-process broker)", config.EnvName("kafka.brokers"))
	}
	if cfg.SchemaRegistry.URL == "" {
		return fmt.Errorf("transform needs schema_registry.url (set %s; run starts an in-process registry)", config.EnvName("schema_registry.url"))
	}
	reg := prometheus.NewRegistry()
	checks := a.stageChecks(cfg.Kafka.Brokers, cfg.SchemaRegistry.URL, false)
	addr, stop, err := serveOps(cfg.Metrics.Listen, checks, reg)
	if err != nil {
		return err
	}
	defer stop()
	a.log.Info().Str(logging.Stage, "transform").Str("metrics", addr).Msg("serving metrics")
	return a.transformWith(ctx, transformDeps{brokers: cfg.Kafka.Brokers, registryURL: cfg.SchemaRegistry.URL, metrics: stream.NewMetrics(reg)})
}

// transformDeps are what the transform takes from its surroundings:
// `transform` reads them from the config, `run` from the infrastructure it
// started.
type transformDeps struct {
	brokers     []string
	registryURL string
	metrics     *stream.Metrics
}

// transformWith runs the transform until ctx ends or an error it cannot
// recover from by itself; the caller restarts it.
func (a *app) transformWith(ctx context.Context, deps transformDeps) error {
	cfg := a.cfg.Transform
	log := a.log.With().Str(logging.Stage, "transform").Logger()
	jcfg, err := joinConfig(cfg)
	if err != nil {
		return err
	}
	var mapping *identity.Mapping
	if cfg.MappingFile != "" {
		if mapping, err = identity.LoadMapping(cfg.MappingFile); err != nil {
			return fmt.Errorf("transform.mapping_file: %w", err)
		}
	}
	serde, err := a.serde(ctx, deps.registryURL)
	if err != nil {
		return err
	}
	ev := log.Info().Str("group", cfg.Group).Str("transactional_id", cfg.TransactionalID).
		Str("time_zone", jcfg.Zone.String()).Str("attribution", cfg.Attribution)
	if mapping != nil {
		ev = ev.Str("mapping_file", cfg.MappingFile).Int("mapping_rows", mapping.Len())
	}
	ev.Msg("transform starting")
	err = stream.Run(ctx, stream.Config{
		Brokers:         deps.brokers,
		ClientOpts:      a.kafkaOpts(),
		Group:           cfg.Group,
		TransactionalID: cfg.TransactionalID,
		TopicPrefix:     a.cfg.Kafka.TopicPrefix,
		Serde:           serde,
		Mapping:         mapping,
		Join:            jcfg,
		Metrics:         deps.metrics,
		Log:             log,
	})
	if err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	log.Info().Msg("transform stopped")
	return nil
}

// joinConfig turns the validated config into the join's.
func joinConfig(cfg config.Transform) (join.Config, error) {
	zone, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return join.Config{}, fmt.Errorf("transform.time_zone: %w", err)
	}
	jc := join.Config{Zone: zone}
	if cfg.Attribution == "even" {
		jc.Attribution = join.EvenSplit
	}
	return jc, nil
}
