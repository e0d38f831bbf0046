package amazontest

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// isoLayouts are the ISO 8601 forms the simulator accepts for date-times.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z07",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// parseISO parses an ISO 8601 date-time; a value without a zone is UTC.
func parseISO(s string) (time.Time, error) {
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time", s)
}

// isoTime formats t the way SP-API responses do.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// listParam returns a comma-separated (or repeated) array parameter.
func listParam(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
