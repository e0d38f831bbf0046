package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type testDialect struct{}

func (testDialect) WriteThrottle(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusTooManyRequests)
}

func (testDialect) WriteServerError(w http.ResponseWriter, _ *http.Request, status int) {
	w.WriteHeader(status)
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true,"padding":"xxxxxxxxxxxxxxxx"}`))
})

func run(t *testing.T, cfg Config, n int) map[string]int {
	t.Helper()
	in := New(cfg)
	h := in.Wrap(ok, testDialect{})
	out := map[string]int{}
	for i := 0; i < n; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/x?i=%d", i), nil))
		switch {
		case rec.Code == http.StatusOK && json.Valid(rec.Body.Bytes()):
			out["ok"]++
		case rec.Code == http.StatusOK:
			out["malformed"]++
		case rec.Code == http.StatusTooManyRequests:
			out["throttle"]++
		default:
			out["5xx"]++
		}
	}
	return out
}

func TestRatesAndDeterminism(t *testing.T) {
	cfg := Config{Seed: 1, ServerErrorRate: 0.1, ThrottleRate: 0.2, MalformedRate: 0.1}
	a := run(t, cfg, 2000)
	b := run(t, cfg, 2000)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different faults: %v vs %v", a, b)
	}
	within := func(name string, got int, rate float64) {
		want := rate * 2000
		if float64(got) < want*0.75 || float64(got) > want*1.25 {
			t.Errorf("%s: %d faults, want about %.0f", name, got, want)
		}
	}
	within("5xx", a["5xx"], 0.1)
	within("throttle", a["throttle"], 0.2)
	within("malformed", a["malformed"], 0.1)
	if c := run(t, Config{Seed: 2, ServerErrorRate: 0.1, ThrottleRate: 0.2, MalformedRate: 0.1}, 2000); fmt.Sprint(c) == fmt.Sprint(a) {
		t.Error("different seeds gave identical fault patterns")
	}
	if z := run(t, Config{}, 100); z["ok"] != 100 {
		t.Errorf("zero config injected faults: %v", z)
	}
}

func TestRetryGetsFreshDecision(t *testing.T) {
	in := New(Config{Seed: 3, ServerErrorRate: 0.5})
	h := in.Wrap(ok, testDialect{})
	passed := false
	for i := 0; i < 50 && !passed; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/same", nil))
		passed = rec.Code == http.StatusOK
	}
	if !passed {
		t.Fatal("the same request failed 50 times at a 50% rate")
	}
}

func TestTimeoutHangsUntilClientGivesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hung := make(chan struct{}, 1)
	in := New(Config{Seed: 1, TimeoutRate: 1, OnFault: func(k Kind, _ *http.Request) {
		if k == Timeout {
			hung <- struct{}{}
		}
	}})
	srv := httptest.NewServer(in.Wrap(ok, testDialect{}))
	defer srv.Close()
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/slow", nil)
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-hung   // the server is holding the request
	cancel() // the client gives up
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client error = %v, want context.Canceled", err)
	}
	if in.Counts()[Timeout] != 1 {
		t.Errorf("counts = %v", in.Counts())
	}
}

func TestTimeoutWithDelayAnswers504(t *testing.T) {
	in := New(Config{Seed: 1, TimeoutRate: 1, TimeoutDelay: time.Millisecond})
	srv := httptest.NewServer(in.Wrap(ok, testDialect{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
}

func TestPathPrefixes(t *testing.T) {
	in := New(Config{Seed: 1, ServerErrorRate: 1, PathPrefixes: []string{"/api/"}})
	h := in.Wrap(ok, testDialect{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/token", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("fault outside the prefixes")
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/x", nil))
	if rec.Code < 500 {
		t.Errorf("no fault inside the prefixes")
	}
}

// TestSlowAnswersNormallyAfterTheDelay: a slow fault holds the request,
// then serves the real answer (a valid body, status 200), and counts.
func TestSlowAnswersNormallyAfterTheDelay(t *testing.T) {
	held := make(chan struct{}, 1)
	in := New(Config{Seed: 1, SlowRate: 1, SlowDelay: 20 * time.Millisecond, OnFault: func(k Kind, _ *http.Request) {
		if k == Slow {
			held <- struct{}{}
		}
	}})
	rec := httptest.NewRecorder()
	in.Wrap(ok, testDialect{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	select {
	case <-held:
	default:
		t.Fatal("no slow fault decided")
	}
	if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("slow answer: %d %q, want the real 200 answer", rec.Code, rec.Body.String())
	}
	if in.Counts()[Slow] != 1 {
		t.Errorf("counts = %v", in.Counts())
	}
}

// TestSetChangesFaultsWhileServing: faults switch on and off on a running
// injector; the seed and the hook of the first configuration stay, and the
// counts go on across changes.
func TestSetChangesFaultsWhileServing(t *testing.T) {
	var hooked int
	in := New(Config{Seed: 9, OnFault: func(Kind, *http.Request) { hooked++ }})
	h := in.Wrap(ok, testDialect{})
	serve := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if code := serve("/a"); code != http.StatusOK {
		t.Fatalf("no faults configured: %d", code)
	}
	in.Set(Config{ThrottleRate: 1})
	if code := serve("/b"); code != http.StatusTooManyRequests {
		t.Fatalf("after Set(throttle 1): %d, want 429", code)
	}
	if c := in.Config(); c.Seed != 9 || c.OnFault == nil {
		t.Errorf("Set lost the seed or the hook: seed %d, hook %v", c.Seed, c.OnFault != nil)
	}
	in.Set(Config{})
	if code := serve("/c"); code != http.StatusOK {
		t.Fatalf("after Set(zero): %d, want 200", code)
	}
	if in.Counts()[Throttle] != 1 || hooked != 1 {
		t.Errorf("counts %v, hook called %d times; want one throttle", in.Counts(), hooked)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{ServerErrorRate: -0.1}, {SlowRate: 1.5}, {ThrottleRate: 0.6, SlowRate: 0.6}} {
		if c.Validate() == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Config{ServerErrorRate: 0.1, TimeoutRate: 0.1, ThrottleRate: 0.1, MalformedRate: 0.1, SlowRate: 0.1}).Validate(); err != nil {
		t.Error(err)
	}
}

type breakerDialect struct{ testDialect }

func (breakerDialect) BreakEntity(body []byte) ([]byte, string, bool) {
	return []byte(`{"ok":"broken"}`), "id-1", true
}

// TestEntityFault: an entity fault serves the answer with the dialect's
// broken entity and records its id; a dialect that cannot break entities
// serves the answer unchanged and records nothing.
func TestEntityFault(t *testing.T) {
	in := New(Config{Seed: 1, EntityRate: 1})
	rec := httptest.NewRecorder()
	in.Wrap(ok, breakerDialect{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != `{"ok":"broken"}` {
		t.Fatalf("entity fault: %d %q", rec.Code, rec.Body.String())
	}
	if b := in.Broken(); len(b) != 1 || b[0] != "id-1" || in.Counts()[Entity] != 1 {
		t.Fatalf("broken %v, counts %v", b, in.Counts())
	}
	plain := New(Config{Seed: 1, EntityRate: 1})
	rec = httptest.NewRecorder()
	plain.Wrap(ok, testDialect{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) || len(plain.Broken()) != 0 || plain.Counts()[Entity] != 0 {
		t.Fatalf("no breaker: %d %q, broken %v", rec.Code, rec.Body.String(), plain.Broken())
	}
}
