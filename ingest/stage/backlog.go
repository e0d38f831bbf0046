package stage

import (
	"time"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/cursor"
)

// Backlog is how far a stage has read its history: Days of it lie between
// the stage's Since and now, and Done of them are read. A stage whose
// source has no history (lifetime snapshots) has none.
type Backlog struct {
	Days, Done float64
}

// Backlogger is a Stepper that knows its Backlog. Every stage here is one;
// Run publishes the backlog as metrics after each step.
type Backlogger interface {
	Backlog(now time.Time) Backlog
}

// backlogOf turns how far behind each kind of work is (how much of what the
// source has published by now it has yet to read) into a Backlog: a stage
// is as far as its furthest-behind kind.
func backlogOf(since, now time.Time, behind ...time.Duration) Backlog {
	days := max(0, now.Sub(since).Hours()/24)
	worst := time.Duration(0)
	for _, b := range behind {
		worst = max(worst, b)
	}
	return Backlog{Days: days, Done: max(0, days-worst.Hours()/24)}
}

// behind returns how far through is short of horizon (0 when through is
// there or later).
func behind(through, horizon time.Time) time.Duration { return max(0, horizon.Sub(through)) }

// Backlog says how much of the published history the Amazon stage has read:
// orders up to two minutes ago, every complete Sales & Traffic day, every
// published Brand Analytics period. Re-reads of restated days are not
// history still to read; the catalog has no history (Best Sellers Rank
// exists only from the first snapshot on).
func (a *Amazon) Backlog(now time.Time) Backlog {
	now = a.until(now)
	since := a.since.Start(a.zone)
	var gaps []time.Duration
	if !a.turns.disabled(workOrders) {
		gaps = append(gaps, behind(a.poller.Cursor(), a.until(now.Add(-orderVisibility))))
	}
	if !a.turns.disabled(workSalesTraffic) {
		gaps = append(gaps, a.salesTrafficBehind(now))
	}
	if !a.turns.disabled(workBrandAnalytics) {
		for _, k := range a.cfg.BrandAnalyticsPeriods {
			if ps := completePeriods(k, a.since, now, a.zone); len(ps) > 0 {
				gaps = append(gaps, behind(windowEnd(a.ba[k], since), ps[len(ps)-1].End.End(a.zone)))
			}
		}
	}
	return backlogOf(since, now, gaps...)
}

// orderVisibility is how long Amazon takes to show an order change
// (getOrders' two-minute rule), plus the poller's margin.
const orderVisibility = 2*time.Minute + 30*time.Second

// salesTrafficBehind returns how far the Sales & Traffic days read fall
// short of what the stage reads now. During a run: the days from its next
// one to the end of its last (the previous run read those before its own
// last day already: re-reads of restated days are not history to read).
// Between runs: nothing, unless a run is due, whose new days are then
// behind.
func (a *Amazon) salesTrafficBehind(now time.Time) time.Duration {
	c := a.st
	dayStart := func(t time.Time) time.Time { return amazon.DateOf(t, a.zone).Start(a.zone) }
	if c.Position != "" {
		through := a.since.Start(a.zone)
		if d, err := amazon.ParseDate(c.Position); err == nil {
			through = maxTime(through, d.Start(a.zone))
		}
		if !c.WindowStart.IsZero() {
			through = maxTime(through, dayStart(c.WindowStart))
		}
		return behind(through, dayStart(c.WindowEnd))
	}
	if c.WindowEnd.IsZero() {
		return behind(a.since.Start(a.zone), dayStart(now))
	}
	if now.Sub(c.WindowEnd) < a.cfg.ReportInterval {
		return 0
	}
	return behind(dayStart(c.WindowEnd), dayStart(now))
}

// Backlog says how much of the published history the TikTok Shop stage has
// read: orders up to the window lag before now, and video performance up to
// the last day TikTok has data for (analytics are T-1).
func (t *TikTokShop) Backlog(now time.Time) Backlog {
	if !t.cfg.Until.IsZero() && now.After(t.cfg.Until) {
		now = t.cfg.Until
	}
	var gaps []time.Duration
	if !t.turns.disabled("orders") {
		gaps = append(gaps, behind(windowEnd(t.orders, t.cfg.Since), now.Add(-t.cfg.Lag)))
	}
	if !t.turns.disabled("video_performance") {
		through := t.cfg.Since
		if t.videos.Position != "" {
			if d, err := time.ParseInLocation(time.DateOnly, t.videos.Position, t.cfg.Zone); err == nil {
				through = d
			}
		}
		y, m, d := now.In(t.cfg.Zone).Date()
		gaps = append(gaps, behind(through, time.Date(y, m, d, 0, 0, 0, 0, t.cfg.Zone)))
	}
	return backlogOf(t.cfg.Since, now, gaps...)
}

// Backlog of the TikTok Business stage is empty: the API has no history,
// only lifetime totals, so the first snapshot is all there is to backfill
// (Run records when it is taken).
func (t *TikTokBusiness) Backlog(time.Time) Backlog { return Backlog{} }

func windowEnd(c cursor.Cursor, since time.Time) time.Time {
	if c.WindowEnd.IsZero() {
		return since
	}
	return c.WindowEnd
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

var (
	_ Backlogger = (*Amazon)(nil)
	_ Backlogger = (*TikTokShop)(nil)
	_ Backlogger = (*TikTokBusiness)(nil)
)
