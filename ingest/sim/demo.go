package sim

import (
	"fmt"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
)

// Demo describes the simulated world `shopstream run` ingests when the
// sources are simulated: weeks of history on both channels with a planted
// halo, replayed by the backfill within minutes.
type Demo struct {
	// Seed makes the world reproducible.
	Seed uint64
	// HistoryWeeks is how far back the world begins: on the Sunday (in the
	// Amazon marketplace's zone) HistoryWeeks weeks before the current
	// week's, so HistoryWeeks-1 Sunday–Saturday weeks are complete and
	// published by Brand Analytics. At least 1.
	HistoryWeeks int
	// Planted and SpikeControls plant the halo (simworld.HaloConfig); with
	// fewer than five weeks of history there is no room for it and none is
	// planted.
	Planted, SpikeControls int
	// RateScale multiplies the SP-API simulator's rates (1: Amazon's
	// published limits).
	RateScale float64
}

// demoScale is the demo world's activity: enough orders per product and day
// for a doubling of demand to stand out of the noise, few enough that weeks
// of history replay in minutes. Fewer videos than the default keep the
// backfill's per-video analytics calls (TikTok allows about 50 a second)
// within minutes; the planted spikes dwarf them anyway.
var demoScale = simworld.Scale{AmazonOrdersPerMinute: 0.5, TikTokOrdersPerMinute: 0.25, VideosPerDay: 3}

// demoFirstSpikeDay leaves two weeks of baseline before the first spike;
// demoSpikeMargin keeps the last spike's lift (lag up to four days, most of
// it gone two weeks later) inside the history.
const (
	demoFirstSpikeDay = 14
	demoSpikeMargin   = 14
)

// Options returns the simulator options of the demo world as of now on
// clock (nil: the wall clock). The world is a pure function of the seed,
// the options and the time; two calls on the same day give the same world.
func (d Demo) Options(now time.Time, clock simworld.Clock) (Options, error) {
	if d.HistoryWeeks < 1 {
		return Options{}, fmt.Errorf("demo world: history must be at least one week, got %d", d.HistoryWeeks)
	}
	zone, err := time.LoadLocation(simworld.DefaultAmazonZone)
	if err != nil {
		return Options{}, fmt.Errorf("demo world: %w", err)
	}
	today := simworld.DateOf(now, zone)
	sunday := today.AddDays(-int(today.Weekday()) - 7*d.HistoryWeeks)
	opts := Options{Seed: d.Seed, Start: sunday.Start(zone).UTC(), Clock: clock, Scale: demoScale, RateScale: d.RateScale,
		// Reports take seconds rather than minutes, so that the backfill's
		// hundreds of reports fit in minutes.
		ReportQueueTime: [2]time.Duration{500 * time.Millisecond, 1500 * time.Millisecond}, ReportProcessingTime: [2]time.Duration{time.Second, 3 * time.Second}}
	if last := 7*d.HistoryWeeks - demoSpikeMargin; last >= demoFirstSpikeDay+7 {
		opts.Halo = simworld.HaloConfig{Planted: d.Planted, SpikeControls: d.SpikeControls, FirstSpikeDay: demoFirstSpikeDay, LastSpikeDay: last}
	}
	return opts, nil
}
