package simworld

import (
	"time"

	"github.com/shopstream/shopstream/internal/calendar"
)

// Date is a calendar day without a time zone; the zone that gives it meaning is
// always stated next to it (marketplace or shop time zone).
type Date = calendar.Date

// DateOf returns the calendar day of t in loc.
func DateOf(t time.Time, loc *time.Location) Date { return calendar.DateOf(t, loc) }

// ParseDate parses "2006-01-02".
func ParseDate(s string) (Date, error) { return calendar.ParseDate(s) }

// dayNumber numbers d for seeding: 0 is 1970-01-01.
func dayNumber(d Date) int64 { return d.Start(time.UTC).Unix() / 86400 }
