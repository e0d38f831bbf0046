package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/sources"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/infra"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/supervise"
)

func newRunCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the pipeline in one process on embedded defaults: warehouse, broker and registry",
		Args:  cobra.NoArgs,
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd.Context())
		}),
	}
}

// checker is a health check of one component.
type checker interface {
	Ping(ctx context.Context) error
}

func (a *app) run(ctx context.Context) error {
	started := time.Now() // backfills are timed from here
	cfg := a.cfg
	log := a.log.With().Str("stage", "run").Logger()
	out := os.Stdout

	metricsReg := prometheus.NewRegistry()
	supMetrics, err := supervise.NewMetrics(metricsReg)
	if err != nil {
		return err
	}
	// The warehouse child outlives the pipeline's parts: it stops after
	// them, when run returns.
	infraCtx, stopInfra := context.WithCancel(context.WithoutCancel(ctx))
	infraSup := supervise.New(a.log, supMetrics, supervise.Policy{})
	defer func() {
		stopInfra()
		infraSup.Wait()
	}()
	warehouseURL, warehouseCheck, err := a.startWarehouse(ctx, infraCtx, infraSup)
	if err != nil {
		return err
	}

	broker, err := infra.StartBroker(ctx, cfg.Kafka.Brokers, cfg.Kafka.Listen, cfg.DataDir, cfg.Kafka.User, cfg.Kafka.Password.Reveal(), a.kafkaOpts()...)
	if err != nil {
		return err
	}
	defer broker.Close()

	registry, err := infra.StartRegistry(ctx, cfg.SchemaRegistry.URL, cfg.SchemaRegistry.Listen, cfg.SchemaRegistry.User, cfg.SchemaRegistry.Password.Reveal())
	if err != nil {
		return err
	}
	defer registry.Close()

	subjects, err := a.registerSchemas(ctx, registry.URL)
	if err != nil {
		return err
	}

	checks := map[string]checker{"warehouse": warehouseCheck, "kafka": broker, "schema_registry": registry}
	// The analytics page: on the metrics listener unless ui.listen.
	page := &lateHandler{}
	var onMetrics []route
	if cfg.UI.Enabled && cfg.UI.Listen == "" {
		onMetrics = append(onMetrics, route{"/", page})
	}
	metricsAddr, stopMetrics, err := serveOps(cfg.Metrics.Listen, checks, metricsReg, onMetrics...)
	if err != nil {
		return err
	}
	defer stopMetrics()

	where := func(inProcess bool) string {
		if inProcess {
			return "embedded"
		}
		return "configured"
	}
	fmt.Fprintf(out, "warehouse        %s (%s)\n", warehouseURL, where(cfg.Warehouse.Addr == ""))
	if cfg.Warehouse.Addr == "" && cfg.Warehouse.NativeListen != "" {
		fmt.Fprintf(out, "native protocol  clickhouse://%s (embedded)\n", cfg.Warehouse.NativeListen)
	}
	fmt.Fprintf(out, "kafka            %v (%s)\n", broker.Seeds, where(broker.InProcess()))
	fmt.Fprintf(out, "schema registry  %s (%s), %d subjects registered\n", registry.URL, where(registry.InProcess()), len(subjects))
	fmt.Fprintf(out, "metrics          http://%s/metrics  health: /healthz /readyz\n", metricsAddr)
	// Simulated sources start once, for run's whole life.
	srcs := cfg.Sources
	if srcs.Simulate {
		s, sm, err := sources.Simulate(ctx, srcs, true)
		if err != nil {
			return err
		}
		srcs = s
		for _, l := range simBanner(sm.Description(), s.Amazon.ReportZone) {
			fmt.Fprintln(out, l)
		}
	}
	fmt.Fprintf(out, "try: curl '%s/?query=SELECT+version()'\n", warehouseURL)
	fmt.Fprintf(out, "joined rows, once both channels have data:\n  curl '%s/' --data-binary \"%s\"\n", warehouseURL, joinedQuery)
	if err := readiness(ctx, checks, time.Minute); err != nil {
		return err
	}
	var pageParts []supervise.Part
	if cfg.UI.Enabled {
		pageURL, part, err := a.startPage(ctx, page, metricsAddr)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "analytics page   %s\n", pageURL)
		pageParts = part
	}
	fmt.Fprintln(out, "all components healthy; Ctrl-C stops")
	log.Info().Msg("running")
	p := pipeline{brokers: broker.Seeds, registryURL: registry.URL, reg: metricsReg}
	parts, err := a.pipelineParts(ctx, p, srcs)
	if err != nil {
		return err
	}
	dbt, err := a.dbtParts(ctx, out, broker.Seeds, metricsReg)
	if err != nil {
		return err
	}
	sup := supervise.New(a.log, supMetrics, supervise.Policy{})
	sup.Start(ctx, append(append(parts, dbt...), pageParts...)...)
	go reportProgress(ctx, out, metricsReg, 10*time.Second, started)
	<-ctx.Done()
	log.Info().Msg("stopping")
	sup.Wait()
	return nil
}

