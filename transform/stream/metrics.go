package stream

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the transform stage's Prometheus metrics. A nil *Metrics
// records nothing.
type Metrics struct {
	recordsIn    *prometheus.CounterVec
	recordsOut   *prometheus.CounterVec
	rows         prometheus.Counter
	links        prometheus.Counter
	deadLetters  *prometheus.CounterVec
	conflicts    prometheus.Gauge
	transactions *prometheus.CounterVec
	rebuilds     prometheus.Counter
	rebuilding   prometheus.Gauge
	pending      prometheus.Gauge
	replayed     prometheus.Counter
	dlqReplays   *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests and one-off commands).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_records_in_total",
			Help: "Input records processed, per input topic; phase rebuild (replayed into state, outputs already written by an earlier run) or live.",
		}, []string{"topic", "phase"}),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_records_out_total", Help: "Records produced in committed transactions, per output topic (dead letters included).",
		}, []string{"topic"}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopstream_transform_rows_emitted_total", Help: "Joined rows (xchannel.product_daily) produced in committed transactions.",
		}),
		links: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopstream_transform_links_changed_total", Help: "Identity link changes (xchannel.product_links) produced in committed transactions.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_dead_letters_total", Help: "Input records sent to <topic>.dlq, per input topic.",
		}, []string{"topic"}),
		conflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shopstream_transform_identity_conflicts", Help: "Identifiers currently claimed by several products in a way no rule decides.",
		}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_transactions_total", Help: "Transactions ended, by result (committed, aborted).",
		}, []string{"result"}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopstream_transform_rebuilds_total", Help: "State rebuilds started (every start, rebalance or aborted transaction).",
		}),
		rebuilding: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shopstream_transform_rebuilding", Help: "1 while the state is being rebuilt from the input topics and no output is produced.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shopstream_transform_rebuild_partitions_pending", Help: "Input partitions not yet replayed up to the group's committed offset.",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopstream_transform_rebuild_records_total", Help: "Records replayed into the state during rebuilds.",
		}),
		dlqReplays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_dead_letter_replays_total",
			Help: "Replay requests (shopstream dlq replay) handled in committed transactions, by result: replayed, failed (the dead letter stays open), already (replayed before).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.recordsIn, m.recordsOut, m.rows, m.links, m.deadLetters, m.conflicts, m.transactions,
			m.rebuilds, m.rebuilding, m.pending, m.replayed, m.dlqReplays)
	}
	return m
}

// batchStats counts what one poll or transaction did, per topic without
// the topic prefix; metrics are updated once per batch, not per record.
type batchStats struct {
	inputs      map[string]int
	dead        map[string]int
	outputs     map[string]int
	replays     map[string]int // by result
	rows, links int
}

func newBatchStats() batchStats {
	return batchStats{inputs: map[string]int{}, dead: map[string]int{}, outputs: map[string]int{}, replays: map[string]int{}}
}

// sum adds up per-topic counts.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (m *Metrics) rebuildStarted() {
	if m == nil {
		return
	}
	m.rebuilds.Inc()
	m.rebuilding.Set(1)
}

func (m *Metrics) rebuildProgress(replayed map[string]int, pending int) {
	if m == nil {
		return
	}
	for t, n := range replayed {
		m.recordsIn.WithLabelValues(t, "rebuild").Add(float64(n))
		m.replayed.Add(float64(n))
	}
	m.pending.Set(float64(pending))
}

func (m *Metrics) rebuildDone(conflicts int) {
	if m == nil {
		return
	}
	m.rebuilding.Set(0)
	m.pending.Set(0)
	m.conflicts.Set(float64(conflicts))
}

func (m *Metrics) committed(s batchStats) {
	if m == nil {
		return
	}
	m.transactions.WithLabelValues("committed").Inc()
	for t, n := range s.inputs {
		m.recordsIn.WithLabelValues(t, "live").Add(float64(n))
	}
	for t, n := range s.dead {
		m.deadLetters.WithLabelValues(t).Add(float64(n))
	}
	for t, n := range s.outputs {
		m.recordsOut.WithLabelValues(t).Add(float64(n))
	}
	for result, n := range s.replays {
		m.dlqReplays.WithLabelValues(result).Add(float64(n))
	}
	m.rows.Add(float64(s.rows))
	m.links.Add(float64(s.links))
}

func (m *Metrics) aborted() {
	if m == nil {
		return
	}
	m.transactions.WithLabelValues("aborted").Inc()
}

func (m *Metrics) setConflicts(n int) {
	if m == nil {
		return
	}
	m.conflicts.Set(float64(n))
}
