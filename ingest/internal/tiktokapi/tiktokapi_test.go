package tiktokapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/ingest/internal/tiktokapi/tiktokapitest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/internal/retry"
)

const (
	codeThrottled = 900
	codeInternal  = 901
	codeBadToken  = 902
	codeBadParam  = 903
)

var testCodes = Codes{Throttled: []int{codeThrottled}, Internal: []int{codeInternal},
	Auth: func(c int) bool { return c == codeBadToken }}

func newTransport(t *testing.T, reg prometheus.Registerer, maxAttempts int) *Transport {
	t.Helper()
	tr, err := New(Config{API: "testapi", Title: "Test API", Codes: testCodes, Clock: simworld.NewManualClock(simworld.DefaultStart).Still(),
		MaxAttempts: maxAttempts, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestSendClassifiesEveryOutcome: each kind of answer gets its outcome label,
// its error type and its retry classification; none of the errors holds the
// URL's credentials.
func TestSendClassifiesEveryOutcome(t *testing.T) {
	cases := []struct {
		name, outcome string
		status        int
		body          string
		retryable     bool
		code          int // the APIError's, -1 when the error is no APIError
	}{
		{"ok", OutcomeOK, 200, `{"code":0,"message":"Success","request_id":"r1","data":{"x":1}}`, false, -1},
		{"throttle code in HTTP 200", OutcomeThrottled, 200, `{"code":900,"message":"slow down","request_id":"r2"}`, true, codeThrottled},
		{"HTTP 429", OutcomeThrottled, 429, `{"code":0}`, true, 0},
		{"HTTP 503", OutcomeServer, 503, `{"code":901,"message":"busy"}`, true, codeInternal},
		{"HTTP 500 not JSON", OutcomeMalformed, 500, `<html>`, true, -1},
		{"internal code in HTTP 200", OutcomeAPIError, 200, `{"code":901,"message":"internal"}`, true, codeInternal},
		{"permanent code", OutcomeAPIError, 200, `{"code":903,"message":"bad param"}`, false, codeBadParam},
		{"HTTP 404 not JSON", OutcomeAPIError, 404, `not found`, false, 0},
		{"cut-off body", OutcomeMalformed, 200, `{"code":0,"data":{"x"`, true, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			reg := prometheus.NewRegistry()
			tr := newTransport(t, reg, 1)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/op?app_secret=SECRET-123", nil)
			_, err := tr.Send(context.Background(), "op.x", req)
			if (err == nil) != (tc.outcome == OutcomeOK) {
				t.Fatalf("err = %v", err)
			}
			if got := tiktokapitest.Requests(t, reg, "testapi", "op.x", tc.outcome); got != 1 {
				t.Errorf("outcome %s counted %d times", tc.outcome, got)
			}
			if err == nil {
				return
			}
			if retry.IsRetryable(err) != tc.retryable {
				t.Errorf("retryable = %v, want %v (%v)", retry.IsRetryable(err), tc.retryable, err)
			}
			var apiErr *APIError
			switch {
			case tc.code == -1 && errors.As(err, &apiErr):
				t.Errorf("got APIError %v", apiErr)
			case tc.code >= 0 && (!errors.As(err, &apiErr) || apiErr.Code != tc.code || apiErr.HTTPStatus != tc.status):
				t.Errorf("err = %v, want APIError code %d HTTP %d", err, tc.code, tc.status)
			}
			if strings.Contains(err.Error(), "SECRET-123") || !strings.HasPrefix(err.Error(), "testapi: op.x: ") {
				t.Errorf("error %q leaks the URL or lacks its context", err)
			}
		})
	}
}

func TestTransportFailureIsRetryableAndCounted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens any more
	reg := prometheus.NewRegistry()
	tr := newTransport(t, reg, 1)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/op?sign=SECRET-456", nil)
	_, err := tr.Send(context.Background(), "op.x", req)
	if err == nil || !retry.IsRetryable(err) || strings.Contains(err.Error(), "SECRET-456") {
		t.Fatalf("err = %v", err)
	}
	if got := tiktokapitest.Requests(t, reg, "testapi", "op.x", OutcomeTransport); got != 1 {
		t.Errorf("transport_error counted %d times", got)
	}
}

type data struct {
	Token string `json:"token"`
}

func (d *data) Check() error {
	if d.Token == "" {
		return errors.New("no token")
	}
	return nil
}

// TestCallRefreshesOnceAndRetries: a rejected token leads to one refresh and
// another attempt; a second rejection is final. Data that fails its check is
// retried like a malformed body.
func TestCallRefreshesOnceAndRetries(t *testing.T) {
	var answers atomic.Int32
	replies := []string{`{"code":902,"message":"token"}`, `{"code":0,"data":{"token":""}}`, `{"code":0,"data":{"token":"t"}}`}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := int(answers.Add(1)) - 1
		_, _ = w.Write([]byte(replies[min(n, len(replies)-1)]))
	}))
	defer srv.Close()
	tr := newTransport(t, nil, 5)
	build := func() (*http.Request, error) { return http.NewRequest(http.MethodGet, srv.URL, nil) }
	refreshes := 0
	var d data
	err := tr.Call(context.Background(), "op.x", build, func() error { refreshes++; return nil }, &d)
	if err != nil || d.Token != "t" || refreshes != 1 || answers.Load() != 3 {
		t.Fatalf("err %v, data %+v, %d refreshes, %d requests", err, d, refreshes, answers.Load())
	}

	replies = []string{`{"code":902,"message":"token"}`}
	answers.Store(0)
	refreshes = 0
	err = tr.Call(context.Background(), "op.x", build, func() error { refreshes++; return nil }, &d)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.AuthError() || refreshes != 1 || answers.Load() != 2 {
		t.Fatalf("err %v, %d refreshes, %d requests; want the second rejection returned", err, refreshes, answers.Load())
	}
	answers.Store(0)
	err = tr.Call(context.Background(), "op.x", build, func() error { return errors.New("refresh failed") }, &d)
	if err == nil || !strings.Contains(err.Error(), "refresh failed") || !errors.As(err, &apiErr) || answers.Load() != 1 {
		t.Fatalf("err %v after %d requests; want the refresh failure, wrapping the rejection", err, answers.Load())
	}
}

// TestDeployNamesOnlyDeclaredOutcomes: every outcome a dashboard or alert
// selects for a TikTok request metric is one the transport counts, so
// renaming an outcome fails here rather than emptying a panel.
func TestDeployNamesOnlyDeclaredOutcomes(t *testing.T) {
	root := filepath.Join("..", "..", "..", "deploy")
	sel := regexp.MustCompile(`shopstream_tiktok(?:shop|biz)_api_requests_total\{[^}]*outcome\s*(=~?|!~?)\s*\\?"([^"\\]*)\\?"`)
	found := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !slices.Contains([]string{".json", ".yaml", ".yml"}, filepath.Ext(path)) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range sel.FindAllStringSubmatch(string(b), -1) {
			for _, label := range strings.Split(m[2], "|") {
				found++
				if !slices.Contains(Outcomes, label) {
					t.Errorf("%s selects outcome %q, which the transport never counts (it counts %v)", path, label, Outcomes)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no dashboard or alert selects a TikTok request outcome; the test reads the wrong files")
	}
}
