package amazon

import "github.com/prometheus/client_golang/prometheus"

// statsCollector exposes the client's per-operation statistics (see
// OperationStats) to Prometheus. It reads Stats at every scrape, so the
// request path only does what it did before: bump a counter under a lock.
type statsCollector struct {
	c *Client
}

var (
	requestsDesc = prometheus.NewDesc("shopstream_amazon_api_requests_total",
		"SP-API HTTP requests sent, by operation (report document downloads under op download).", []string{"op"}, nil)
	throttledDesc = prometheus.NewDesc("shopstream_amazon_api_throttled_total",
		"SP-API 429 QuotaExceeded answers, by operation.", []string{"op"}, nil)
	serverErrorsDesc = prometheus.NewDesc("shopstream_amazon_api_server_errors_total",
		"SP-API 5xx answers and transport failures (timeouts), by operation.", []string{"op"}, nil)
	malformedDesc = prometheus.NewDesc("shopstream_amazon_api_malformed_total",
		"SP-API 2xx answers whose body did not parse, by operation.", []string{"op"}, nil)
	retriesDesc = prometheus.NewDesc("shopstream_amazon_api_retries_total",
		"SP-API attempts after the first, by operation.", []string{"op"}, nil)
	rateLimitDesc = prometheus.NewDesc("shopstream_amazon_api_rate_limit",
		"The last x-amzn-RateLimit-Limit Amazon sent, in requests per second, by operation.", []string{"op"}, nil)
)

func (s statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{requestsDesc, throttledDesc, serverErrorsDesc, malformedDesc, retriesDesc, rateLimitDesc} {
		ch <- d
	}
}

func (s statsCollector) Collect(ch chan<- prometheus.Metric) {
	for op, st := range s.c.Stats() {
		for _, m := range []struct {
			desc *prometheus.Desc
			v    int
		}{{requestsDesc, st.Requests}, {throttledDesc, st.Throttled}, {serverErrorsDesc, st.ServerErrors},
			{malformedDesc, st.Malformed}, {retriesDesc, st.Retries}} {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.v), op)
		}
		if st.RateLimit > 0 {
			ch <- prometheus.MustNewConstMetric(rateLimitDesc, prometheus.GaugeValue, st.RateLimit, op)
		}
	}
}
