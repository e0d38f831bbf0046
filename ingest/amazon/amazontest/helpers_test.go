package amazontest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon/amazontest/modelcheck"
	"github.com/shopstream/shopstream/ingest/simworld"
)

type harness struct {
	t     *testing.T
	world *simworld.World
	clock *simworld.ManualClock
	srv   *Server
	token string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(10 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 99, Clock: clock})
	srv := NewServer(w, opts)
	t.Cleanup(srv.Close)
	h := &harness{t: t, world: w, clock: clock, srv: srv}
	h.token = h.refresh()
	return h
}

// jump moves the clock to t and refreshes the access token.
func (h *harness) jump(t time.Time) {
	h.t.Helper()
	h.clock.Set(t)
	h.token = h.refresh()
}

// refresh gets a fresh access token from the LWA endpoint.
func (h *harness) refresh() string {
	h.t.Helper()
	c := h.srv.Sim.Credentials()
	status, body, _ := h.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.RefreshToken},
		"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}})
	if status != http.StatusOK {
		h.t.Fatalf("token: %d %s", status, body)
	}
	var tr TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		h.t.Fatal(err)
	}
	return tr.AccessToken
}

func (h *harness) form(v url.Values) (int, []byte, http.Header) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.TokenURL(), strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	return h.do(req)
}

func (h *harness) do(req *http.Request) (int, []byte, http.Header) {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

func (h *harness) call(method, path string, q url.Values, body any) (int, []byte, http.Header) {
	h.t.Helper()
	u := h.srv.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("x-amz-access-token", h.token)
	req.Header.Set("user-agent", "shopstream-test/1.0 (Language=Go)")
	return h.do(req)
}

func (h *harness) get(path string, q url.Values) (int, []byte, http.Header) {
	h.t.Helper()
	return h.call(http.MethodGet, path, q, nil)
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, b)
	}
	return v
}

// models caches loaded Amazon model files.
var models = map[string]*modelcheck.Model{}

func model(t *testing.T, name string) *modelcheck.Model {
	t.Helper()
	if m, ok := models[name]; ok {
		return m
	}
	m, err := modelcheck.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	m.Strict = true
	models[name] = m
	return m
}

// conforms checks a response body against the model's schema for the
// operation and status.
func conforms(t *testing.T, file, path, method string, status int, body []byte) {
	t.Helper()
	m := model(t, file)
	ref, err := m.ResponseRef(path, method, status)
	if err != nil {
		t.Fatalf("%s %s %d: %v", method, path, status, err)
	}
	if err := m.Validate(body, ref); err != nil {
		t.Errorf("%s %s %d does not conform to %s:\n%v\n%s", method, path, status, ref, err, body)
	}
}

// waitReport advances the clock until the report is terminal and returns it.
func (h *harness) waitReport(id string) Report {
	h.t.Helper()
	for i := 0; i < 100; i++ {
		st, b, _ := h.get("/reports/2021-06-30/reports/"+id, nil)
		if st != http.StatusOK {
			h.t.Fatalf("getReport: %d %s", st, b)
		}
		rep := decode[Report](h.t, b)
		switch rep.ProcessingStatus {
		case StatusDone, StatusCancelled, StatusFatal:
			return rep
		}
		h.clock.Advance(15 * time.Second)
	}
	h.t.Fatal("report never finished")
	return Report{}
}

func (h *harness) createReport(spec CreateReportSpecification) string {
	h.t.Helper()
	st, b, _ := h.call(http.MethodPost, "/reports/2021-06-30/reports", nil, spec)
	if st != http.StatusAccepted {
		h.t.Fatalf("createReport: %d %s", st, b)
	}
	return decode[map[string]string](h.t, b)["reportId"]
}

// fetchDocument gets a document's URL and downloads it, returning the
// decompressed bytes.
func (h *harness) fetchDocument(docID string) ([]byte, ReportDocument) {
	h.t.Helper()
	st, b, _ := h.get("/reports/2021-06-30/documents/"+docID, nil)
	if st != http.StatusOK {
		h.t.Fatalf("getReportDocument: %d %s", st, b)
	}
	doc := decode[ReportDocument](h.t, b)
	req, _ := http.NewRequest(http.MethodGet, doc.URL, nil)
	st, body, _ := h.do(req)
	if st != http.StatusOK {
		h.t.Fatalf("download: %d %s", st, body)
	}
	if doc.CompressionAlgorithm == "GZIP" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			h.t.Fatalf("document is not gzip: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			h.t.Fatal(err)
		}
	}
	return body, doc
}
