package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/simworld"
)

func newSimCmd() *cobra.Command {
	var opts sim.Options
	var demo sim.Demo
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve simulators of the Amazon SP-API, TikTok Shop and TikTok Business APIs over one seeded world",
		Long: `Serve faithful simulators of every marketplace API at their real paths, over one
seeded world of brands, products, videos and orders that exist on both channels.
Prints one JSON line with each API's base URL and test credentials, then serves
until interrupted. The same seed gives the same world.

--history-weeks N serves make run's demo world instead: it begins on the
Sunday N weeks before this week's, with the planted halo (--planted,
--spike-controls; ground truth at GET /_sim/halo) and --rate-scale times
Amazon's published rate limits; the size flags change the demo's sizes.

The --fault-* flags inject faults from the start; POST /_sim/faults with a
JSON fault configuration changes them while the simulators serve, GET
reports what each API injected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if demo.HistoryWeeks > 0 {
				demo.Seed = opts.Seed
				d, err := demo.Options(time.Now(), nil)
				if err != nil {
					return err
				}
				d.Listen, d.Faults, d.WebhookURL = opts.Listen, opts.Faults, opts.WebhookURL
				// Sizes given on the command line change the demo's.
				d.Scale = overrideScale(d.Scale, opts.Scale)
				opts = d
			} else {
				opts.Halo = simworld.HaloConfig{Planted: demo.Planted, SpikeControls: demo.SpikeControls}
				opts.RateScale = demo.RateScale
			}
			s, err := sim.Start(cmd.Context(), opts)
			if err != nil {
				return fmt.Errorf("start simulators: %w", err)
			}
			line, err := json.Marshal(s.Description())
			if err != nil {
				return fmt.Errorf("describe simulators: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(line))
			<-cmd.Context().Done()
			if err := s.Close(); err != nil {
				return fmt.Errorf("stop simulators: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&opts.Seed, "seed", 1, "seed of the world")
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8600", "address to serve every API on")
	f.IntVar(&opts.Scale.Products, "products", 0, "product families (default 24)")
	f.IntVar(&opts.Scale.Brands, "brands", 0, "brands (default 4)")
	f.Float64Var(&opts.Scale.VideosPerDay, "videos-per-day", 0, "mean shop videos posted per day (default 6)")
	f.Float64Var(&opts.Scale.AmazonOrdersPerMinute, "amazon-orders-per-minute", 0, "mean Amazon order rate (default 1)")
	f.Float64Var(&opts.Scale.TikTokOrdersPerMinute, "tiktok-orders-per-minute", 0, "mean TikTok Shop order rate (default 0.5)")
	f.StringVar(&opts.WebhookURL, "webhook-url", "", "send signed TikTok Shop webhooks for order changes to this URL")
	f.IntVar(&demo.HistoryWeeks, "history-weeks", 0, "serve make run's demo world, beginning this many weeks back (0: the 2026-01-01 epoch)")
	f.IntVar(&demo.Planted, "planted", 0, "products with a planted TikTok→Amazon halo")
	f.IntVar(&demo.SpikeControls, "spike-controls", 0, "products whose video takes off with no Amazon effect")
	f.Float64Var(&demo.RateScale, "rate-scale", 1, "multiply the SP-API's published rate limits (1: Amazon's)")
	f.Float64Var(&opts.Faults.ServerErrorRate, "fault-5xx-rate", 0, "share of requests answered with a 5xx")
	f.Float64Var(&opts.Faults.TimeoutRate, "fault-timeout-rate", 0, "share of requests that hang")
	f.Float64Var(&opts.Faults.ThrottleRate, "fault-throttle-rate", 0, "share of requests throttled")
	f.Float64Var(&opts.Faults.MalformedRate, "fault-malformed-rate", 0, "share of responses with a malformed body")
	f.Float64Var(&opts.Faults.SlowRate, "fault-slow-rate", 0, "share of requests answered normally after --fault-slow-delay")
	f.DurationVar(&opts.Faults.SlowDelay, "fault-slow-delay", 0, "how long a slow answer takes (default 2s)")
	f.Float64Var(&opts.Faults.EntityRate, "fault-entity-rate", 0, "share of answers with one entity broken (TikTok Business video list)")
	return cmd
}

// overrideScale returns demo with the non-zero sizes of flags.
func overrideScale(demo, flags simworld.Scale) simworld.Scale {
	if flags.Products > 0 {
		demo.Products = flags.Products
	}
	if flags.Brands > 0 {
		demo.Brands = flags.Brands
	}
	if flags.VideosPerDay > 0 {
		demo.VideosPerDay = flags.VideosPerDay
	}
	if flags.AmazonOrdersPerMinute > 0 {
		demo.AmazonOrdersPerMinute = flags.AmazonOrdersPerMinute
	}
	if flags.TikTokOrdersPerMinute > 0 {
		demo.TikTokOrdersPerMinute = flags.TikTokOrdersPerMinute
	}
	return demo
}
