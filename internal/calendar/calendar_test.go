package calendar

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDateArithmetic(t *testing.T) {
	d := Date{Year: 2024, Month: time.February, Day: 28}
	if got := d.AddDays(1); got != (Date{Year: 2024, Month: time.February, Day: 29}) {
		t.Errorf("leap day: %v", got)
	}
	if got := d.AddDays(2).String(); got != "2024-03-01" {
		t.Errorf("AddDays(2) = %s", got)
	}
	if got := (Date{Year: 2025, Month: time.January, Day: 1}).AddDays(-1).String(); got != "2024-12-31" {
		t.Errorf("AddDays(-1) = %s", got)
	}
	if n := d.DaysUntil(Date{Year: 2025, Month: time.February, Day: 28}); n != 366 {
		t.Errorf("DaysUntil = %d, want 366", n)
	}
	if n := d.AddDays(5).DaysUntil(d); n != -5 {
		t.Errorf("DaysUntil backwards = %d", n)
	}
	if w := d.Weekday(); w != time.Wednesday {
		t.Errorf("Weekday = %v", w)
	}
	if !d.Before(d.AddDays(1)) || d.Before(d) || !d.AddDays(1).After(d) || d.After(d) {
		t.Error("Before/After disagree with the calendar")
	}
}

func TestDateZones(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skip(err)
	}
	// 2024-03-10 is 23 hours long in Los Angeles (DST starts).
	d := Date{Year: 2024, Month: time.March, Day: 10}
	if h := d.End(la).Sub(d.Start(la)); h != 23*time.Hour {
		t.Errorf("day length %v, want 23h", h)
	}
	// 06:00 UTC on the 11th is still the 10th in Los Angeles.
	if got := DateOf(time.Date(2024, 3, 11, 6, 0, 0, 0, time.UTC), la); got != d {
		t.Errorf("DateOf = %v, want %v", got, d)
	}
}

func TestParseDate(t *testing.T) {
	d, err := ParseDate("2026-03-01")
	if err != nil || d != (Date{Year: 2026, Month: time.March, Day: 1}) {
		t.Fatalf("ParseDate = %v, %v", d, err)
	}
	long := "2026-03-01" + strings.Repeat("x", 500)
	for _, bad := range []string{"", "2026-02-30", "2026-3-1", long} {
		_, err := ParseDate(bad)
		if err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
			continue
		}
		if len(err.Error()) > 120 {
			t.Errorf("error quotes all of the untrusted input: %d bytes", len(err.Error()))
		}
	}
}

func TestDateJSON(t *testing.T) {
	in := struct{ Day Date }{Date{Year: 2026, Month: time.March, Day: 1}}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `{"Day":"2026-03-01"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var out struct{ Day Date }
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("Unmarshal = %v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"Day":"March 1st"}`), &out); err == nil {
		t.Error("Unmarshal accepted a non-date")
	}
	if !(Date{}).IsZero() || in.Day.IsZero() {
		t.Error("IsZero")
	}
}
