package dbtrun

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, for dashboards and alerts that read them (deploy/).
const (
	MetricRuns          = "shopstream_dbt_runs_total"
	MetricRunSeconds    = "shopstream_dbt_run_seconds"
	MetricRunning       = "shopstream_dbt_running"
	MetricLastRun       = "shopstream_dbt_last_run_timestamp_seconds"
	MetricLastSuccess   = "shopstream_dbt_last_success_timestamp_seconds"
	MetricModelsFailed  = "shopstream_dbt_last_run_models_failed"
	MetricTestsFailed   = "shopstream_dbt_last_run_tests_failed"
	MetricCatchUpWaited = "shopstream_dbt_catch_up_wait_seconds"
)

// Metrics are the scheduler's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	runs         *prometheus.CounterVec
	seconds      prometheus.Histogram
	runningG     prometheus.Gauge
	lastRun      prometheus.Gauge
	lastSuccess  prometheus.Gauge
	modelsFailed prometheus.Gauge
	testsFailed  prometheus.Gauge
	waited       prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRuns, Help: "Scheduled dbt runs by status (success, failed, error, skipped).",
		}, []string{"status"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricRunSeconds, Help: "Duration of a dbt run (not counting the wait for the loader).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		runningG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricRunning, Help: "1 while a dbt run is going (or waiting for the loader to catch up).",
		}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricLastRun, Help: "When the last dbt run finished (Unix seconds).",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricLastSuccess, Help: "When the last successful dbt run finished (Unix seconds); time() minus this is how stale the models are.",
		}),
		modelsFailed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricModelsFailed, Help: "Models (and seeds) that failed in the last dbt run.",
		}),
		testsFailed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricTestsFailed, Help: "Data tests that failed in the last dbt run.",
		}),
		waited: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricCatchUpWaited, Help: "Time a dbt run waited for the loader to catch up.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
		}),
	}
	// Every status shows from the start, at 0.
	for _, s := range []string{StatusSuccess, StatusFailed, StatusError, StatusSkipped} {
		m.runs.WithLabelValues(s)
	}
	if reg != nil {
		reg.MustRegister(m.runs, m.seconds, m.runningG, m.lastRun, m.lastSuccess, m.modelsFailed, m.testsFailed, m.waited)
	}
	return m
}

func (m *Metrics) running(on bool) {
	if m == nil {
		return
	}
	if on {
		m.runningG.Set(1)
		return
	}
	m.runningG.Set(0)
}

func (m *Metrics) observe(r Run) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(r.Status).Inc()
	m.waited.Observe(r.Waited.Seconds())
	if r.Status == StatusSkipped {
		return
	}
	m.seconds.Observe(r.Duration().Seconds())
	m.lastRun.Set(float64(r.FinishedAt.UnixMilli()) / 1000)
	m.modelsFailed.Set(float64(r.ModelsFailed))
	m.testsFailed.Set(float64(r.TestsFailed))
	if r.Status == StatusSuccess {
		m.lastSuccess.Set(float64(r.FinishedAt.UnixMilli()) / 1000)
	}
}
