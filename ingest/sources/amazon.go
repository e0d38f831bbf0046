package sources

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/secret"
)

// amazonSource is the Amazon Selling Partner API.
var amazonSource = Source{
	name:       amazon.Source,
	configured: func(cfg config.Sources) bool { return cfg.Amazon.Endpoint != "" },
	simulate: func(cfg *config.Sources, sm *sim.Sim) {
		d := sm.Description()
		a := &cfg.Amazon
		a.Endpoint, a.TokenURL, a.MarketplaceID = d.Amazon.Endpoint, d.Amazon.TokenURL, d.MarketplaceID
		a.ClientID, a.ClientSecret, a.RefreshToken = d.Amazon.Credentials.ClientID, secret.Secret(d.Amazon.Credentials.ClientSecret), secret.Secret(d.Amazon.Credentials.RefreshToken)
		// Simulated reports finish in seconds (see sim.Demo): ask after one.
		a.ReportPollInterval = min(a.ReportPollInterval, time.Second)
		// A seller lists its own ASINs; the simulated seller's are its catalog.
		for _, e := range sm.World().Truth().Catalog() {
			a.ASINs = append(a.ASINs, e.ASIN)
		}
		if a.Since == "" {
			// The simulated world starts at its epoch: ingest its history,
			// from the epoch's day in the marketplace's zone.
			a.Since = InZone(d.WorldStart, a.ReportZone)
		}
	},
	stage: func(cfg config.Sources, env Env) (Stage, error) {
		c := cfg.Amazon
		zone, err := time.LoadLocation(c.ReportZone)
		if err != nil {
			return Stage{}, err
		}
		since, err := env.since(c.Since, c.ReportZone)
		if err != nil {
			return Stage{}, err
		}
		// The client names its source in its own log lines.
		log := env.Log
		client, err := amazon.NewClient(amazon.Config{Endpoint: c.Endpoint, TokenURL: c.TokenURL,
			Credentials:   amazon.Credentials{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RefreshToken: c.RefreshToken},
			MarketplaceID: c.MarketplaceID, ReportZone: zone, ReportsInFlight: c.ReportsInFlight,
			ReportPollInterval: c.ReportPollInterval, Logger: &log, Registerer: env.Registerer})
		if err != nil {
			return Stage{}, fmt.Errorf("client: %w", err)
		}
		scfg := stage.AmazonConfig{Kafka: env.Kafka, Client: client, Instance: cfg.Instance, Since: since, Until: env.Until,
			Lookback: c.Lookback, ReportInterval: c.ReportInterval, CatalogInterval: c.CatalogInterval,
			BrandAnalyticsPeriods: c.BrandAnalyticsPeriods, ASINs: c.ASINs, Logger: env.Log}
		return Stage{
			Open:     func(ctx context.Context) (stage.Stepper, error) { return stage.OpenAmazon(ctx, scfg) },
			Interval: c.PollInterval,
		}, nil
	},
}
