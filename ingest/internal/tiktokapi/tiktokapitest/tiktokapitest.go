// Package tiktokapitest helps the TikTok clients' tests: it reads the
// request metric of a tiktokapi.Transport and records the failures a client
// retried.
package tiktokapitest

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Requests returns how many requests of op ended with outcome, as counted in
// shopstream_<api>_api_requests_total of g (0 when none did).
func Requests(t testing.TB, g prometheus.Gatherer, api, op, outcome string) int {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "shopstream_"+api+"_api_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == op && labels["outcome"] == outcome {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

// Retries records the failures a client retried, through its OnRetry hook,
// for the tests that check them. The hook may be called from several
// goroutines.
type Retries struct {
	mu   sync.Mutex
	errs []error
}

// OnRetry is the hook: a client's Config.OnRetry.
func (r *Retries) OnRetry(_ string, _ int, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

// Errors returns the failures retried so far, in order.
func (r *Retries) Errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// Reset forgets the failures retried so far.
func (r *Retries) Reset() {
	r.mu.Lock()
	r.errs = nil
	r.mu.Unlock()
}
