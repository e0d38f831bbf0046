package tiktokshop

import (
	"net/http"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/internal/tiktokapi/tiktokapitest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

// env is a seeded world on a manual clock, the simulator over it and a client
// whose backoff advances the clock instead of sleeping.
type env struct {
	world  *simworld.World
	clock  *simworld.ManualClock
	srv    *tiktokshoptest.Server
	creds  tiktokshoptest.Credentials
	client *Client

	retries tiktokapitest.Retries
}

func newEnv(t *testing.T, opts tiktokshoptest.Options, tweak func(*Config)) *env {
	t.Helper()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(10 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 11, Clock: clock})
	srv := tiktokshoptest.NewServer(w, opts)
	t.Cleanup(srv.Close)
	e := &env{world: w, clock: clock, srv: srv, creds: srv.Sim.Credentials()}
	cfg := Config{
		APIBaseURL: srv.APIBaseURL(), AuthBaseURL: srv.AuthBaseURL(),
		AppKey: e.creds.AppKey, AppSecret: secret.Secret(e.creds.AppSecret), AuthCode: secret.Secret(e.creds.AuthCode),
		HTTPClient: srv.Client(), Clock: clock,
		AttemptTimeout: 10 * time.Second,
		OnRetry:        e.retries.OnRetry,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

// encode fills the caller-owned metadata and encodes rec with the topic's
// embedded schema.
func encode(t *testing.T, topic string, rec map[string]any) {
	t.Helper()
	codec, err := schemas.NewCodec(topic)
	if err != nil {
		t.Fatal(err)
	}
	rec["event_id"] = "test"
	rec["version"] = int64(1)
	rec["ingest_ts"] = time.Unix(1767225600, 0).UTC()
	schematest.RoundTrip(t, codec, rec)
}

// roundTripper rewrites requests before they leave.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
