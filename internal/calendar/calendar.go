// Package calendar is a calendar day without a time zone. The zone that gives
// a day meaning (a marketplace's report zone, a shop's zone) is always stated
// next to it, in Start and End.
package calendar

import (
	"fmt"
	"time"
)

// Date is a calendar day, without a time.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the day t falls on in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// ParseDate parses YYYY-MM-DD. The error quotes at most 64 characters of s,
// which may be untrusted.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%.64q is not a date (YYYY-MM-DD)", s)
	}
	return DateOf(t, time.UTC), nil
}

// String formats the day as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Start returns the first instant of the day in loc.
func (d Date) Start(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// End returns the first instant of the next day in loc.
func (d Date) End(loc *time.Location) time.Time { return d.AddDays(1).Start(loc) }

// AddDays returns the day n days later (earlier for a negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.Start(time.UTC).AddDate(0, 0, n), time.UTC) }

// Weekday returns the day of the week.
func (d Date) Weekday() time.Weekday { return d.Start(time.UTC).Weekday() }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool { return d.Start(time.UTC).Before(o.Start(time.UTC)) }

// After reports whether d is later than o.
func (d Date) After(o Date) bool { return d.Start(time.UTC).After(o.Start(time.UTC)) }

// DaysUntil returns the number of days from d to o (negative if o is earlier).
func (d Date) DaysUntil(o Date) int { return int(o.unixDay() - d.unixDay()) }

// unixDay numbers the day: 0 is 1970-01-01.
func (d Date) unixDay() int64 { return d.Start(time.UTC).Unix() / 86400 }

// MarshalText formats d as YYYY-MM-DD (so JSON carries dates as strings, as
// the marketplace APIs do).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }
