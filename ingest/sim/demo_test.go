package sim

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
)

// TestDemoWorld: make run's world begins on the Sunday (marketplace zone)
// the configured number of weeks before this week's, so that many weeks
// less one are complete Brand Analytics weeks; it is the same all day; it
// plants the halo when there is room, and serves its ground truth at
// HaloPath.
func TestDemoWorld(t *testing.T) {
	la, _ := time.LoadLocation(simworld.DefaultAmazonZone)
	// A Wednesday evening, and the Saturday night after, in Los Angeles.
	for _, now := range []time.Time{time.Date(2026, 12, 2, 20, 0, 0, 0, la), time.Date(2026, 12, 5, 23, 59, 0, 0, la)} {
		opts, err := Demo{Seed: 3, HistoryWeeks: 9, Planted: 6, SpikeControls: 4, RateScale: 120}.Options(now, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := opts.Start.In(la)
		if want := time.Date(2026, 9, 27, 0, 0, 0, 0, la); !start.Equal(want) || start.Weekday() != time.Sunday {
			t.Errorf("at %s the world starts %s, want %s", now, start, want)
		}
		if opts.Halo.Planted != 6 || opts.Halo.SpikeControls != 4 || opts.Halo.LastSpikeDay != 49 || opts.RateScale != 120 {
			t.Errorf("options %+v", opts)
		}
		weeks := 0
		for d := simworld.DateOf(start, la); ; d = d.AddDays(7) {
			p, _ := simworld.PeriodOf(simworld.PeriodWeek, d)
			if p.AvailableAt(la).After(now.Add(72 * time.Hour)) {
				break
			}
			weeks++
		}
		if weeks < 8 {
			t.Errorf("at %s only %d complete weeks", now, weeks)
		}
	}
	if opts, _ := (Demo{HistoryWeeks: 2, Planted: 6}).Options(time.Now(), nil); opts.Halo.Planted != 0 {
		t.Errorf("two weeks leave no room for a halo, yet %+v", opts.Halo)
	}
	if _, err := (Demo{}).Options(time.Now(), nil); err == nil {
		t.Error("no history accepted")
	}

	clock := simworld.NewManualClock(time.Date(2026, 12, 2, 20, 0, 0, 0, la))
	opts, err := Demo{Seed: 3, HistoryWeeks: 9, Planted: 6, SpikeControls: 4}.Options(clock.Now(), clock)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, b := get(t, s.Description().BaseURL+HaloPath, nil)
	var h simworld.HaloTruth
	if err := json.Unmarshal(b, &h); st != 200 || err != nil {
		t.Fatalf("%s: %d %v %s", HaloPath, st, err, b)
	}
	if len(h.Planted) != 6 || len(h.Controls) < 8 || h.Planted[0].VideoID == "" || h.Planted[0].LagDays == 0 {
		t.Fatalf("halo truth: %+v", h)
	}
	want := s.World().Truth().Halo()
	if h.Planted[0].VideoID != want.Planted[0].VideoID || !h.Planted[0].LiftStart.Equal(want.Planted[0].LiftStart) {
		t.Errorf("served %+v, truth %+v", h.Planted[0], want.Planted[0])
	}
	if d := s.Description(); d.Halo.Planted != 6 || d.RateScale != 1 {
		t.Errorf("description: halo %+v, rate scale %v", d.Halo, d.RateScale)
	}
}
