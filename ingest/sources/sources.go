// Package sources is the registry of the marketplace APIs shopstream
// ingests, like the OpenTelemetry Collector's factories: each source
// registers how the configuration sets it up, how the in-process simulators
// stand in for it, and how its API client and its ingest stage are built.
// The commands hold no per-source code: they ask the registry.
//
// The sources are amazon (SP-API), tiktokshop (TikTok Shop API, with the
// webhook receiver as Webhooks) and tiktokbiz (TikTok API for Business).
package sources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/supervise"
)

// Webhooks names the webhook receiver in commands (`ingest webhooks`) and
// parts: TikTok Shop's webhooks, whose order events the TikTok Shop stage
// follows up.
const Webhooks = "webhooks"

// Source is one registered source.
type Source struct {
	name string
	// configured reports whether cfg sets the source up.
	configured func(cfg config.Sources) bool
	// simulate points cfg at the simulators.
	simulate func(cfg *config.Sources, sm *sim.Sim)
	// stage builds the source's client and returns its stage.
	stage func(cfg config.Sources, env Env) (Stage, error)
}

// registry is every source, in the order the commands list them.
var registry = []Source{amazonSource, tiktokShopSource, tiktokBizSource}

// All returns the registered sources.
func All() []Source { return slices.Clone(registry) }

// Names returns the names of the registered sources.
func Names() []string {
	names := make([]string, len(registry))
	for i, s := range registry {
		names[i] = s.name
	}
	return names
}

// Lookup returns the source called name.
func Lookup(name string) (Source, bool) {
	for _, s := range registry {
		if s.name == name {
			return s, true
		}
	}
	return Source{}, false
}

// Name is the source's name in commands, configuration (sources.<name>),
// metrics and cursors.
func (s Source) Name() string { return s.name }

// Configured reports whether cfg sets the source up: its endpoint is set
// (by the operator, or by Simulate).
func (s Source) Configured(cfg config.Sources) bool { return s.configured(cfg) }

// Env is what a stage takes from its surroundings.
type Env struct {
	Kafka stage.Kafka
	// Log is the process's logger; each stage and client adds its names.
	Log zerolog.Logger
	// Registerer, if set, takes the API clients' and the webhook
	// receiver's metrics.
	Registerer prometheus.Registerer
	// Since, if set, is the day (YYYY-MM-DD, in the source's zone) where
	// history starts instead of the configured since (a backfill's
	// --since).
	Since string
	// Until, if set, ends the stage's windows there (a backfill).
	Until time.Time
	// Follow, if set, is the queue of orders named by webhooks that the
	// TikTok Shop stage fetches first.
	Follow *stage.OrderQueue
}

func (e Env) stageLog(source string) zerolog.Logger {
	return e.Log.With().Str(logging.Stage, "ingest-"+source).Str(logging.Source, source).Logger()
}

// Stage is a source's ingest stage with its API client built: the client
// lives as long as the Stage (its rate limiters and tokens outlive the
// stage's incarnations).
type Stage struct {
	Source string
	// Open opens an incarnation.
	Open func(context.Context) (stage.Stepper, error)
	// Interval is the wait when a step found nothing to do.
	Interval time.Duration
	log      zerolog.Logger
}

// Stage builds the source's API client from cfg and returns its stage.
func (s Source) Stage(cfg config.Sources, env Env) (Stage, error) {
	if !s.Configured(cfg) {
		return Stage{}, fmt.Errorf("ingest %s: the source is not configured (set sources.%s or sources.simulate)", s.name, s.name)
	}
	st, err := s.stage(cfg, env)
	if err != nil {
		return Stage{}, fmt.Errorf("%s: %w", s.name, err)
	}
	st.Source, st.log = s.name, env.stageLog(s.name)
	return st, nil
}

// Runner returns the stage as a supervised part; metrics (nil: none) counts
// its steps.
func (st Stage) Runner(metrics *stage.Metrics) (supervise.Part, error) {
	log := st.log
	r, err := stage.NewRunner(st.Open, stage.RunConfig{Interval: st.Interval, Logger: log, Source: st.Source, Metrics: metrics,
		OnProgress: func(p stage.Progress) {
			log.Debug().Str("work", p.Work).Int("records", p.Records).Int("dead_letters", p.DeadLetters).Msg("committed")
		}})
	if err != nil {
		return supervise.Part{}, err
	}
	return supervise.Part{Name: "ingest-" + st.Source, Runner: r}, nil
}

