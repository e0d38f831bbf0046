package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/schemas"
)

// ingestSources are the sources `ingest` and `backfill` know.
var ingestSources = []string{"amazon", "tiktokshop", "tiktokbiz", "webhooks"}

func newIngestCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:       "ingest amazon|tiktokshop|tiktokbiz|webhooks",
		Short:     "Run one source's ingest stage: poll, capture changes, write exactly once to Kafka",
		ValidArgs: ingestSources,
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
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.load(); err != nil {
				return err
			}
			cfg := a.cfg
			if len(cfg.Kafka.Brokers) == 0 || cfg.SchemaRegistry.URL == "" {
				return fmt.Errorf("ingest needs kafka.brokers and schema_registry.url (set %s and %s; run starts both in process)",
					config.EnvName("kafka.brokers"), config.EnvName("schema_registry.url"))
			}
			reg := prometheus.NewRegistry()
			metrics, err := stage.NewMetrics(reg)
			if err != nil {
				return err
			}
			checks := a.stageChecks(cfg.Kafka.Brokers, cfg.SchemaRegistry.URL, false)
			addr, stop, err := serveOps(cfg.Metrics.Listen, checks, reg)
			if err != nil {
				return err
			}
			defer stop()
			a.log.Info().Str(logging.Stage, "ingest-"+args[0]).Str("metrics", addr).Msg("serving metrics")
			return a.ingestWith(cmd.Context(), ingestDeps{brokers: cfg.Kafka.Brokers, registryURL: cfg.SchemaRegistry.URL, metrics: metrics, reg: reg}, args[0])
		},
	}
}

// ingestDeps are what the stages take from their surroundings: `ingest`
// reads them from the config, `run` from the infrastructure it started.
type ingestDeps struct {
	brokers     []string
	registryURL string
	// metrics, if set, counts the stages' work.
	metrics *stage.Metrics
	// reg, if set, takes the API clients' and the webhook receiver's
	// metrics.
	reg prometheus.Registerer
	// sources, if set, are the sources already resolved (run starts the
	// simulators once, for its whole life); else ingest resolves them.
	sources *config.Sources
}

// sourceSet is the configured (or simulated) sources.
type sourceSet struct {
	amazon   *amazon.Client
	shop     *tiktokshop.Client
	biz      *tiktokbiz.Client
	bizID    string
	shopDead *stage.DeadLetters
	bizDead  *stage.DeadLetters
	appKey   string
	secret   secret.Secret
	reg      prometheus.Registerer // nil: no client metrics
}

