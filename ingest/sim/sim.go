// Package sim serves every marketplace simulator (Amazon SP-API, TikTok Shop,
// TikTok Business) over one shared world on one listener, routing by path
// prefix, as `shopstream sim` does. Start returns a JSON-serialisable
// Description with each API's base URL and test credentials.
package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/tiktokbiz/tiktokbiztest"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
)

// DescriptionPath serves the Description as JSON on the simulator's listener.
const DescriptionPath = "/_sim/description"

// HaloPath serves the world's planted halo (simworld.HaloTruth) as JSON: the
// ground truth a halo analysis is judged against.
const HaloPath = "/_sim/halo"

// FaultsPath controls fault injection while the simulators serve: GET
// returns a FaultState; POST with a fault.Config as JSON applies it to every
// simulated API from the next request on (a zero config switches faults
// off) and returns the new state.
const FaultsPath = "/_sim/faults"

// WebhooksPath serves, as JSON, every webhook delivery attempt so far
// (tiktokshoptest.Attempt), or an empty list when no webhook URL is set: the
// ground truth of what a receiver acknowledged.
const WebhooksPath = "/_sim/webhooks"

// FaultState is what FaultsPath answers: the configuration in force, how
// many faults of each kind (fault.Kind's names) every API injected so far,
// and the ids of the entities each API broke (entity faults).
type FaultState struct {
	Config fault.Config              `json:"config"`
	Counts map[string]map[string]int `json:"counts"`
	Broken map[string][]string       `json:"broken"`
}

// Options configure Start.
type Options struct {
	// Seed makes the world reproducible.
	Seed uint64
	// Listen is the TCP address to serve on. Default "127.0.0.1:0".
	Listen string
	// Scale sets the world's size and activity (zero fields take defaults).
	Scale simworld.Scale
	// Halo plants TikTok→Amazon halo effects in the world (none when zero).
	Halo simworld.HaloConfig
	// RateScale multiplies the rates of the simulated SP-API's usage plans
	// (see amazontest.Options.RateScale); zero or one keeps Amazon's
	// published limits. The TikTok simulators keep theirs, which a
	// backfill does not exhaust.
	RateScale float64
	// Start is the world's epoch. Default simworld.DefaultStart.
	Start time.Time
	// Clock drives the world. Default: the wall clock.
	Clock simworld.Clock
	// Faults is applied to every simulator (each keeps its own counters).
	Faults fault.Config
	// ReportQueueTime and ReportProcessingTime bound how long an Amazon
	// report stays IN_QUEUE and IN_PROGRESS (amazontest defaults when zero);
	// a demo shortens them.
	ReportQueueTime, ReportProcessingTime [2]time.Duration
	// WebhookURL, if set, receives TikTok Shop webhooks for the world's
	// order changes, polled every WebhookInterval (default one second).
	WebhookURL      string
	WebhookInterval time.Duration
	// ShutdownTimeout bounds graceful shutdown. Default five seconds.
	ShutdownTimeout time.Duration
}

// AmazonDescription says how to reach the SP-API simulator.
type AmazonDescription struct {
	Endpoint    string                 `json:"endpoint"`
	TokenURL    string                 `json:"lwa_token_url"`
	Credentials amazontest.Credentials `json:"credentials"`
}

// TikTokShopDescription says how to reach the TikTok Shop simulator.
type TikTokShopDescription struct {
	APIBaseURL  string                     `json:"api_base_url"`
	AuthBaseURL string                     `json:"auth_base_url"`
	WebhookURL  string                     `json:"webhook_url,omitempty"`
	Credentials tiktokshoptest.Credentials `json:"credentials"`
}

// TikTokBusinessDescription says how to reach the TikTok Business simulator.
type TikTokBusinessDescription struct {
	BaseURL     string                    `json:"base_url"`
	Credentials tiktokbiztest.Credentials `json:"credentials"`
}

// Description is what `shopstream sim` prints: everything a client needs.
type Description struct {
	Seed       uint64              `json:"seed"`
	Listen     string              `json:"listen"`
	BaseURL    string              `json:"base_url"`
	WorldStart time.Time           `json:"world_start"`
	Scale      simworld.Scale      `json:"scale"`
	Halo       simworld.HaloConfig `json:"halo"`
	// RateScale is how many times Amazon's published rates the SP-API
	// simulator grants (1: the real limits).
	RateScale      float64                   `json:"rate_scale"`
	MarketplaceID  string                    `json:"marketplace_id"`
	Amazon         AmazonDescription         `json:"amazon"`
	TikTokShop     TikTokShopDescription     `json:"tiktok_shop"`
	TikTokBusiness TikTokBusinessDescription `json:"tiktok_business"`
}

// Sim is a running simulator.
type Sim struct {
	world    *simworld.World
	desc     Description
	srv      *http.Server
	webhooks *tiktokshoptest.WebhookSender
	Amazon   *amazontest.Simulator
	Shop     *tiktokshoptest.Simulator
	Business *tiktokbiztest.Simulator

	done     chan struct{}
	mu       sync.Mutex
	err      error
	shutdown time.Duration
}

