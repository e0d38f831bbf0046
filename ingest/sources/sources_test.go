package sources

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/internal/config"
)

// TestRegistry: every source is registered once, in the commands' order;
// an unconfigured or unknown source is refused with the key to set; the
// simulators stand in for every source (endpoints and secrets set, the
// webhook receiver's address chosen), and then Parts builds each stage and
// the receiver, which follows up through the TikTok Shop stage.
func TestRegistry(t *testing.T) {
	if got := Names(); !slices.Equal(got, []string{"amazon", "tiktokshop", "tiktokbiz"}) {
		t.Fatalf("Names() = %v", got)
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sources
	if got := Configured(s); len(got) != 0 {
		t.Fatalf("nothing configured, yet Configured = %v", got)
	}
	env := Env{Log: zerolog.Nop()}
	if _, err := Parts(s, env, nil, "amazon"); err == nil || !strings.Contains(err.Error(), "set sources.amazon or sources.simulate") {
		t.Fatalf("an unconfigured source: %v", err)
	}
	if _, err := Parts(s, env, nil, "ebay"); err == nil || !strings.Contains(err.Error(), "no such source") {
		t.Fatalf("an unknown source: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Simulate, s.Sim.HistoryWeeks = true, 1
	sim, sm, err := Simulate(ctx, s, true)
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	for _, src := range All() {
		if !src.Configured(sim) {
			t.Errorf("%s not pointed at the simulator", src.Name())
		}
	}
	if sim.Amazon.ClientSecret == "" || sim.TikTokShop.AppSecret == "" || sim.TikTokBiz.AccessToken == "" || sim.Webhooks.Listen == "" || sim.Amazon.Since == "" {
		t.Errorf("simulated sources lack credentials, since or the receiver's address: %+v", sim)
	}
	if got := Configured(sim); !slices.Equal(got, []string{"amazon", "tiktokshop", "tiktokbiz", Webhooks}) {
		t.Errorf("Configured(simulated) = %v", got)
	}
	parts, err := Parts(sim, env, nil, Webhooks, "tiktokbiz")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
		if c, ok := p.Runner.(io.Closer); ok {
			if err := c.Close(); err != nil {
				t.Errorf("close %s: %v", p.Name, err)
			}
		}
	}
	if !slices.Equal(names, []string{"ingest-tiktokshop", "ingest-tiktokbiz", "ingest-webhooks"}) {
		t.Errorf("parts %v", names)
	}
}

// TestSinceAndOwner: a backfill's --since replaces the configured since and,
// like it, starts at midnight in the source's zone; the webhook receiver's
// dead letters and cursors belong to the TikTok Shop stage.
func TestSinceAndOwner(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  Env
		want time.Time
	}{
		{Env{}, time.Date(2026, 1, 1, 0, 0, 0, 0, la)},
		{Env{Since: "2026-03-01"}, time.Date(2026, 3, 1, 0, 0, 0, 0, la)},
	} {
		got, err := tc.env.since("2026-01-01", "America/Los_Angeles")
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("since with %+v = %s, %v; want %s", tc.env, got, err, tc.want)
		}
	}
	if Owner(Webhooks) != "tiktokshop" || Owner("amazon") != "amazon" {
		t.Errorf("Owner(webhooks) = %s, Owner(amazon) = %s", Owner(Webhooks), Owner("amazon"))
	}
}