// Parts builds the supervised parts that ingest the named sources (and
// Webhooks: the receiver, with the TikTok Shop stage that follows its
// events up) from cfg; metrics (nil: none) counts the stages' steps.
func Parts(cfg config.Sources, env Env, metrics *stage.Metrics, names ...string) ([]supervise.Part, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	if want[Webhooks] {
		env.Follow = &stage.OrderQueue{}
		want[tiktokShopSource.name] = true
	}
	var parts []supervise.Part
	for _, s := range registry {
		if !want[s.name] {
			continue
		}
		delete(want, s.name)
		st, err := s.Stage(cfg, env)
		if err != nil {
			return nil, err
		}
		p, err := st.Runner(metrics)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	if want[Webhooks] {
		delete(want, Webhooks)
		r, err := receiver(cfg, env)
		if err != nil {
			return nil, err
		}
		parts = append(parts, supervise.Part{Name: "ingest-" + Webhooks, Runner: r})
	}
	for n := range want {
		return nil, fmt.Errorf("ingest %s: no such source (known: %v and %s)", n, Names(), Webhooks)
	}
	if len(parts) == 0 {
		return nil, errors.New("ingest: no source to run")
	}
	return parts, nil
}

// Configured returns the names of the sources cfg sets up or simulates,
// Webhooks included when TikTok Shop is simulated (the simulator sends
// webhooks) or a receiver address is set: what `run` ingests.
func Configured(cfg config.Sources) []string {
	var names []string
	for _, s := range registry {
		if cfg.Simulate || s.Configured(cfg) {
			names = append(names, s.name)
		}
	}
	if cfg.Simulate || tiktokShopSource.Configured(cfg) && cfg.Webhooks.Listen != "" {
		names = append(names, Webhooks)
	}
	return names
}

// Owner names the source whose stage owns the cursors and replays the dead
// letters of name: the TikTok Shop stage for the webhook receiver, which
// hands the orders its events name to that stage; name itself otherwise.
func Owner(name string) string {
	if name == Webhooks {
		return tiktokShopSource.name
	}
	return name
}

// since returns the start, in zone, of env.Since if set, else of the
// configured day.
func (e Env) since(configured, zone string) (time.Time, error) {
	if e.Since != "" {
		configured = e.Since
	}
	return parseSince(configured, zone)
}

// Demo is the simulated world cfg.Sim describes.
func Demo(cfg config.Sources) sim.Demo {
	return sim.Demo{Seed: cfg.Seed, HistoryWeeks: cfg.Sim.HistoryWeeks, Planted: cfg.Sim.HaloPlanted,
		SpikeControls: cfg.Sim.HaloSpikeControls, RateScale: cfg.Sim.RateScale}
}

// Simulate starts the simulators of the world cfg.Sim describes (stopped
// when ctx ends) and returns cfg with every source pointed at them. With
// webhooks, the simulated TikTok Shop sends signed webhooks for its order
// changes to the receiver at cfg.Webhooks.Listen (a free port when none is
// set).
func Simulate(ctx context.Context, cfg config.Sources, webhooks bool) (config.Sources, *sim.Sim, error) {
	var webhookURL string
	if webhooks {
		listen, err := concreteListen(ctx, cfg.Webhooks.Listen)
		if err != nil {
			return cfg, nil, err
		}
		cfg.Webhooks.Listen, webhookURL = listen, "http://"+listen+webhook.Path
	}
	opts, err := Demo(cfg).Options(time.Now(), nil)
	if err != nil {
		return cfg, nil, err
	}
	opts.WebhookURL = webhookURL
	sm, err := sim.Start(ctx, opts)
	if err != nil {
		return cfg, nil, err
	}
	for _, s := range registry {
		s.simulate(&cfg, sm)
	}
	return cfg, sm, nil
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

// InZone returns t's day in the named zone (validated with the config),
// YYYY-MM-DD.
func InZone(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.DateOnly)
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