// resolveSources returns the sources config, pointed at simulators started
// in process when sources.simulate is set (stopped with ctx), and the
// simulators (nil when the sources are real).
// With webhooks, the simulator sends signed TikTok Shop webhooks for its
// order changes to the receiver at sources.webhooks.listen (a free port is
// chosen when none is configured).
func (a *app) resolveSources(ctx context.Context, webhooks bool) (config.Sources, *sim.Sim, error) {
	s := a.cfg.Sources
	if !s.Simulate {
		return s, nil, nil
	}
	var webhookURL string
	if webhooks {
		listen, err := concreteListen(ctx, s.Webhooks.Listen)
		if err != nil {
			return s, nil, err
		}
		s.Webhooks.Listen, webhookURL = listen, "http://"+listen+webhook.Path
	}
	opts, err := a.demo().Options(time.Now(), nil)
	if err != nil {
		return s, nil, err
	}
	opts.WebhookURL = webhookURL
	sm, err := sim.Start(ctx, opts)
	if err != nil {
		return s, nil, err
	}
	d := sm.Description()
	a.log.Info().Str(logging.Stage, "sim").Str("base_url", d.BaseURL).Time("world_start", d.WorldStart).Float64("rate_scale", d.RateScale).
		Msg("simulators started for the sources")
	s.Amazon.Endpoint, s.Amazon.TokenURL, s.Amazon.MarketplaceID = d.Amazon.Endpoint, d.Amazon.TokenURL, d.MarketplaceID
	s.Amazon.ClientID = d.Amazon.Credentials.ClientID
	s.Amazon.ClientSecret, s.Amazon.RefreshToken = secret.Secret(d.Amazon.Credentials.ClientSecret), secret.Secret(d.Amazon.Credentials.RefreshToken)
	// Simulated reports finish in seconds (see sim.Demo): ask after one.
	s.Amazon.ReportPollInterval = min(s.Amazon.ReportPollInterval, time.Second)
	// A seller lists its own ASINs; the simulated seller's are its catalog.
	for _, e := range sm.World().Truth().Catalog() {
		s.Amazon.ASINs = append(s.Amazon.ASINs, e.ASIN)
	}
	s.TikTokShop.APIBaseURL, s.TikTokShop.AuthBaseURL = d.TikTokShop.APIBaseURL, d.TikTokShop.AuthBaseURL
	s.TikTokShop.AppKey = d.TikTokShop.Credentials.AppKey
	s.TikTokShop.AppSecret, s.TikTokShop.AuthCode = secret.Secret(d.TikTokShop.Credentials.AppSecret), secret.Secret(d.TikTokShop.Credentials.AuthCode)
	s.TikTokBiz.BaseURL, s.TikTokBiz.BusinessID = d.TikTokBusiness.BaseURL, d.TikTokBusiness.Credentials.BusinessID
	s.TikTokBiz.AccessToken, s.TikTokBiz.RefreshToken = secret.Secret(d.TikTokBusiness.Credentials.AccessToken), secret.Secret(d.TikTokBusiness.Credentials.RefreshToken)
	s.TikTokBiz.ClientID, s.TikTokBiz.ClientSecret = d.TikTokBusiness.Credentials.ClientID, secret.Secret(d.TikTokBusiness.Credentials.ClientSecret)
	if s.Amazon.Since == "" {
		// The simulated world starts at its epoch; ingest its history, from
		// the epoch's day in each source's zone.
		s.Amazon.Since = inZone(d.WorldStart, s.Amazon.ReportZone)
		s.TikTokShop.Since = inZone(d.WorldStart, s.TikTokShop.Zone)
	}
	return s, sm, nil
}

// demo is the simulated world sources.sim describes.
func (a *app) demo() sim.Demo {
	c := a.cfg.Sources
	return sim.Demo{Seed: c.Seed, HistoryWeeks: c.Sim.HistoryWeeks, Planted: c.Sim.HaloPlanted,
		SpikeControls: c.Sim.HaloSpikeControls, RateScale: c.Sim.RateScale}
}

// inZone returns t's day in the named zone (validated with the config),
// YYYY-MM-DD.
func inZone(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.DateOnly)
}

// simBanner returns run's lines about simulated sources: where they are,
// how much history the backfill replays, the planted halo, and the rate
// limits (scaled for the demo, or Amazon's).
func simBanner(d sim.Description, zone string) []string {
	lines := []string{fmt.Sprintf("simulated APIs   %s (seed %d): a world from %s (%s), %d weeks ago, backfilled first",
		d.BaseURL, d.Seed, inZone(d.WorldStart, zone), zone, int(time.Since(d.WorldStart).Hours()/24/7))}
	if d.Halo.Planted > 0 || d.Halo.SpikeControls > 0 {
		lines = append(lines, fmt.Sprintf("planted halo     %d products whose TikTok video takes off lift Amazon days later, %d take off with no effect: curl %s%s",
			d.Halo.Planted, d.Halo.SpikeControls, d.BaseURL, sim.HaloPath))
	}
	if d.RateScale > 1 {
		lines = append(lines, fmt.Sprintf("rate limits      DEMO: the simulated SP-API grants %g× Amazon's published rates (createReport %.2g/s, not 1/min), so the history backfills in minutes; sources.sim.rate_scale: 1 keeps the real limits",
			d.RateScale, 0.0167*d.RateScale))
	} else {
		lines = append(lines, "rate limits      Amazon's published usage plans (createReport 1/min after a burst of 15): weeks of history take hours to backfill")
	}
	return lines
}

