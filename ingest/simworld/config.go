package simworld

import (
	"fmt"
	"time"
	_ "time/tzdata" // the world's marketplace and shop zones must resolve on any machine
)

// Scale sets how big and how busy the world is.
type Scale struct {
	// Brands is the number of brands the seller owns. Default 4.
	Brands int `json:"brands"`
	// Products is the number of product families (TikTok products, Amazon
	// parent items); each has one to three variants. Default 24.
	Products int `json:"products"`
	// VideosPerDay is the mean number of shop videos posted per day. Default 6.
	VideosPerDay float64 `json:"videos_per_day"`
	// AmazonOrdersPerMinute is the mean Amazon order rate. Default 1.
	AmazonOrdersPerMinute float64 `json:"amazon_orders_per_minute"`
	// TikTokOrdersPerMinute is the mean TikTok Shop order rate. Default 0.5.
	TikTokOrdersPerMinute float64 `json:"tiktok_orders_per_minute"`
}

// Config describes a world. The zero value of every field selects its default.
type Config struct {
	// Seed makes the world reproducible: same seed and config, same world.
	Seed uint64
	// Start is the world's epoch: orders exist from Start on, videos from 30
	// days before it. Default 2026-01-01T00:00:00Z.
	Start time.Time
	// Clock drives the world and its simulators. Default: a ManualClock
	// reading Start plus 14 days, so there is history to backfill.
	Clock Clock
	// Scale sets the world's size and activity.
	Scale Scale
	// MarketplaceID is the Amazon marketplace the seller sells in.
	// Default ATVPDKIKX0DER (US).
	MarketplaceID string
	// AmazonZone is the zone in which Amazon report dates are days. Whether
	// Amazon report dates are UTC or marketplace-local is an open question
	// (selling-partner-api-models#5209); Seller Central's business reports use
	// the marketplace's local time, which is the more credible reading, so the
	// default is America/Los_Angeles for the US marketplace.
	AmazonZone *time.Location
	// ShopZone is the TikTok shop's registered time zone, in which TikTok
	// analytics dates are days. Default America/Los_Angeles.
	ShopZone *time.Location
	// Currency is the currency of both channels. Default USD.
	Currency string
	// Halo plants TikTok→Amazon halo effects (see HaloConfig); the zero
	// value plants none.
	Halo HaloConfig
}

// DefaultAmazonZone and DefaultShopZone are the default zones of Amazon
// report dates and TikTok analytics dates.
const (
	DefaultAmazonZone = "America/Los_Angeles"
	DefaultShopZone   = "America/Los_Angeles"
)

// DefaultStart is the default world epoch.
var DefaultStart = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// DefaultHistory is how far past Start the default clock begins.
const DefaultHistory = 14 * 24 * time.Hour

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() (Config, error) {
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(time.Minute)
	if c.Clock == nil {
		c.Clock = NewManualClock(c.Start.Add(DefaultHistory))
	}
	if c.Scale.Brands <= 0 {
		c.Scale.Brands = 4
	}
	if c.Scale.Products <= 0 {
		c.Scale.Products = 24
	}
	if c.Scale.VideosPerDay <= 0 {
		c.Scale.VideosPerDay = 6
	}
	if c.Scale.AmazonOrdersPerMinute <= 0 {
		c.Scale.AmazonOrdersPerMinute = 1
	}
	if c.Scale.TikTokOrdersPerMinute <= 0 {
		c.Scale.TikTokOrdersPerMinute = 0.5
	}
	if c.MarketplaceID == "" {
		c.MarketplaceID = "ATVPDKIKX0DER"
	}
	if c.Currency == "" {
		c.Currency = "USD"
	}
	c.Halo = c.Halo.withDefaults()
	if c.Halo.Planted < 0 || c.Halo.SpikeControls < 0 {
		return c, fmt.Errorf("simworld: halo: planted and spike controls must not be negative")
	}
	var err error
	if c.AmazonZone == nil {
		if c.AmazonZone, err = time.LoadLocation(DefaultAmazonZone); err != nil {
			return c, fmt.Errorf("load Amazon zone: %w", err)
		}
	}
	if c.ShopZone == nil {
		if c.ShopZone, err = time.LoadLocation(DefaultShopZone); err != nil {
			return c, fmt.Errorf("load shop zone: %w", err)
		}
	}
	if c.Scale.Brands > 12 {
		return c, fmt.Errorf("simworld: at most 12 brands, got %d", c.Scale.Brands)
	}
	if c.Scale.Products > 5000 {
		return c, fmt.Errorf("simworld: at most 5000 products, got %d", c.Scale.Products)
	}
	return c, nil
}
