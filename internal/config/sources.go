package config

import (
	"reflect"
	"slices"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/secret"
)

// Sources configures the ingest stages (shopstream ingest, backfill, and run
// when sources are configured). A source is configured when its base URL is
// set, or when Simulate is true, which points every source at in-process
// simulators.
type Sources struct {
	// Simulate makes run (and ingest) start the marketplace simulators
	// in process, on the wall clock, and ingest from them: make run's
	// default.
	Simulate bool `koanf:"simulate"`
	// Seed is the simulated world's seed.
	Seed uint64 `koanf:"seed"`
	// Instance names this instance of each stage in its transactional id;
	// it must survive restarts (a StatefulSet ordinal).
	Instance   string     `koanf:"instance"`
	Amazon     Amazon     `koanf:"amazon"`
	TikTokShop TikTokShop `koanf:"tiktokshop"`
	TikTokBiz  TikTokBiz  `koanf:"tiktokbiz"`
	Webhooks   Webhooks   `koanf:"webhooks"`
	Sim        Sim        `koanf:"sim"`
}

// Sim shapes the simulated world of Simulate (make run's demo).
type Sim struct {
	// HistoryWeeks is how many weeks back the world begins (on a Sunday
	// in the marketplace zone), all of it backfilled at the start.
	HistoryWeeks int `koanf:"history_weeks"`
	// HaloPlanted products get a TikTok video that takes off and an Amazon
	// halo some days later; HaloSpikeControls get such a video and no
	// halo (ground truth: GET /_sim/halo on the simulators).
	HaloPlanted       int `koanf:"halo_planted"`
	HaloSpikeControls int `koanf:"halo_spike_controls"`
	// RateScale multiplies the simulated SP-API's published rate limits,
	// so that weeks of history backfill in minutes; 1 keeps Amazon's
	// limits. run's banner says which.
	RateScale float64 `koanf:"rate_scale"`
}

// Amazon configures the SP-API source.
type Amazon struct {
	Endpoint      string        `koanf:"endpoint"`
	TokenURL      string        `koanf:"token_url"`
	ClientID      string        `koanf:"client_id"`
	ClientSecret  secret.Secret `koanf:"client_secret"`
	RefreshToken  secret.Secret `koanf:"refresh_token"`
	MarketplaceID string        `koanf:"marketplace_id"`
	// ReportZone is the zone report days are cut in (IANA name).
	ReportZone string `koanf:"report_zone"`
	// Since is where history starts (YYYY-MM-DD) when no cursor is stored;
	// empty means Lookback before the first start.
	Since string `koanf:"since"`
	// PollInterval is the wait when there is nothing to do. Each orders
	// poll requests a flat-file report for the lines of its window, and
	// createReport allows one a minute: the 5 min default leaves four
	// fifths of that budget to Sales & Traffic and Brand Analytics.
	PollInterval time.Duration `koanf:"poll_interval"`
	// Lookback is how long report days are read again while Amazon
	// restates them.
	Lookback        time.Duration `koanf:"lookback"`
	ReportInterval  time.Duration `koanf:"report_interval"`
	CatalogInterval time.Duration `koanf:"catalog_interval"`
	// ReportsInFlight is how many reports are generated at once (created
	// and still IN_QUEUE or IN_PROGRESS).
	ReportsInFlight int `koanf:"reports_in_flight"`
	// BrandAnalyticsPeriods are the Brand Analytics periods read (WEEK,
	// MONTH, QUARTER), each complete one once Amazon publishes it.
	BrandAnalyticsPeriods []string `koanf:"brand_analytics_periods"`
	// ReportPollInterval is the first wait before asking for a report's
	// status; it grows by half per poll (up to 2 min).
	ReportPollInterval time.Duration `koanf:"report_poll_interval"`
	// ASINs to snapshot besides those learnt from reports and orders.
	ASINs []string `koanf:"asins"`
}

// TikTokShop configures the TikTok Shop source.
type TikTokShop struct {
	APIBaseURL   string        `koanf:"api_base_url"`
	AuthBaseURL  string        `koanf:"auth_base_url"`
	AppKey       string        `koanf:"app_key"`
	AppSecret    secret.Secret `koanf:"app_secret"`
	RefreshToken secret.Secret `koanf:"refresh_token"`
	AuthCode     secret.Secret `koanf:"auth_code"`
	ShopID       string        `koanf:"shop_id"`
	// Zone is the shop's registered time zone (IANA name).
	Zone         string        `koanf:"zone"`
	Since        string        `koanf:"since"`
	PollInterval time.Duration `koanf:"poll_interval"`
	// Overlap is how far each update_time window reaches back.
	Overlap time.Duration `koanf:"overlap"`
}

