package amazontest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
)

// FuzzGetOrdersQuery feeds arbitrary query strings to getOrders: the
// simulator must answer 200 or 400 with a JSON body, never panic.
func FuzzGetOrdersQuery(f *testing.F) {
	for _, s := range []string{
		"MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=2026-01-10T00:00:00Z",
		"MarketplaceIds=ATVPDKIKX0DER&LastUpdatedAfter=2026-01-10T00:00:00Z&LastUpdatedBefore=2026-01-10T05:00:00Z&MaxResultsPerPage=3",
		"MarketplaceIds=ATVPDKIKX0DER&NextToken=eyJ4IjoxfQ",
		"NextToken=%%%",
		"MarketplaceIds=,,,&CreatedAfter=2016-03-16T14:32:16.50-07",
	} {
		f.Add(s)
	}
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(10 * 24 * time.Hour))
	sim := New(simworld.MustNew(simworld.Config{Seed: 1, Clock: clock}), Options{DisableRateLimits: true})
	tok := sim.issueToken("")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/orders/v0/orders", nil)
		req.URL.RawQuery = query
		req.Header.Set("x-amz-access-token", tok)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d for %q", rec.Code, query)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("invalid JSON for %q", query)
		}
	})
}