// Start builds the world, starts serving every simulator on opts.Listen and
// returns once the listener is bound. The simulator stops when ctx is done or
// Close is called.
func Start(ctx context.Context, opts Options) (*Sim, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Clock == nil {
		opts.Clock = simworld.NewWallClock()
	}
	if opts.WebhookInterval <= 0 {
		opts.WebhookInterval = time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	if opts.RateScale <= 0 {
		opts.RateScale = 1
	}
	w, err := simworld.New(simworld.Config{Seed: opts.Seed, Start: opts.Start, Clock: opts.Clock, Scale: opts.Scale, Halo: opts.Halo})
	if err != nil {
		return nil, fmt.Errorf("sim: build world: %w", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("sim: listen on %s: %w", opts.Listen, err)
	}
	base := "http://" + ln.Addr().String()

	s := &Sim{world: w, done: make(chan struct{}), shutdown: opts.ShutdownTimeout,
		Amazon: amazontest.New(w, amazontest.Options{Faults: opts.Faults, RateScale: opts.RateScale,
			ReportQueueTime: opts.ReportQueueTime, ReportProcessingTime: opts.ReportProcessingTime}),
		Shop:     tiktokshoptest.New(w, tiktokshoptest.Options{Faults: opts.Faults}),
		Business: tiktokbiztest.New(w, tiktokbiztest.Options{Faults: opts.Faults}),
	}
	cfg := w.Config()
	s.desc = Description{
		Seed: opts.Seed, Listen: ln.Addr().String(), BaseURL: base, WorldStart: cfg.Start, Scale: cfg.Scale,
		Halo: cfg.Halo, RateScale: opts.RateScale,
		MarketplaceID:  cfg.MarketplaceID,
		Amazon:         AmazonDescription{Endpoint: base, TokenURL: base + "/auth/o2/token", Credentials: s.Amazon.Credentials()},
		TikTokShop:     TikTokShopDescription{APIBaseURL: base, AuthBaseURL: base, WebhookURL: opts.WebhookURL, Credentials: s.Shop.Credentials()},
		TikTokBusiness: TikTokBusinessDescription{BaseURL: base + tiktokbiztest.BasePath, Credentials: s.Business.Credentials()},
	}

	mux := http.NewServeMux()
	for _, route := range []struct {
		prefixes []string
		h        http.Handler
	}{
		{amazontest.PathPrefixes, s.Amazon},
		{tiktokshoptest.PathPrefixes, s.Shop},
		{tiktokbiztest.PathPrefixes, s.Business},
	} {
		for _, p := range route.prefixes {
			mux.Handle(p, route.h)
		}
	}
	mux.HandleFunc("GET "+DescriptionPath, func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(s.desc)
	})
	mux.HandleFunc("GET "+HaloPath, func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(w.Truth().Halo())
	})
	mux.HandleFunc("GET "+WebhooksPath, func(rw http.ResponseWriter, _ *http.Request) {
		attempts := []tiktokshoptest.Attempt{}
		if s.webhooks != nil {
			attempts = append(attempts, s.webhooks.Attempts()...)
		}
		writeJSON(rw, http.StatusOK, attempts)
	})
	mux.HandleFunc("GET "+FaultsPath, func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, s.faultState())
	})
	mux.HandleFunc("POST "+FaultsPath, func(rw http.ResponseWriter, r *http.Request) {
		var c fault.Config
		dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "fault config: " + err.Error()})
			return
		}
		if err := c.Validate(); err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		for _, in := range s.injectors() {
			in.Set(c)
		}
		writeJSON(rw, http.StatusOK, s.faultState())
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(rw).Encode(map[string]string{"error": "no simulated API serves " + r.URL.Path})
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if opts.WebhookURL != "" {
		s.webhooks = tiktokshoptest.NewWebhookSender(w, s.Shop.Credentials(), tiktokshoptest.WebhookConfig{URL: opts.WebhookURL})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.webhooks.Run(runCtx, opts.WebhookInterval)
		}()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.srv.Serve(ln) }()
	go func() {
		defer close(s.done)
		var err error
		select {
		case <-runCtx.Done():
		case err = <-serveErr:
		}
		cancel()
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdown)
		defer scancel()
		if serr := s.srv.Shutdown(sctx); serr != nil && err == nil {
			err = fmt.Errorf("sim: shutdown: %w", serr)
		}
		wg.Wait()
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}()
	go func() {
		<-s.done
		cancel()
	}()
	return s, nil
}

// injectors returns every simulated API's fault injector, by API name.
func (s *Sim) injectors() map[string]*fault.Injector {
	return map[string]*fault.Injector{"amazon": s.Amazon.Faults(), "tiktok_shop": s.Shop.Faults(), "tiktok_business": s.Business.Faults()}
}

func (s *Sim) faultState() FaultState {
	st := FaultState{Counts: map[string]map[string]int{}, Broken: map[string][]string{}}
	for api, in := range s.injectors() {
		st.Config = in.Config()
		if b := in.Broken(); len(b) > 0 {
			st.Broken[api] = b
		}
		counts := map[string]int{}
		for k, n := range in.Counts() {
			counts[k.String()] = n
		}
		st.Counts[api] = counts
	}
	st.Config.OnFault = nil
	return st
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// Description returns how to reach every simulated API.
func (s *Sim) Description() Description { return s.desc }

// World returns the shared world, for ground truth.
func (s *Sim) World() *simworld.World { return s.world }

// Webhooks returns the webhook sender, or nil if no WebhookURL was set.
func (s *Sim) Webhooks() *tiktokshoptest.WebhookSender { return s.webhooks }

// Close stops serving and waits for the simulator to stop.
func (s *Sim) Close() error {
	_ = s.srv.Close()
	return s.Wait()
}

// Wait blocks until the simulator has stopped and returns why it stopped
// abnormally, if it did.
func (s *Sim) Wait() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
