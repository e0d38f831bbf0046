package stage

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ingest stages' Prometheus metrics.
type Metrics struct {
	records  *prometheus.CounterVec
	dead     *prometheus.CounterVec
	restarts *prometheus.CounterVec
	through  *prometheus.GaugeVec
}

// NewMetrics registers the stages' metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_ingest_records_total",
			Help: "Change records committed by ingest stages."}, []string{"source", "kind"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_ingest_dead_letters_total",
			Help: "Payloads committed to dead-letter topics by ingest stages."}, []string{"source"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_ingest_restarts_total",
			Help: "Incarnations of an ingest stage that ended in an error and were restarted from the cursors."}, []string{"source"}),
		through: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shopstream_ingest_source_time_seconds",
			Help: "How far in source time each kind of work has been committed (Unix seconds); now minus this is the lag."}, []string{"source", "kind"}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.records, m.dead, m.restarts, m.through} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

// observe counts a committed step.
func (m *Metrics) observe(source string, p Progress) {
	if m == nil {
		return
	}
	m.records.WithLabelValues(source, p.Kind).Add(float64(p.Records))
	m.dead.WithLabelValues(source).Add(float64(p.DeadLetters))
	if !p.Through.IsZero() {
		m.through.WithLabelValues(source, p.Kind).Set(float64(p.Through.Unix()))
	}
}

func (m *Metrics) restarted(source string) {
	if m != nil {
		m.restarts.WithLabelValues(source).Inc()
	}
}

// Restarts returns the restart counter of source, for tests and status.
func (m *Metrics) Restarts(source string) prometheus.Counter {
	return m.restarts.WithLabelValues(source)
}