// TikTokBiz configures the TikTok Business source.
type TikTokBiz struct {
	BaseURL      string        `koanf:"base_url"`
	BusinessID   string        `koanf:"business_id"`
	AccessToken  secret.Secret `koanf:"access_token"`
	RefreshToken secret.Secret `koanf:"refresh_token"`
	ClientID     string        `koanf:"client_id"`
	ClientSecret secret.Secret `koanf:"client_secret"`
	PollInterval time.Duration `koanf:"poll_interval"`
}

// Webhooks configures the TikTok Shop webhook receiver.
type Webhooks struct {
	// Listen is where POST /webhooks/tiktok is served.
	Listen string `koanf:"listen"`
	// MaxBodyBytes bounds a delivery.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// ReadHeaderTimeout, ReadTimeout (headers and body), WriteTimeout (to
	// the end of the answer) and IdleTimeout (a kept-alive connection)
	// bound how long a client may hold a connection: a stalled or
	// trickling client (slow-loris) is cut off instead of holding it
	// forever.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
}

// sourceSecretKeys are the sources' secrets: environment or *_file only.
var sourceSecretKeys = []string{
	"sources.amazon.client_secret", "sources.amazon.refresh_token",
	"sources.tiktokshop.app_secret", "sources.tiktokshop.refresh_token", "sources.tiktokshop.auth_code",
	"sources.tiktokbiz.access_token", "sources.tiktokbiz.refresh_token", "sources.tiktokbiz.client_secret",
}

func sourceDefaults() map[string]any {
	d := map[string]any{
		"sources.simulate":                       false,
		"sources.seed":                           1,
		"sources.instance":                       "0",
		"sources.topic_prefix":                   "",
		"sources.amazon.endpoint":                "",
		"sources.amazon.token_url":               amazon.DefaultTokenURL,
		"sources.amazon.client_id":               "",
		"sources.amazon.marketplace_id":          "ATVPDKIKX0DER",
		"sources.amazon.report_zone":             amazon.DefaultReportZone,
		"sources.amazon.since":                   "",
		"sources.amazon.poll_interval":           "5m",
		"sources.amazon.lookback":                amazon.DefaultRestatementLookback,
		"sources.amazon.report_interval":         stage.DefaultReportInterval,
		"sources.amazon.catalog_interval":        stage.DefaultCatalogInterval,
		"sources.amazon.reports_in_flight":       amazon.DefaultReportsInFlight,
		"sources.amazon.report_poll_interval":    amazon.DefaultReportPollInterval,
		"sources.amazon.brand_analytics_periods": stage.DefaultBrandAnalyticsPeriods(),
		"sources.sim.history_weeks":              9,
		"sources.sim.halo_planted":               6,
		"sources.sim.halo_spike_controls":        4,
		"sources.sim.rate_scale":                 120,
		"sources.amazon.asins":                   []string{},
		"sources.tiktokshop.api_base_url":        "",
		"sources.tiktokshop.auth_base_url":       tiktokshop.DefaultAuthBaseURL,
		"sources.tiktokshop.app_key":             "",
		"sources.tiktokshop.shop_id":             "",
		"sources.tiktokshop.zone":                stage.DefaultShopZone,
		"sources.tiktokshop.since":               "",
		"sources.tiktokshop.poll_interval":       "1m",
		"sources.tiktokshop.overlap":             stage.DefaultShopOverlap,
		"sources.tiktokbiz.base_url":             "",
		"sources.tiktokbiz.business_id":          "",
		"sources.tiktokbiz.client_id":            "",
		"sources.tiktokbiz.poll_interval":        stage.DefaultBusinessInterval,
		"sources.webhooks.listen":                "",
		"sources.webhooks.max_body_bytes":        webhook.DefaultMaxBodyBytes,
		"sources.webhooks.read_header_timeout":   webhook.DefaultReadHeaderTimeout,
		"sources.webhooks.read_timeout":          webhook.DefaultReadTimeout,
		"sources.webhooks.write_timeout":         webhook.DefaultWriteTimeout,
		"sources.webhooks.idle_timeout":          webhook.DefaultIdleTimeout,
	}
	for _, k := range sourceSecretKeys {
		d[k], d[k+"_file"] = "", ""
	}
	return d
}

