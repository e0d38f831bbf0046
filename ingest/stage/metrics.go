package stage

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Names of the metrics other parts read (run's progress line, dashboards).
const (
	// MetricRecords counts the change records committed, by source and kind.
	MetricRecords = "shopstream_ingest_records_total"
	// MetricStaleSnapshots counts the snapshots skipped as older than
	// what was already emitted for their key, by source.
	MetricStaleSnapshots = "shopstream_ingest_stale_snapshots_total"
	// MetricBackfillDays is how many days of history lie between a source
	// stage's start (its since) and now; MetricBackfillDaysDone how many
	// of them it has read (see Backlog).
	MetricBackfillDays     = "shopstream_ingest_backfill_days"
	MetricBackfillDaysDone = "shopstream_ingest_backfill_days_done"
	// MetricBackfillDone is when (Unix seconds) a source stage first had
	// nothing left to read in this process: its backfill is done; 0 before.
	MetricBackfillDone = "shopstream_ingest_backfill_done_timestamp_seconds"
)

// Metrics are the ingest stages' Prometheus metrics.
type Metrics struct {
	records  *prometheus.CounterVec
	dead     *prometheus.CounterVec
	stale    *prometheus.CounterVec
	through  *prometheus.GaugeVec
	days     *prometheus.GaugeVec
	daysDone *prometheus.GaugeVec
	done     *prometheus.GaugeVec

	mu     sync.Mutex
	caught map[string]bool
}

// NewMetrics registers the stages' metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRecords,
			Help: "Change records committed by ingest stages."}, []string{"source", "kind"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_ingest_dead_letters_total",
			Help: "Payloads committed to dead-letter topics by ingest stages."}, []string{"source"}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricStaleSnapshots,
			Help: "Snapshots skipped because the source's change time was before the key's last change (a lagging read)."}, []string{"source"}),
		through: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shopstream_ingest_source_time_seconds",
			Help: "How far in source time each kind of work has been committed (Unix seconds); now minus this is the lag."}, []string{"source", "kind"}),
		days: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricBackfillDays,
			Help: "Days of history between the stage's start (since) and now."}, []string{"source"}),
		daysDone: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricBackfillDaysDone,
			Help: "Days of that history read: all of it, less what the furthest-behind kind of work has yet to read."}, []string{"source"}),
		done: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricBackfillDone,
			Help: "When the stage first had nothing left to read (Unix seconds): its backfill is done."}, []string{"source"}),
		caught: map[string]bool{},
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.records, m.dead, m.stale, m.through, m.days, m.daysDone, m.done} {
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
	m.stale.WithLabelValues(source).Add(float64(p.Stale))
	if !p.Through.IsZero() {
		m.through.WithLabelValues(source, p.Kind).Set(float64(p.Through.Unix()))
	}
}

// backlog publishes a stage's backlog.
func (m *Metrics) backlog(source string, b Backlog) {
	if m == nil {
		return
	}
	m.days.WithLabelValues(source).Set(b.Days)
	m.daysDone.WithLabelValues(source).Set(b.Done)
}

// caughtUp records, once per source, when its stage first found nothing to
// do.
func (m *Metrics) caughtUp(source string, at time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.caught[source] {
		return
	}
	m.caught[source] = true
	m.done.WithLabelValues(source).Set(float64(at.UnixMilli()) / 1000)
}
