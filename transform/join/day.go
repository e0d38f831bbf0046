package join

import (
	"fmt"
	"sync"
	"time"
	_ "time/tzdata" // source zones must resolve on any machine, as in simworld
)

// Day is a calendar day as days since 1970-01-01, the Avro date encoding.
// Which zone it is a day of is always known from context: input days carry
// their zone, output days are in the reporting zone.
type Day int32

// DayOf returns the calendar day of t in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return civil(y, m, d)
}

// DayFromDate returns the Day of a goavro date value (midnight UTC).
func DayFromDate(t time.Time) Day {
	y, m, d := t.UTC().Date()
	return civil(y, m, d)
}

func civil(y int, m time.Month, d int) Day {
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns midnight UTC of the day, goavro's native form of a date.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats the day as 2006-01-02.
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// convertDay maps day d of zone from to a day of zone to. A day cut in one
// zone spans parts of two days in another, and a daily figure cannot be
// split by the hour, so the whole day goes to the day of the other zone
// that contains its midpoint: the one it overlaps most. From
// America/Los_Angeles to UTC that is the same calendar day (16 of its 24
// hours); from Asia/Tokyo to UTC as well (15 of 24). The midpoint is taken
// between the zone's real day bounds, so a 23- or 25-hour DST day works.
func convertDay(d Day, from, to *time.Location) Day {
	if from == to || from.String() == to.String() {
		return d
	}
	y, m, dd := d.Time().Date()
	start := time.Date(y, m, dd, 0, 0, 0, 0, from)
	end := time.Date(y, m, dd+1, 0, 0, 0, 0, from)
	return DayOf(start.Add(end.Sub(start)/2), to)
}

var zones sync.Map // name -> *time.Location

// loadZone returns the named IANA zone; "" and "UTC" are UTC.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), nil
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("join: time zone %q: %w", name, err)
	}
	zones.Store(name, z)
	return z, nil
}
