package simapi

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
)

// TestTokenRoundTrip: a token decodes to the state it encodes, and a token
// that is not base64url JSON is an error, not a zero state.
func TestTokenRoundTrip(t *testing.T) {
	type page struct {
		Size   int `json:"n"`
		Offset int `json:"o"`
	}
	var got page
	if err := DecodeToken(EncodeToken(page{Size: 17, Offset: 34}), &got); err != nil || got != (page{17, 34}) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"%%%", EncodeToken("a string")[:3], "bm90IGpzb24"} {
		if err := DecodeToken(bad, &got); err == nil {
			t.Errorf("DecodeToken(%q) accepted a bad token", bad)
		}
	}
}

// TestRandomStringSeeded: the same seed gives the same string, drawn only
// from the alphabet; another seed gives another.
func TestRandomStringSeeded(t *testing.T) {
	a := RandomString(rand.New(rand.NewPCG(1, 2)), Hex, 64)
	b := RandomString(rand.New(rand.NewPCG(1, 2)), Hex, 64)
	c := RandomString(rand.New(rand.NewPCG(3, 4)), Hex, 64)
	if a != b || a == c || len(a) != 64 || strings.Trim(a, Hex) != "" {
		t.Fatalf("RandomString: %q %q %q", a, b, c)
	}
}

// TestBase: the credentials are the given ones or the world's defaults, the
// fault seed defaults to the world's seed, requests are numbered from 1, and
// ServeHTTP runs the handler set last.
func TestBase(t *testing.T) {
	w := simworld.MustNew(simworld.Config{Seed: 7, Clock: simworld.NewManualClock(simworld.DefaultStart)})
	defaults := func(w *simworld.World) string { return "default-" + w.Config().MarketplaceID }
	b := NewBase(w, nil, defaults, fault.Config{})
	if got, want := b.Credentials(), defaults(w); got != want {
		t.Errorf("Credentials() = %q, want the default %q", got, want)
	}
	if got := b.Faults().Config().Seed; got != w.Seed() {
		t.Errorf("fault seed %d, want the world's %d", got, w.Seed())
	}
	if b.World() != w || b.Clock() != w.Clock() {
		t.Error("World() or Clock() is not the world's")
	}
	given := "given"
	if got := NewBase(w, &given, defaults, fault.Config{Seed: 3}); got.Credentials() != given || got.Faults().Config().Seed != 3 {
		t.Errorf("given credentials and seed: %q, %d", got.Credentials(), got.Faults().Config().Seed)
	}
	for want := uint64(1); want <= 3; want++ {
		if got := b.NextRequest(); got != want {
			t.Fatalf("NextRequest() = %d, want %d", got, want)
		}
	}
	b.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("ServeHTTP answered %d, not the handler's %d", rec.Code, http.StatusTeapot)
	}
}
