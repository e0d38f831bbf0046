package join

import (
	"testing"
	"time"
)

func TestConvertDay(t *testing.T) {
	tests := []struct {
		d        string
		from, to string
		want     string
	}{
		{"2026-01-05", la, "UTC", "2026-01-05"},                   // 16 of 24 hours on the same UTC day
		{"2026-01-05", "Asia/Tokyo", "UTC", "2026-01-05"},         // 15 of 24
		{"2026-01-05", "Pacific/Kiritimati", "UTC", "2026-01-04"}, // UTC+14: mostly the day before
		{"2026-01-05", "Pacific/Auckland", "UTC", "2026-01-04"},   // UTC+13 in January
		{"2026-01-05", "UTC", la, "2026-01-05"},
		{"2026-01-05", la, "Asia/Tokyo", "2026-01-06"}, // LA noon is 05:00 next day in Tokyo
		{"2026-03-08", la, "UTC", "2026-03-08"},        // 23-hour DST day
		{"2026-11-01", la, "UTC", "2026-11-01"},        // 25-hour DST day
		{"2026-01-05", "UTC", "UTC", "2026-01-05"},
	}
	for _, tt := range tests {
		from, err := loadZone(tt.from)
		if err != nil {
			t.Fatal(err)
		}
		to, err := loadZone(tt.to)
		if err != nil {
			t.Fatal(err)
		}
		if got := convertDay(day(tt.d), from, to); got.String() != tt.want {
			t.Errorf("convertDay(%s, %s -> %s) = %s, want %s", tt.d, tt.from, tt.to, got, tt.want)
		}
	}
	if _, err := loadZone("Mars/Olympus_Mons"); err == nil {
		t.Error("unknown zone: no error")
	}
}

func TestDayOfInstant(t *testing.T) {
	tokyo, _ := loadZone("Asia/Tokyo")
	ts := time.Date(2026, 1, 5, 20, 0, 0, 0, time.UTC)
	if got := DayOf(ts, time.UTC).String(); got != "2026-01-05" {
		t.Errorf("UTC day %s", got)
	}
	if got := DayOf(ts, tokyo).String(); got != "2026-01-06" {
		t.Errorf("Tokyo day %s", got)
	}
	if got := DayFromDate(day("2026-02-28").Time()).String(); got != "2026-02-28" {
		t.Errorf("round trip %s", got)
	}
}
