package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSources: the sources section takes URLs, intervals and lookback from
// the file, secrets only from the environment or *_file, never printed, and
// every problem is reported at once.
func TestSources(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := writeConfig(t, `
sources:
  amazon:
    endpoint: https://sellingpartnerapi-na.amazon.com
    client_id: amzn1.app
    lookback: 96h
    since: 2026-01-01
  tiktokbiz:
    poll_interval: 30m
`)
	c := mustLoad(t, p, "SHOPSTREAM_SOURCES_AMAZON_CLIENT_SECRET=s3cret", "SHOPSTREAM_SOURCES_AMAZON_REFRESH_TOKEN_FILE="+secretFile,
		"SHOPSTREAM_SOURCES_AMAZON_REPORTS_IN_FLIGHT=6")
	a := c.Sources.Amazon
	if a.ClientSecret.Reveal() != "s3cret" || a.RefreshToken.Reveal() != "from-file" || a.Lookback != 96*time.Hour || a.Since != "2026-01-01" || a.ReportsInFlight != 6 ||
		c.Sources.TikTokBiz.PollInterval != 30*time.Minute || c.Sources.Simulate {
		t.Fatalf("sources: %+v", c.Sources)
	}
	if s := fmt.Sprintf("%v %+v %#v", a, a, a); strings.Contains(s, "s3cret") || strings.Contains(s, "from-file") {
		t.Fatalf("a secret was printed: %s", s)
	}

	bad := writeConfig(t, `
sources:
  amazon:
    endpoint: ftp://x
    client_secret: in-the-file
    lookback: -1h
    since: yesterday
    reports_in_flight: 0
  tiktokshop:
    api_base_url: https://open-api.tiktokglobalshop.com
    zone: Mars/Olympus
`)
	_, err := load(bad, nil)
	if err == nil {
		t.Fatal("bad sources accepted")
	}
	for _, want := range []string{"sources.amazon.client_secret: secrets may not be written", "sources.amazon.endpoint", "sources.amazon.lookback",
		"sources.amazon.since", "sources.amazon.reports_in_flight", "sources.tiktokshop.zone", "sources.tiktokshop: app_key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
}

// TestSourcesSim: the simulated world's knobs default to make run's demo
// (nine weeks of history, a planted halo, scaled SP-API rate limits; the
// catalog snapshotted hourly), take the environment, and bad values are
// reported.
func TestSourcesSim(t *testing.T) {
	c := mustLoad(t, writeConfig(t, "sources: {simulate: true}\n"))
	if s := c.Sources.Sim; s.HistoryWeeks != 9 || s.HaloPlanted != 6 || s.HaloSpikeControls != 4 || s.RateScale != 120 {
		t.Errorf("defaults: %+v", s)
	}
	if a := c.Sources.Amazon; a.CatalogInterval != time.Hour || a.ReportPollInterval != 15*time.Second {
		t.Errorf("amazon defaults: catalog every %s, reports polled after %s", a.CatalogInterval, a.ReportPollInterval)
	}
	c, err := load(writeConfig(t, "sources: {simulate: true}\n"), []string{"SHOPSTREAM_SOURCES_SIM_RATE_SCALE=1", "SHOPSTREAM_SOURCES_SIM_HISTORY_WEEKS=2"})
	if err != nil || c.Sources.Sim.RateScale != 1 || c.Sources.Sim.HistoryWeeks != 2 {
		t.Fatalf("environment: %+v, %v", c.Sources.Sim, err)
	}
	_, err = load(writeConfig(t, "sources:\n  sim: {history_weeks: 0, rate_scale: 0.5, halo_planted: -1}\n"), nil)
	for _, want := range []string{"sources.sim.history_weeks", "sources.sim.rate_scale", "sources.sim: halo_planted"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in: %v", want, err)
		}
	}
}
