package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/supervise"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/state"
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
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			if instanceID != "" {
				a.cfg.Transform.InstanceID = instanceID
			}
			// The process runs only the transform, so its limit is the
			// process's. The stores' caches live outside the Go heap: the
			// heap gets what they leave (0 without a limit).
			softMemoryLimit(state.HeapLimit(a.cfg.Transform.MemoryLimit, a.cfg.Transform.Threads, int64(a.cfg.Transform.CacheMB)<<20))
			return a.runStage(cmd.Context(), "transform", false, a.transformParts)
		}),
	}
	cmd.Flags().StringVar(&instanceID, "instance-id", "", "this instance's id in the group (default transform.instance_id, else the host name)")
	return cmd
}

// transformParts are the transform's threads as supervised parts, one
// instance of the group each (transform.threads, ids <instance_id>-<n>
// when more than one). The configuration (time zone, mapping file,
// instance id) is checked here, at start; each incarnation of a part
// registers the schemas, builds its stream.Transform (which validates the
// rest) and runs it: nil when ctx ends, an error it cannot recover from by
// itself otherwise (the supervisor starts it again; it restores its tasks
// from its local stores).
func (a *app) transformParts(p pipeline) ([]supervise.Part, error) {
	cfg := a.cfg.Transform
	log := a.log.With().Str(logging.Stage, "transform").Logger()
	jcfg, err := joinConfig(cfg)
	if err != nil {
		return nil, err
	}
	var mapping *identity.Mapping
	if cfg.MappingFile != "" {
		if mapping, err = identity.LoadMapping(cfg.MappingFile); err != nil {
			return nil, fmt.Errorf("transform.mapping_file: %w", err)
		}
	}
	instanceID := cfg.InstanceID
	if instanceID == "" {
		if instanceID, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("transform.instance_id is empty and the host name unknown: %w", err)
		}
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		stateDir = filepath.Join(a.cfg.DataDir, "transform")
	}
	metrics := stream.NewMetrics(p.reg)
	ev := log.Info().Str("group", cfg.Group).Str("instance_id", instanceID).Int("threads", cfg.Threads).
		Int("partitions", cfg.Partitions).Str("state_dir", stateDir).Int("cache_mb", cfg.CacheMB).
		Str("time_zone", jcfg.Zone.String()).Str("attribution", cfg.Attribution)
	if mapping != nil {
		ev = ev.Str("mapping_file", cfg.MappingFile).Int("mapping_rows", mapping.Len())
	}
	ev.Msg("transform starting")
	var parts []supervise.Part
	for i := range cfg.Threads {
		id, txn := instanceID, cfg.TransactionalID
		if cfg.Threads > 1 {
			id = fmt.Sprintf("%s-%d", instanceID, i)
			if txn != "" {
				txn = fmt.Sprintf("%s-%d", txn, i)
			}
		}
		tlog := log.With().Str("instance", id).Logger()
		run := func(ctx context.Context) error {
			serde, err := a.serde(ctx, p.registryURL)
			if err != nil {
				return err
			}
			tr, err := stream.New(stream.Config{
				Brokers:               p.brokers,
				ClientOpts:            a.kafkaOpts(),
				Group:                 cfg.Group,
				InstanceID:            id,
				TransactionalID:       txn,
				StateDir:              filepath.Join(stateDir, id),
				CacheBytes:            int64(cfg.CacheMB) << 20,
				Partitions:            cfg.Partitions,
				MaxTransactionRelinks: cfg.MaxTransactionRelinks,
				MaxTransactionRecords: cfg.MaxTransactionRecords,
				TopicPrefix:           a.cfg.Kafka.TopicPrefix,
				Serde:                 serde,
				Mapping:               mapping,
				Join:                  jcfg,
				Metrics:               metrics,
				Log:                   tlog,
			})
			if err != nil {
				return fmt.Errorf("transform: %w", err)
			}
			if err := errors.Join(tr.Run(ctx), tr.Close()); err != nil {
				return fmt.Errorf("transform: %w", err)
			}
			tlog.Info().Msg("transform stopped")
			return nil
		}
		name := "transform"
		if cfg.Threads > 1 {
			name = fmt.Sprintf("transform-%d", i)
		}
		parts = append(parts, supervise.Part{Name: name, Runner: supervise.RunnerFunc(run)})
	}
	return parts, nil
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
