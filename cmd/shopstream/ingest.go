package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/ingest/sources"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/supervise"
)

func newIngestCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:       "ingest amazon|tiktokshop|tiktokbiz|webhooks",
		Short:     "Run one source's ingest stage: poll, capture changes, write exactly once to Kafka",
		ValidArgs: append(sources.Names(), sources.Webhooks),
		Long: `Run the ingest stage of one source until interrupted. The stage loads its
cursors and change-capture state from shopstream.cursors once, then repeats:
fetch the next window, emit only real changes, and commit records, dead
letters and the cursor in one Kafka transaction.

  amazon      orders with lines, Sales & Traffic days (restated days re-read
              for sources.amazon.lookback), weekly Brand Analytics, catalog
  tiktokshop  orders by update_time windows, products, video performance
  tiktokbiz   video list snapshots into tiktok.video_engagement
  webhooks    POST /webhooks/tiktok on sources.webhooks.listen, plus the
              tiktokshop stage that fetches the orders events name (it owns
              the tiktokshop cursors: run either this or tiktokshop)

Needs kafka.brokers and schema_registry.url; sources.simulate starts the
simulators in process and ingests from them.`,
		Args: cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: a.configured(func(cmd *cobra.Command, args []string) error {
			return a.runStage(cmd.Context(), "ingest-"+args[0], false, func(p pipeline) ([]supervise.Part, error) {
				s, err := a.resolveSources(cmd.Context(), args[0] == sources.Webhooks)
				if err != nil {
					return nil, err
				}
				return a.ingestParts(cmd.Context(), p, s, args[0])
			})
		}),
	}
}

// resolveSources returns the sources config, pointed at simulators started
// in process (stopped with ctx) when sources.simulate is set; with
// webhooks, the simulated TikTok Shop sends its webhooks to the receiver.
func (a *app) resolveSources(ctx context.Context, webhooks bool) (config.Sources, error) {
	s := a.cfg.Sources
	if !s.Simulate {
		return s, nil
	}
	s, sm, err := sources.Simulate(ctx, s, webhooks)
	if err != nil {
		return s, err
	}
	d := sm.Description()
	a.log.Info().Str(logging.Stage, "sim").Str("base_url", d.BaseURL).Time("world_start", d.WorldStart).Float64("rate_scale", d.RateScale).
		Msg("simulators started for the sources")
	return s, nil
}

// ingestParts are the supervised parts that ingest the named sources (see
// sources.Parts) from s; their metrics go to p.reg.
func (a *app) ingestParts(ctx context.Context, p pipeline, s config.Sources, names ...string) ([]supervise.Part, error) {
	metrics, err := stage.NewMetrics(p.reg)
	if err != nil {
		return nil, fmt.Errorf("ingest metrics: %w", err)
	}
	k, err := a.stageKafka(ctx, p)
	if err != nil {
		return nil, err
	}
	return sources.Parts(s, sources.Env{Kafka: k, Log: a.log, Registerer: p.reg}, metrics, names...)
}

func newBackfillCmd(a *app) *cobra.Command {
	var since, until string
	cmd := &cobra.Command{
		Use:       "backfill amazon|tiktokshop|tiktokbiz --since DATE",
		Short:     "Pull a source's history in resumable slices within its rate limits, with progress",
		ValidArgs: sources.Names(),
		Long: `Run the source's stage from --since (YYYY-MM-DD) up to now (or --until) and
stop when it has caught up. Every slice (a getOrders or update_time window, a
report day, a Brand Analytics week, a snapshot) commits with its cursor in one
Kafka transaction, so an interrupted backfill resumes where it stopped when run
again. --since applies when the source has no cursor yet; the live stage of
the same source must not run meanwhile (they share a transactional id, and the
newer one fences the other). A line per slice shows records, % done and ETA.`,
		Args: cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: a.configured(func(cmd *cobra.Command, args []string) error {
			from, err := time.Parse(time.DateOnly, since)
			if err != nil {
				return fmt.Errorf("--since %q: want YYYY-MM-DD", since)
			}
			to := time.Now().UTC()
			if until != "" {
				if to, err = time.Parse(time.DateOnly, until); err != nil {
					return fmt.Errorf("--until %q: want YYYY-MM-DD", until)
				}
			}
			p, err := a.configuredPipeline("backfill")
			if err != nil {
				return err
			}
			return a.backfill(cmd.Context(), cmd.OutOrStdout(), p, args[0], from, to)
		}),
	}
	cmd.Flags().StringVar(&since, "since", "", "first day of history, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&until, "until", "", "stop at this day, YYYY-MM-DD (default: now)")
	_ = cmd.MarkFlagRequired("since")
	return cmd
}

// backfill steps one source's stage from since to until, printing a line
// per slice.
func (a *app) backfill(ctx context.Context, out io.Writer, p pipeline, source string, since, until time.Time) error {
	src, ok := sources.Lookup(source)
	if !ok {
		return fmt.Errorf("backfill %s: no such source", source)
	}
	s, err := a.resolveSources(ctx, false)
	if err != nil {
		return err
	}
	k, err := a.stageKafka(ctx, p)
	if err != nil {
		return err
	}
	st, err := src.Stage(s, sources.Env{Kafka: k, Log: a.log, Since: since.Format(time.DateOnly), Until: until})
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	stepper, err := st.Open(ctx)
	if err != nil {
		return err
	}
	defer stepper.Close()
	return stage.Backfill(ctx, stepper, stage.BackfillConfig{Since: since, Until: until, Out: out})
}
