package amazon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

// hit is one request the simulator answered, on the simulator's clock.
type hit struct {
	op     string
	at     time.Time
	status int
}

// recorder wraps the simulator: it logs every request with its operation,
// simulated time and status, remembers the access tokens it handed out, and
// can stretch expires_in so that the simulator's token expires before the
// client expects (to exercise the reactive refresh).
type recorder struct {
	next       http.Handler
	clock      *simworld.ManualClock
	stretchTTL time.Duration
	mu         sync.Mutex
	hits       []hit
	tokens     []string
}

var opByPattern = []struct{ method, prefix, op string }{
	{"POST", "/auth/o2/token", OpToken},
	{"GET", "/reports/2021-06-30/documents/", OpGetReportDocument},
	{"POST", "/reports/2021-06-30/reports", OpCreateReport},
	{"GET", "/reports/2021-06-30/reports/", OpGetReport},
	{"GET", "/catalog/2022-04-01/items/", OpGetCatalogItem},
	{"GET", amazontest.DocumentPathPrefix, OpDownload},
}

func opOf(r *http.Request) string {
	if r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/orders/v0/orders/") && strings.HasSuffix(r.URL.Path, "/orderItems") {
		return OpGetOrderItems
	}
	if r.Method == "GET" && r.URL.Path == "/orders/v0/orders" {
		return OpGetOrders
	}
	for _, p := range opByPattern {
		if r.Method == p.method && strings.HasPrefix(r.URL.Path, p.prefix) {
			return p.op
		}
	}
	return r.Method + " " + r.URL.Path
}

type captureWriter struct {
	http.ResponseWriter
	status int
	buf    *bytes.Buffer
}

func (w *captureWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	if w.buf == nil {
		w.ResponseWriter.WriteHeader(s)
	}
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.buf != nil {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := opOf(r)
	at := rec.clock.Now()
	cw := &captureWriter{ResponseWriter: w}
	if op == OpToken {
		cw.buf = &bytes.Buffer{}
	}
	rec.next.ServeHTTP(cw, r)
	if cw.buf != nil {
		body := cw.buf.Bytes()
		var tr map[string]any
		if cw.status == http.StatusOK && json.Unmarshal(body, &tr) == nil {
			rec.mu.Lock()
			if s, ok := tr["access_token"].(string); ok {
				rec.tokens = append(rec.tokens, s)
			}
			rec.mu.Unlock()
			if rec.stretchTTL > 0 {
				tr["expires_in"] = int(rec.stretchTTL / time.Second)
				body, _ = json.Marshal(tr)
			}
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(cw.status)
		_, _ = w.Write(body)
	}
	rec.mu.Lock()
	rec.hits = append(rec.hits, hit{op: op, at: at, status: cw.status})
	rec.mu.Unlock()
}

func (rec *recorder) snapshot() []hit {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]hit(nil), rec.hits...)
}

func (rec *recorder) count(op string, status int) int {
	n := 0
	for _, h := range rec.snapshot() {
		if h.op == op && (status == 0 || h.status == status) {
			n++
		}
	}
	return n
}

type env struct {
	t     *testing.T
	world *simworld.World
	clock *simworld.ManualClock
	sim   *amazontest.Simulator
	srv   *httptest.Server
	rec   *recorder
	creds amazontest.Credentials
	cl    *Client
}

type envOptions struct {
	start      time.Time // simulated now; default world start + 2 days
	scale      simworld.Scale
	sim        amazontest.Options
	client     func(*Config)
	stretchTTL time.Duration
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.start.IsZero() {
		o.start = simworld.DefaultStart.Add(48 * time.Hour)
	}
	clock := simworld.NewManualClock(o.start)
	w := simworld.MustNew(simworld.Config{Seed: 7, Clock: clock, Scale: o.scale})
	sim := amazontest.New(w, o.sim)
	rec := &recorder{next: sim, clock: clock, stretchTTL: o.stretchTTL}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	creds := sim.Credentials()
	cfg := Config{
		Endpoint:      srv.URL,
		TokenURL:      srv.URL + "/auth/o2/token",
		Credentials:   Credentials{ClientID: creds.ClientID, ClientSecret: secret.Secret(creds.ClientSecret), RefreshToken: secret.Secret(creds.RefreshToken)},
		MarketplaceID: creds.MarketplaceID,
		ReportZone:    w.Config().AmazonZone,
		HTTPClient:    srv.Client(),
		Clock:         clock,
	}
	if o.client != nil {
		o.client(&cfg)
	}
	cl, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, world: w, clock: clock, sim: sim, srv: srv, rec: rec, creds: creds, cl: cl}
}

// assertBucketsRespected checks, per operation, the token-bucket property on
// the simulator's clock: in any interval of length L at most burst + rate·L
// requests arrive. It also checks the simulator's own buckets never had to
// answer 429 (throttles injected as faults are counted apart by the caller).
func assertBucketsRespected(t *testing.T, hits []hit) {
	t.Helper()
	byOp := map[string][]time.Time{}
	for _, h := range hits {
		if _, ok := DefaultUsagePlans[h.op]; ok {
			byOp[h.op] = append(byOp[h.op], h.at)
		}
	}
	for op, ts := range byOp {
		p := DefaultUsagePlans[op]
		for i := range ts {
			for j := i; j < len(ts); j++ {
				l := ts[j].Sub(ts[i]).Seconds()
				n := j - i + 1
				// 1e-6 absorbs float rounding of rate·L.
				if float64(n) > float64(p.Burst)+p.Rate*l+1e-6 {
					t.Fatalf("%s: %d requests in %.1f s exceed burst %d + rate %g", op, n, l, p.Burst, p.Rate)
				}
			}
		}
	}
}

// encodeAll encodes every record with its topic's codec after filling the
// change metadata the caller owns, and decodes it back.
func encodeAll(t *testing.T, recs []Record) {
	t.Helper()
	codecs := map[string]*schemas.Codec{}
	for i, r := range recs {
		c := codecs[r.Topic]
		if c == nil {
			var err error
			if c, err = schemas.NewCodec(r.Topic); err != nil {
				t.Fatal(err)
			}
			codecs[r.Topic] = c
		}
		v := make(map[string]any, len(r.Value)+3)
		for k, x := range r.Value {
			v[k] = x
		}
		v["event_id"], v["version"], v["ingest_ts"] = "e", int64(i), time.Unix(0, 0).UTC()
		_, back := schematest.RoundTrip(t, c, v)
		if back["source"] != Source {
			t.Fatalf("%s: source %v", r.Key, back["source"])
		}
	}
}