// pipelineParts are run's supervised parts: the loader, the transform and
// the ingest stages of the configured (or simulated) sources, with the
// webhook receiver when TikTok Shop is simulated or sources.webhooks.listen
// is set.
func (a *app) pipelineParts(ctx context.Context, p pipeline, srcs config.Sources) ([]supervise.Part, error) {
	loader, err := a.loadPart(p, true)
	if err != nil {
		return nil, err
	}
	transform, err := a.transformParts(p)
	if err != nil {
		return nil, err
	}
	parts := append([]supervise.Part{loader}, transform...)
	names := sources.Configured(srcs)
	if len(names) == 0 {
		return parts, nil
	}
	a.log.Info().Str(logging.Stage, "run").Strs("sources", names).Bool("simulated", srcs.Simulate).Msg("starting ingest stages")
	ingest, err := a.ingestParts(ctx, p, srcs, names...)
	if err != nil {
		return nil, err
	}
	return append(parts, ingest...), nil
}

// simBanner returns run's lines about simulated sources: where they are,
// how much history the backfill replays, the planted halo, and the rate
// limits (scaled for the demo, or Amazon's).
func simBanner(d sim.Description, zone string) []string {
	lines := []string{fmt.Sprintf("simulated APIs   %s (seed %d): a world from %s (%s), %d weeks ago, backfilled first",
		d.BaseURL, d.Seed, sources.InZone(d.WorldStart, zone), zone, int(time.Since(d.WorldStart).Hours()/24/7))}
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

// startWarehouse connects to the configured ClickHouse, or runs the
// embedded warehouse as a child process, a part of sup until partCtx ends,
// and waits (until ctx ends) for it to answer.
func (a *app) startWarehouse(ctx, partCtx context.Context, sup *supervise.Supervisor) (string, checker, error) {
	cfg := a.cfg
	if cfg.Warehouse.Addr != "" {
		url := a.warehouse(1).URL()
		if cfg.Warehouse.Protocol == "native" {
			url = "clickhouse://" + cfg.Warehouse.Addr
		}
		return url, a.warehouseCheck(), nil
	}
	bin, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("find own executable to start the warehouse: %w", err)
	}
	// The child reads the same configuration (warehouse.user and its
	// password, which it enforces); the environment it inherits as is.
	var extra []string
	if a.configPath != "" {
		extra = []string{"--config", a.configPath}
	}
	w, err := infra.NewWarehouse(bin, cfg.Warehouse.Listen, cfg.Warehouse.NativeListen, filepath.Join(cfg.DataDir, "warehouse"),
		a.log.With().Str(logging.Stage, "warehouse").Logger(), extra...)
	if err != nil {
		return "", nil, err
	}
	sup.Go(partCtx, "warehouse", w)
	if err := readiness(ctx, map[string]checker{"warehouse": w}, 2*time.Minute); err != nil {
		return "", nil, err
	}
	return w.URL, w, nil
}

// warehouseCheck is the health of the configured warehouse: /ping over
// HTTP(S); over the native protocol, that its port accepts connections.
func (a *app) warehouseCheck() checker {
	w := a.warehouse(1)
	if w.Protocol == "http" {
		return httpWarehouse{url: w.URL(), client: &http.Client{Transport: &http.Transport{TLSClientConfig: w.TLS}}}
	}
	return nativePort(w.Addr)
}

type httpWarehouse struct {
	url    string
	client *http.Client
}

func (h httpWarehouse) Ping(ctx context.Context) error {
	return infra.PingClickHouseHTTP(ctx, h.client, h.url)
}

// nativePort is the health of a warehouse reached over the native
// protocol: its port accepts connections (the stages authenticate when they
// connect).
type nativePort string

func (a nativePort) Ping(ctx context.Context) error { return infra.DialPort(ctx, string(a)) }

// stageChecks are the readiness checks of a stage run on its own: its
// Kafka brokers and schema registry, with the configured credentials, and
// the warehouse if it writes to one.
func (a *app) stageChecks(brokers []string, registryURL string, warehouse bool) map[string]checker {
	reg := a.cfg.SchemaRegistry
	checks := map[string]checker{"kafka": infra.ExternalBroker(brokers, a.kafkaOpts()...),
		"schema_registry": infra.ExternalRegistry(registryURL, reg.User, reg.Password.Reveal())}
	if warehouse {
		checks["warehouse"] = a.warehouseCheck()
	}
	return checks
}

// readiness waits until every component answers, at most timeout.
func readiness(ctx context.Context, checks map[string]checker, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for name, c := range checks {
		for {
			err := c.Ping(ctx)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not healthy: %w", name, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// readyTimeout bounds a /readyz request's checks.
const readyTimeout = 3 * time.Second

// route is a handler served next to the ops endpoints.
type route struct {
	pattern string
	handler http.Handler
}

// serveOps serves /metrics (reg, plus Go and process metrics), /healthz (the
// process is up), /readyz (every component answers), /debug/pprof and extra.
func serveOps(listen string, checks map[string]checker, reg *prometheus.Registry, extra ...route) (string, func(), error) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	// Profiles of the running process (go tool pprof
	// http://<metrics.listen>/debug/pprof/heap), on the same loopback
	// listener as the metrics.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		// A dependency that accepts connections but never answers must not
		// hang the probe: every check gets the same few seconds, at once.
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		errs := make([]error, 0, len(checks))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name, c := range checks {
			wg.Go(func() {
				if err := c.Ping(ctx); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	for _, r := range extra {
		mux.Handle(r.pattern, r.handler)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", nil, fmt.Errorf("metrics listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
