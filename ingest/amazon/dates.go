package amazon

import (
	"time"

	"github.com/shopstream/shopstream/internal/calendar"
)

// Date is a calendar day in the report zone, without a time.
type Date = calendar.Date

// DateOf returns the day t falls on in loc.
func DateOf(t time.Time, loc *time.Location) Date { return calendar.DateOf(t, loc) }

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) { return calendar.ParseDate(s) }

// Period is a Brand Analytics reporting period, Start and End inclusive.
type Period struct {
	Kind       string // WEEK, MONTH, QUARTER (DAY for search terms)
	Start, End Date
}

// WeekOf returns the Sunday–Saturday week containing d.
func WeekOf(d Date) Period {
	s := d.AddDays(-int(d.Weekday()))
	return Period{Kind: "WEEK", Start: s, End: s.AddDays(6)}
}

// BrandAnalyticsLatency is how long after a period ends Amazon publishes its
// Brand Analytics data ("re-pull Brand Analytics weeks after the ~72 h SLA").
// Asked earlier, the report is cancelled for lack of data.
const BrandAnalyticsLatency = 72 * time.Hour

// CompleteWeeks returns the Sunday–Saturday weeks from the one containing
// since up to the last one whose data is published at now (ended at least
// BrandAnalyticsLatency ago in loc), oldest first.
func CompleteWeeks(since Date, now time.Time, loc *time.Location) []Period {
	var out []Period
	for w := WeekOf(since); !w.End.End(loc).Add(BrandAnalyticsLatency).After(now); w = WeekOf(w.End.AddDays(1)) {
		out = append(out, w)
	}
	return out
}

// DefaultRestatementLookback is how long Sales & Traffic days keep changing
// after they end: "for a reportPeriod set to DAY, kindly wait up to 72 hours".
const DefaultRestatementLookback = 3 * 24 * time.Hour

// SalesTrafficDays returns the days to request at now, given the previous
// run at lastRun (zero for none): every complete day from since on whose
// figures could have changed after lastRun, that is whose end plus lookback
// is after lastRun. A day is thus read again on every run until one run
// happens after it settled, and that run reads its final figures.
func SalesTrafficDays(since Date, lastRun, now time.Time, loc *time.Location, lookback time.Duration) []Date {
	if lookback <= 0 {
		lookback = DefaultRestatementLookback
	}
	var out []Date
	for d := since; !d.End(loc).After(now); d = d.AddDays(1) {
		if d.End(loc).Add(lookback).After(lastRun) {
			out = append(out, d)
		}
	}
	return out
}
