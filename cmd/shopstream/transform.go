package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/stream"
)

func newTransformCmd(a *app) *cobra.Command {
	var instanceID string
	cmd := &cobra.Command{
		Use:   "transform",
		Short: "Resolve product identity across channels and join per product and day, in Kafka transactions",
		Long: `Consume the input topics (amazon.*, tiktok.* except webhook events) in the
consumer group transform.group, give every channel product a product_key
(transform.mapping_file, then GTIN-14, then seller SKU), join the inputs per
product_key and day of transform.time_zone, and produce
xchannel.product_links and xchannel.product_daily in transactions that also
commit the input offsets and the state's changelogs.

The work is partitioned (transform.partitions) and shared by every instance
of the group: start as many processes as you like, each with its own
transform.instance_id (--instance-id) and state directory
(transform.state_dir, default <data_dir>/transform/<instance_id>). A
restarted instance gets its tasks back and restores their state from its
local stores; a task that moves restores from its changelog topic. The
input history is never replayed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if instanceID != "" {
				a.cfg.Transform.InstanceID = instanceID
			}
			return a.runTransform(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&instanceID, "instance-id", "", "this instance's id in the group (default transform.instance_id, else the host name)")
	return cmd
}

func (a *app) runTransform(ctx context.Context) error {
	cfg := a.cfg
	if len(cfg.Kafka.Brokers) == 0 {
		return fmt.Errorf("transform needs kafka.brokers (set %s; run starts an in-process broker)", config.EnvName("kafka.brokers"))
	}
	if cfg.SchemaRegistry.URL == "" {
		return fmt.Errorf("transform needs schema_registry.url (set %s; run starts an in-process registry)", config.EnvName("schema_registry.url"))
	}
	if cfg.Transform.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// The process runs only the transform, so its limit is the process's.
		debug.SetMemoryLimit(cfg.Transform.MemoryLimit)
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

// transformWith runs the transform's threads (instances of the group, one
// stream.Transform each) until ctx ends or one of them stops with an error
// it cannot recover from by itself; then it stops the others and returns
// the error, and the caller restarts it.
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
	instanceID := cfg.InstanceID
	if instanceID == "" {
		if instanceID, err = os.Hostname(); err != nil {
			return fmt.Errorf("transform.instance_id is empty and the host name unknown: %w", err)
		}
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		stateDir = filepath.Join(a.cfg.DataDir, "transform")
	}
	serde, err := a.serde(ctx, deps.registryURL)
	if err != nil {
		return err
	}
	threads := make([]*stream.Transform, cfg.Threads)
	for i := range threads {
		id, txn := instanceID, cfg.TransactionalID
		if cfg.Threads > 1 {
			id = fmt.Sprintf("%s-%d", instanceID, i)
			if txn != "" {
				txn = fmt.Sprintf("%s-%d", txn, i)
			}
		}
		tlog := log.With().Str("instance", id).Logger()
		threads[i], err = stream.New(stream.Config{
			Brokers:         deps.brokers,
			ClientOpts:      a.kafkaOpts(),
			Group:           cfg.Group,
			InstanceID:      id,
			TransactionalID: txn,
			StateDir:        filepath.Join(stateDir, id),
			CacheBytes:      int64(cfg.CacheMB) << 20,
			Partitions:      cfg.Partitions,
			TopicPrefix:     cfg.TopicPrefix,
			Serde:           serde,
			Mapping:         mapping,
			Join:            jcfg,
			Metrics:         deps.metrics,
			Log:             tlog,
		})
		if err != nil {
			return fmt.Errorf("transform: %w", err)
		}
	}
	ev := log.Info().Str("group", cfg.Group).Str("instance_id", instanceID).Int("threads", cfg.Threads).
		Int("partitions", cfg.Partitions).Str("state_dir", stateDir).Int("cache_mb", cfg.CacheMB).
		Str("time_zone", jcfg.Zone.String()).Str("attribution", cfg.Attribution)
	if mapping != nil {
		ev = ev.Str("mapping_file", cfg.MappingFile).Int("mapping_rows", mapping.Len())
	}
	ev.Msg("transform starting")
	g, gctx := errgroup.WithContext(ctx)
	for _, tr := range threads {
		g.Go(func() error { return errors.Join(tr.Run(gctx), tr.Close()) })
	}
	if err := g.Wait(); err != nil {
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