// concreteListen turns a listen address without a port (empty, or port 0)
// into a free loopback one, so that the simulator can be told where to send
// webhooks before the receiver starts. The port is released again before
// the receiver binds it; the simulator retries a delivery that finds
// nothing listening, as TikTok does, so the gap loses no event.
func concreteListen(ctx context.Context, listen string) (string, error) {
	if listen != "" {
		if _, port, err := net.SplitHostPort(listen); err == nil && port != "0" {
			return listen, nil
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("simulated webhooks: find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("simulated webhooks: %w", err)
	}
	return addr, nil
}

// clients builds the clients of the configured sources; their metrics go
// to reg (nil: none). A restarted stage builds them again, so reg replaces
// the metrics of the previous incarnation.
func (a *app) clients(s config.Sources, log zerolog.Logger, reg prometheus.Registerer) (*sourceSet, error) {
	out := &sourceSet{shopDead: &stage.DeadLetters{}, bizDead: &stage.DeadLetters{}}
	if reg != nil {
		out.reg = replacing{reg}
	}
	if s.Amazon.Endpoint != "" {
		zone, err := time.LoadLocation(s.Amazon.ReportZone)
		if err != nil {
			return nil, err
		}
		// The client names its source in its own log lines.
		l := log
		out.amazon, err = amazon.NewClient(amazon.Config{Endpoint: s.Amazon.Endpoint, TokenURL: s.Amazon.TokenURL,
			Credentials:   amazon.Credentials{ClientID: s.Amazon.ClientID, ClientSecret: s.Amazon.ClientSecret, RefreshToken: s.Amazon.RefreshToken},
			MarketplaceID: s.Amazon.MarketplaceID, ReportZone: zone, ReportsInFlight: s.Amazon.ReportsInFlight,
			ReportPollInterval: s.Amazon.ReportPollInterval, Logger: &l, Registerer: out.reg})
		if err != nil {
			return nil, fmt.Errorf("amazon client: %w", err)
		}
	}
	if s.TikTokShop.APIBaseURL != "" {
		var err error
		out.appKey, out.secret = s.TikTokShop.AppKey, s.TikTokShop.AppSecret
		out.shop, err = tiktokshop.New(tiktokshop.Config{APIBaseURL: s.TikTokShop.APIBaseURL, AuthBaseURL: s.TikTokShop.AuthBaseURL,
			AppKey: s.TikTokShop.AppKey, AppSecret: out.secret,
			RefreshToken: s.TikTokShop.RefreshToken, AuthCode: s.TikTokShop.AuthCode,
			ShopID: s.TikTokShop.ShopID, Registerer: out.reg,
			// Malformed entities go to the dead-letter topic with the
			// stage's next transaction.
			OnMalformed: func(m tiktokshop.Malformed) { out.shopDead.Add(topicOfShopOp(m.Op), m.Op, m.Raw, m.Err) },
		})
		if err != nil {
			return nil, fmt.Errorf("tiktokshop client: %w", err)
		}
	}
	if s.TikTokBiz.BaseURL != "" {
		var err error
		out.bizID = s.TikTokBiz.BusinessID
		out.biz, err = tiktokbiz.New(tiktokbiz.Config{BaseURL: s.TikTokBiz.BaseURL, BusinessID: s.TikTokBiz.BusinessID,
			AccessToken: s.TikTokBiz.AccessToken, RefreshToken: s.TikTokBiz.RefreshToken,
			ClientID: s.TikTokBiz.ClientID, ClientSecret: s.TikTokBiz.ClientSecret, Registerer: out.reg,
			OnMalformed: func(raw json.RawMessage, err error) {
				out.bizDead.Add(schemas.TopicTikTokVideoEngagement, "video/list", raw, err)
			},
		})
		if err != nil {
			return nil, fmt.Errorf("tiktokbiz client: %w", err)
		}
	}
	return out, nil
}

// topicOfShopOp names the topic a malformed entity of a TikTok Shop
// operation was meant for.
func topicOfShopOp(op string) string {
	switch {
	case len(op) >= 8 && op[:8] == "products":
		return schemas.TopicTikTokProducts
	case len(op) >= 9 && op[:9] == "analytics", len(op) >= 11 && op[:11] == "shop_videos":
		return schemas.TopicTikTokVideoPerformance
	}
	return schemas.TopicTikTokOrders
}

// parseSince parses a source's since (YYYY-MM-DD) as the start of that day
// in the source's zone, where its report or analytics days are cut.
func parseSince(s, zone string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, err
	}
	return time.ParseInLocation(time.DateOnly, s, loc)
}

// openers returns, per source, the function that opens an incarnation of
// its stage, and the poll interval. until bounds a backfill (zero: live).
func (a *app) openers(s config.Sources, set *sourceSet, k stage.Kafka, until time.Time, follow *stage.OrderQueue) (map[string]func(context.Context) (stage.Stepper, error), map[string]time.Duration, error) {
	log := a.log
	open := map[string]func(context.Context) (stage.Stepper, error){}
	every := map[string]time.Duration{}
	if set.amazon != nil {
		since, err := parseSince(s.Amazon.Since, s.Amazon.ReportZone)
		if err != nil {
			return nil, nil, err
		}
		cfg := stage.AmazonConfig{Kafka: k, Client: set.amazon, Instance: s.Instance, Since: since, Until: until,
			Lookback: s.Amazon.Lookback, ReportInterval: s.Amazon.ReportInterval, CatalogInterval: s.Amazon.CatalogInterval,
			BrandAnalyticsPeriods: s.Amazon.BrandAnalyticsPeriods, ASINs: s.Amazon.ASINs, Logger: log}
		open["amazon"] = func(ctx context.Context) (stage.Stepper, error) { return stage.OpenAmazon(ctx, cfg) }
		every["amazon"] = s.Amazon.PollInterval
	}
	if set.shop != nil {
		since, err := parseSince(s.TikTokShop.Since, s.TikTokShop.Zone)
		if err != nil {
			return nil, nil, err
		}
		zone, err := time.LoadLocation(s.TikTokShop.Zone)
		if err != nil {
			return nil, nil, err
		}
		cfg := stage.ShopConfig{Kafka: k, Client: set.shop, Instance: s.Instance, Since: since, Until: until,
			Overlap: s.TikTokShop.Overlap, Zone: zone, DeadLetters: set.shopDead, Follow: follow, Logger: log}
		open["tiktokshop"] = func(ctx context.Context) (stage.Stepper, error) { return stage.OpenTikTokShop(ctx, cfg) }
		every["tiktokshop"] = s.TikTokShop.PollInterval
	}
	if set.biz != nil {
		cfg := stage.BusinessConfig{Kafka: k, Client: set.biz, BusinessID: set.bizID, Instance: s.Instance,
			Interval: s.TikTokBiz.PollInterval, DeadLetters: set.bizDead, Logger: log}
		open["tiktokbiz"] = func(ctx context.Context) (stage.Stepper, error) { return stage.OpenTikTokBusiness(ctx, cfg) }
		// The stage takes a snapshot when one is due; check often.
		every["tiktokbiz"] = min(s.TikTokBiz.PollInterval, time.Minute)
	}
	return open, every, nil
}

// ingestWith runs the stages of sources ("amazon", ..., or several) until
// ctx ends.
func (a *app) ingestWith(ctx context.Context, deps ingestDeps, sources ...string) error {
	want := map[string]bool{}
	for _, src := range sources {
		want[src] = true
	}
	var s config.Sources
	if deps.sources != nil {
		s = *deps.sources
	} else {
		var err error
		if s, _, err = a.resolveSources(ctx, want["webhooks"]); err != nil {
			return err
		}
	}
	set, err := a.clients(s, a.log, deps.reg)
	if err != nil {
		return err
	}
	serde, err := a.serde(ctx, deps.registryURL)
	if err != nil {
		return err
	}
	k := stage.Kafka{ClientOpts: append([]kgo.Opt{kgo.SeedBrokers(deps.brokers...)}, a.kafkaOpts()...), Serde: serde, Prefix: a.cfg.Kafka.TopicPrefix}
	var follow *stage.OrderQueue
	if want["webhooks"] {
		follow = &stage.OrderQueue{}
		want["tiktokshop"] = true
	}
	open, every, err := a.openers(s, set, k, time.Time{}, follow)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	started := 0
	for _, src := range []string{"amazon", "tiktokshop", "tiktokbiz"} {
		if !want[src] {
			continue
		}
		o, ok := open[src]
		if !ok {
			return fmt.Errorf("ingest %s: the source is not configured (set sources.%s or sources.simulate)", src, src)
		}
		log := a.log.With().Str(logging.Stage, "ingest-"+src).Str(logging.Source, src).Logger()
		interval := every[src]
		started++
		g.Go(func() error {
			log.Info().Msg("stage started")
			return stage.Run(gctx, o, stage.RunConfig{Interval: interval, Logger: log, Source: src, Metrics: deps.metrics,
				OnProgress: func(p stage.Progress) {
					log.Debug().Str("work", p.Work).Int("records", p.Records).Int("dead_letters", p.DeadLetters).Msg("committed")
				}})
		})
	}
	if want["webhooks"] {
		if set.shop == nil {
			return errors.New("ingest webhooks: sources.tiktokshop is not configured (the app key and secret verify signatures)")
		}
		g.Go(func() error { return a.serveWebhooks(gctx, s, set, k, follow) })
	}
	if started == 0 {
		return errors.New("ingest: no source to run")
	}
	return g.Wait()
}

// serveWebhooks serves POST /webhooks/tiktok until ctx ends.
func (a *app) serveWebhooks(ctx context.Context, s config.Sources, set *sourceSet, k stage.Kafka, follow *stage.OrderQueue) error {
	log := a.log.With().Str(logging.Stage, "ingest-webhooks").Str(logging.Source, webhook.Source).Logger()
	if err := stage.EnsureTopics(ctx, k, schemas.TopicTikTokWebhookEvents); err != nil {
		return err
	}
	kw, err := stage.NewKafkaWriter(k, nil)
	if err != nil {
		return err
	}
	defer kw.Close()
	h, err := webhook.NewHandler(webhook.Config{AppKey: set.appKey, AppSecret: set.secret, Writer: kw,
		Follower: stage.Follower{Queue: follow}, DeadLetter: kw.DeadLetter, MaxBodyBytes: s.Webhooks.MaxBodyBytes, Logger: &log,
		Registerer: set.reg})
	if err != nil {
		return err
	}
	listen := s.Webhooks.Listen
	if listen == "" {
		listen = "127.0.0.1:8088"
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("webhooks: listen on %s: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle(webhook.Path, h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info().Str("listen", ln.Addr().String()).Str("path", webhook.Path).Msg("webhook receiver listening")
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhooks: %w", err)
	}
	return nil
}

func newBackfillCmd(a *app) *cobra.Command {
	var since, until string
	cmd := &cobra.Command{
		Use:       "backfill amazon|tiktokshop|tiktokbiz --since DATE",
		Short:     "Pull a source's history in resumable slices within its rate limits, with progress",
		ValidArgs: []string{"amazon", "tiktokshop", "tiktokbiz"},
		Long: `Run the source's stage from --since (YYYY-MM-DD) up to now (or --until) and
stop when it has caught up. Every slice (a getOrders or update_time window, a
report day, a Brand Analytics week, a snapshot) commits with its cursor in one
Kafka transaction, so an interrupted backfill resumes where it stopped when run
again. --since applies when the source has no cursor yet; the live stage of
the same source must not run meanwhile (they share a transactional id, and the
newer one fences the other). A line per slice shows records, % done and ETA.`,
		Args: cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.load(); err != nil {
				return err
			}
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
			cfg := a.cfg
			if len(cfg.Kafka.Brokers) == 0 || cfg.SchemaRegistry.URL == "" {
				return fmt.Errorf("backfill needs kafka.brokers and schema_registry.url")
			}
			return a.backfill(cmd.Context(), cmd.OutOrStdout(), ingestDeps{brokers: cfg.Kafka.Brokers, registryURL: cfg.SchemaRegistry.URL}, args[0], from, to)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "first day of history, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&until, "until", "", "stop at this day, YYYY-MM-DD (default: now)")
	_ = cmd.MarkFlagRequired("since")
	return cmd
}

// backfill steps one source's stage from since to until, printing a line
// per slice.
func (a *app) backfill(ctx context.Context, out io.Writer, deps ingestDeps, source string, since, until time.Time) error {
	s, _, err := a.resolveSources(ctx, false)
	if err != nil {
		return err
	}
	s.Amazon.Since = since.Format(time.DateOnly)
	s.TikTokShop.Since = since.Format(time.DateOnly)
	set, err := a.clients(s, a.log, nil)
	if err != nil {
		return err
	}
	serde, err := a.serde(ctx, deps.registryURL)
	if err != nil {
		return err
	}
	k := stage.Kafka{ClientOpts: append([]kgo.Opt{kgo.SeedBrokers(deps.brokers...)}, a.kafkaOpts()...), Serde: serde, Prefix: a.cfg.Kafka.TopicPrefix}
	open, _, err := a.openers(s, set, k, until, nil)
	if err != nil {
		return err
	}
	o, ok := open[source]
	if !ok {
		return fmt.Errorf("backfill %s: the source is not configured", source)
	}
	st, err := o(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return stage.Backfill(ctx, st, stage.BackfillConfig{Since: since, Until: until, Out: out})
}

// startIngest runs every configured source's stage (and the webhook
// receiver when sources.webhooks.listen is set or the sources are
// simulated) for `run`, restarting them with capped backoff, until ctx ends;
// the channel closes when they stopped. Nothing runs when no source is configured. The stages' metrics go to reg.
func (a *app) startIngest(ctx context.Context, deps ingestDeps, reg prometheus.Registerer) (<-chan struct{}, error) {
	s := a.cfg.Sources
	var sources []string
	if s.Simulate || s.Amazon.Endpoint != "" {
		sources = append(sources, "amazon")
	}
	if s.Simulate || s.TikTokShop.APIBaseURL != "" {
		sources = append(sources, "tiktokshop")
		// Simulated TikTok Shop sends webhooks; a real one does when a
		// receiver address is configured.
		if s.Simulate || s.Webhooks.Listen != "" {
			sources = append(sources, "webhooks")
		}
	}
	if s.Simulate || s.TikTokBiz.BaseURL != "" {
		sources = append(sources, "tiktokbiz")
	}
	if len(sources) == 0 {
		done := make(chan struct{})
		close(done)
		return done, nil
	}
	metrics, err := stage.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("ingest metrics: %w", err)
	}
	deps.metrics, deps.reg = metrics, reg
	log := a.log.With().Str(logging.Stage, "run").Logger()
	log.Info().Strs("sources", sources).Bool("simulated", s.Simulate).Msg("starting ingest stages")
	return a.supervise(ctx, "ingest", func(ctx context.Context) error { return a.ingestWith(ctx, deps, sources...) }), nil
}

// replacing registers a collector in place of an equal one that an earlier
// incarnation of a restarted stage registered: the counters start again
// from zero, which Prometheus reads as a counter reset.
type replacing struct{ prometheus.Registerer }

func (r replacing) Register(c prometheus.Collector) error {
	err := r.Registerer.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		r.Registerer.Unregister(are.ExistingCollector)
		return r.Registerer.Register(c)
	}
	return err
}

func (r replacing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}
