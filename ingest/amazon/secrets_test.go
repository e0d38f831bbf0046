package amazon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/internal/secret"
)

// leaks reports which secret s contains.
func leaks(s string, secrets []string) string {
	for _, x := range secrets {
		if x != "" && strings.Contains(s, x) {
			return x[:min(12, len(x))] + "…"
		}
	}
	if strings.Contains(s, "X-Amz-Signature") {
		return "a pre-signed URL"
	}
	return ""
}

func TestSecretsNeverAppearInErrorsOrLogs(t *testing.T) {
	var logs bytes.Buffer
	logger := zerolog.New(&logs).Level(zerolog.DebugLevel)
	e := newEnv(t, envOptions{
		start:      simworld.DefaultStart.Add(5 * 24 * time.Hour),
		stretchTTL: 2 * time.Hour, // a 403 for an expired token mid-run
		sim: amazontest.Options{ReportFatalRate: 0.5, Faults: fault.Config{
			ServerErrorRate: 0.2, MalformedRate: 0.2, ThrottleRate: 0.1, TimeoutRate: 0.05, TimeoutDelay: 10 * time.Millisecond,
		}},
		client: func(c *Config) { c.Logger = &logger; c.MaxAttempts = 3 },
	})
	ctx := context.Background()
	var errs []error
	zone := e.cl.ReportZone()
	for i := 0; i < 6; i++ {
		if _, err := e.cl.SalesAndTrafficDay(ctx, DateOf(simworld.DefaultStart, zone).AddDays(i)); err != nil {
			errs = append(errs, err)
		}
		if _, err := e.cl.GetOrders(ctx, e.world.Start(), e.world.Start().Add(time.Hour)); err != nil {
			errs = append(errs, err)
		}
		if _, err := e.cl.GetCatalogItem(ctx, "B0NOTREAL0"); err != nil {
			errs = append(errs, err)
		}
		e.clock.Advance(40 * time.Minute)
	}
	// Wrong credentials: LWA refuses them.
	for _, bad := range []Credentials{
		{ClientID: e.creds.ClientID, ClientSecret: secret.Secret(e.creds.ClientSecret), RefreshToken: "Atzr|revoked-refresh-token-0123456789"},
		{ClientID: e.creds.ClientID, ClientSecret: "amzn1.oa2-cs.v1.wrong-secret-0123456789", RefreshToken: secret.Secret(e.creds.RefreshToken)},
	} {
		c, err := NewClient(Config{Endpoint: e.srv.URL, TokenURL: e.srv.URL + "/auth/o2/token", Credentials: bad,
			MarketplaceID: e.creds.MarketplaceID, HTTPClient: e.srv.Client(), Clock: e.clock, Logger: &logger, MaxAttempts: 6})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetOrders(ctx, e.world.Start(), e.world.Start().Add(time.Hour))
		var te *TokenError
		if !errors.As(err, &te) {
			t.Fatalf("bad credentials: %v", err)
		}
		errs = append(errs, err)
		e.rec.mu.Lock()
		e.rec.tokens = append(e.rec.tokens, string(bad.RefreshToken), string(bad.ClientSecret))
		e.rec.mu.Unlock()
	}
	// A transport error on a pre-signed URL.
	_, err := e.cl.download(ctx, ReportDocument{URL: "http://127.0.0.1:1/_sim/amazon/documents/x?X-Amz-Signature=deadbeef&X-Amz-Date=1"})
	errs = append(errs, err)

	e.rec.mu.Lock()
	secrets := append([]string{e.creds.ClientSecret, e.creds.RefreshToken}, e.rec.tokens...)
	e.rec.mu.Unlock()
	if len(errs) < 5 {
		t.Fatalf("only %d errors: the test does not exercise failures", len(errs))
	}
	for _, err := range errs {
		if l := leaks(err.Error(), secrets); l != "" {
			t.Fatalf("error leaks %s: %v", l, err)
		}
		if l := leaks(fmt.Sprintf("%+v %#v", err, err), secrets); l != "" {
			t.Fatalf("formatted error leaks %s", l)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no log lines: the test does not exercise logging")
	}
	if l := leaks(logs.String(), secrets); l != "" {
		t.Fatalf("logs leak %s", l)
	}
	if e.rec.count(OpGetOrders, http.StatusForbidden) == 0 {
		t.Log("no expired-token 403 in this run")
	}
	creds := e.cl.cfg.Credentials
	j, _ := json.Marshal(creds)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s %q", creds, creds, creds, creds.ClientSecret, creds.RefreshToken), string(j)} {
		if l := leaks(s, secrets); l != "" {
			t.Fatalf("formatted credentials leak %s: %s", l, s)
		}
	}
}

func TestRedactURLError(t *testing.T) {
	err := redactURLError(&url.Error{Op: "Get", URL: "https://s3.example/doc?X-Amz-Signature=abc&X-Amz-Credential=k", Err: errors.New("boom")})
	if strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "X-Amz") || !strings.Contains(err.Error(), "s3.example/doc") {
		t.Fatalf("redacted: %v", err)
	}
}
