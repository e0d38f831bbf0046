package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// TestBackfillCLI: `shopstream backfill tiktokbiz --since DATE` against the
// in-process simulators (sources.simulate), real Kafka and a registry over
// HTTP prints a line per slice and a summary, lands the snapshot in
// tiktok.video_engagement, and run again finds nothing left to do: the
// cursor it committed says the work is done.
func TestBackfillCLI(t *testing.T) {
	bin := testenv.Binary(t)
	k := testenv.NewKafka(t)
	since := time.Now().UTC().Add(-72 * time.Hour).Format(time.DateOnly)
	backfill := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "backfill", "tiktokbiz", "--since", since)
		cmd.Env = append(append(os.Environ(), k.Env()...),
			"SHOPSTREAM_SOURCES_SIMULATE=true",
			"SHOPSTREAM_LOG_LEVEL=warn")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("backfill: %v\n%s", err, out)
		}
		return string(out)
	}
	first := backfill()
	if !strings.Contains(first, "slice    1  videos snapshot of") || !strings.Contains(first, "% done  ETA") || !strings.Contains(first, "backfill done: 1 slices") {
		t.Fatalf("first backfill:\n%s", first)
	}
	if second := backfill(); !strings.Contains(second, "backfill done: 0 slices") {
		t.Fatalf("second backfill repeated work:\n%s", second)
	}
	ends, err := k.Admin.ListEndOffsets(testenv.Context(t), k.Topic(schemas.TopicTikTokVideoEngagement))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	if n == 0 {
		t.Fatal("no engagement record landed")
	}
	t.Logf("first run:\n%s", first)
}

// TestSimBanner: run says where the simulated APIs are, how far back their
// world goes, where the planted halo's ground truth is, and whether the
// SP-API's rate limits are Amazon's or scaled for the demo.
func TestSimBanner(t *testing.T) {
	d := sim.Description{BaseURL: "http://127.0.0.1:8600", Seed: 1, WorldStart: time.Now().Add(-64 * 24 * time.Hour),
		Halo: simworld.HaloConfig{Planted: 6, SpikeControls: 4}, RateScale: 120}
	got := strings.Join(simBanner(d, "America/Los_Angeles"), "\n")
	for _, want := range []string{"simulated APIs   http://127.0.0.1:8600 (seed 1)", "9 weeks ago, backfilled first",
		"6 products whose TikTok video takes off", "curl http://127.0.0.1:8600/_sim/halo",
		"DEMO: the simulated SP-API grants 120× Amazon's published rates (createReport 2/s, not 1/min)", "sources.sim.rate_scale: 1 keeps the real limits"} {
		if !strings.Contains(got, want) {
			t.Errorf("banner lacks %q:\n%s", want, got)
		}
	}
	d.RateScale, d.Halo = 1, simworld.HaloConfig{}
	got = strings.Join(simBanner(d, "America/Los_Angeles"), "\n")
	if strings.Contains(got, "DEMO") || strings.Contains(got, "halo") || !strings.Contains(got, "Amazon's published usage plans") {
		t.Errorf("real limits, no halo:\n%s", got)
	}
}