// validate adds the sources' problems to p.
func (s Sources) validate(p *problems) {
	bad := p.add
	checkURL := func(key, v string) { p.httpURL(key, v, "") }
	checkDate := func(key, v string) {
		if v == "" {
			return
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			bad(key, "%q is not a date YYYY-MM-DD", v)
		}
	}
	checkZone := func(key, v string) {
		if _, err := time.LoadLocation(v); err != nil || v == "" {
			bad(key, "%q is not an IANA time zone", v)
		}
	}
	positive := func(key string, d time.Duration) { p.positiveDuration(key, d, "1m") }
	checkURL("sources.amazon.endpoint", s.Amazon.Endpoint)
	checkURL("sources.amazon.token_url", s.Amazon.TokenURL)
	checkZone("sources.amazon.report_zone", s.Amazon.ReportZone)
	checkDate("sources.amazon.since", s.Amazon.Since)
	positive("sources.amazon.poll_interval", s.Amazon.PollInterval)
	positive("sources.amazon.lookback", s.Amazon.Lookback)
	positive("sources.amazon.report_interval", s.Amazon.ReportInterval)
	positive("sources.amazon.catalog_interval", s.Amazon.CatalogInterval)
	if s.Amazon.ReportsInFlight < 1 {
		bad("sources.amazon.reports_in_flight", "must be at least 1")
	}
	if s.Amazon.Endpoint != "" && (s.Amazon.ClientID == "" || s.Amazon.ClientSecret == "" || s.Amazon.RefreshToken == "") {
		bad("sources.amazon", "client_id, %s and %s are required with an endpoint", EnvName("sources.amazon.client_secret"), EnvName("sources.amazon.refresh_token"))
	}
	checkURL("sources.tiktokshop.api_base_url", s.TikTokShop.APIBaseURL)
	checkURL("sources.tiktokshop.auth_base_url", s.TikTokShop.AuthBaseURL)
	checkZone("sources.tiktokshop.zone", s.TikTokShop.Zone)
	checkDate("sources.tiktokshop.since", s.TikTokShop.Since)
	positive("sources.tiktokshop.poll_interval", s.TikTokShop.PollInterval)
	positive("sources.tiktokshop.overlap", s.TikTokShop.Overlap)
	if s.TikTokShop.APIBaseURL != "" && (s.TikTokShop.AppKey == "" || s.TikTokShop.AppSecret == "" || (s.TikTokShop.RefreshToken == "" && s.TikTokShop.AuthCode == "")) {
		bad("sources.tiktokshop", "app_key, %s and one of %s or %s are required with an api_base_url",
			EnvName("sources.tiktokshop.app_secret"), EnvName("sources.tiktokshop.refresh_token"), EnvName("sources.tiktokshop.auth_code"))
	}
	checkURL("sources.tiktokbiz.base_url", s.TikTokBiz.BaseURL)
	positive("sources.tiktokbiz.poll_interval", s.TikTokBiz.PollInterval)
	if s.TikTokBiz.BaseURL != "" && (s.TikTokBiz.BusinessID == "" || s.TikTokBiz.AccessToken == "") {
		bad("sources.tiktokbiz", "business_id and %s are required with a base_url", EnvName("sources.tiktokbiz.access_token"))
	}
	positive("sources.amazon.report_poll_interval", s.Amazon.ReportPollInterval)
	for _, k := range s.Amazon.BrandAnalyticsPeriods {
		if !slices.Contains(stage.DefaultBrandAnalyticsPeriods(), k) {
			bad("sources.amazon.brand_analytics_periods", "%q is not WEEK, MONTH or QUARTER", k)
		}
	}
	if s.Sim.HistoryWeeks < 1 || s.Sim.HistoryWeeks > 104 {
		bad("sources.sim.history_weeks", "must be between 1 and 104 (the Orders API's two years)")
	}
	if s.Sim.HaloPlanted < 0 || s.Sim.HaloSpikeControls < 0 {
		bad("sources.sim", "halo_planted and halo_spike_controls must not be negative")
	}
	if s.Sim.RateScale < 1 {
		bad("sources.sim.rate_scale", "must be at least 1 (1: Amazon's published rate limits)")
	}
	p.positive("sources.webhooks.max_body_bytes", int64(s.Webhooks.MaxBodyBytes))
	positive("sources.webhooks.read_header_timeout", s.Webhooks.ReadHeaderTimeout)
	positive("sources.webhooks.read_timeout", s.Webhooks.ReadTimeout)
	positive("sources.webhooks.write_timeout", s.Webhooks.WriteTimeout)
	positive("sources.webhooks.idle_timeout", s.Webhooks.IdleTimeout)
}

// yamlDateToString turns a date the YAML parser read as a time (an unquoted
// 2026-01-01) back into YYYY-MM-DD for string fields such as
// sources.amazon.since.
func yamlDateToString(from, to reflect.Type, v any) (any, error) {
	if t, ok := v.(time.Time); ok && to.Kind() == reflect.String {
		return t.Format(time.DateOnly), nil
	}
	return v, nil
}
