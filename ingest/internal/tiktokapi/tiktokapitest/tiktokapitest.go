// Package tiktokapitest reads the request metric of a tiktokapi.Transport in
// the clients' tests.
package tiktokapitest

import (
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
