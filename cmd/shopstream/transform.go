package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/supervise"
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
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			return a.runStage(cmd.Context(), "transform", false, func(p pipeline) ([]supervise.Part, error) {
				part, err := a.transformPart(p)
				return []supervise.Part{part}, err
			})
		}),
	}
}

// transformPart is the transform as a supervised part. The configuration
// (time zone, mapping file) is checked here, at start; each incarnation
// registers the schemas and runs stream.Run, which rebuilds its state
// (stream.Run is the transform's Run: nil when ctx ends, an error it cannot
// recover from by itself otherwise).
func (a *app) transformPart(p pipeline) (supervise.Part, error) {
	cfg := a.cfg.Transform
	log := a.log.With().Str(logging.Stage, "transform").Logger()
	jcfg, err := joinConfig(cfg)
	if err != nil {
		return supervise.Part{}, err
	}
	var mapping *identity.Mapping
	if cfg.MappingFile != "" {
		if mapping, err = identity.LoadMapping(cfg.MappingFile); err != nil {
			return supervise.Part{}, fmt.Errorf("transform.mapping_file: %w", err)
		}
	}
	metrics := stream.NewMetrics(p.reg)
	run := func(ctx context.Context) error {
		serde, err := a.serde(ctx, p.registryURL)
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
			Brokers:         p.brokers,
			ClientOpts:      a.kafkaOpts(),
			Group:           cfg.Group,
			TransactionalID: cfg.TransactionalID,
			TopicPrefix:     a.cfg.Kafka.TopicPrefix,
			Serde:           serde,
			Mapping:         mapping,
			Join:            jcfg,
			Metrics:         metrics,
			Log:             log,
		})
		if err != nil {
			return fmt.Errorf("transform: %w", err)
		}
		log.Info().Msg("transform stopped")
		return nil
	}
	return supervise.Part{Name: "transform", Runner: supervise.RunnerFunc(run)}, nil
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
