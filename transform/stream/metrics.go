package stream

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/transform/state"
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
	tasks        *prometheus.GaugeVec
	restores     *prometheus.CounterVec
	restored     prometheus.Counter
	restoreTime  prometheus.Counter
	dlqReplays   *prometheus.CounterVec
	relinked     prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests and one-off commands). Several instances in one
// process share them.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_records_in_total",
			Help: "Input records processed in committed transactions, per input topic.",
		}, []string{"topic"}),
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
			Name: "shopstream_transform_identity_conflicts", Help: "Identifiers currently claimed by several products in a way no rule decides (on the instance running the identity task).",
		}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_transactions_total", Help: "Transactions ended, by result (committed, aborted).",
		}, []string{"result"}),
		tasks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shopstream_transform_tasks", Help: "Tasks this process runs, per step (route, identity, facts, rows).",
		}, []string{"step"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_restores_total",
			Help: "Task stores restored before their task ran, by kind: local (from the local store's checkpoint on) or full (the whole changelog partition: a new or wiped state directory, a task that moved here).",
		}, []string{"kind"}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopstream_transform_restored_records_total", Help: "Changelog records applied to stores by restores.",
		}),
		restoreTime: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopstream_transform_restore_seconds_total", Help: "Time spent restoring stores (no task processes meanwhile).",
		}),
		dlqReplays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_transform_dead_letter_replays_total",
			Help: "Replay requests (shopstream dlq replay) handled in committed transactions, by result: replayed, failed (the dead letter stays open), already (replayed before).",
		}, []string{"result"}),
		relinked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopstream_transform_relinked_entities_total",
			Help: "Entities recomputed in committed transactions because the links of a channel product they depend on changed (a relink runs over several transactions, at most MaxTransactionRelinks entities each).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.recordsIn, m.recordsOut, m.rows, m.links, m.deadLetters, m.conflicts, m.transactions,
			m.tasks, m.restores, m.restored, m.restoreTime, m.dlqReplays, m.relinked)
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
	relinked    int // entities relinked
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

// restoredStores counts a prepare's restores.
func (m *Metrics) restoredStores(stats []state.RestoreStats, took time.Duration) {
	if m == nil {
		return
	}
	for _, st := range stats {
		kind := "local"
		if st.Wiped {
			kind = "full"
		}
		m.restores.WithLabelValues(kind).Inc()
		m.restored.Add(float64(st.Records))
	}
	m.restoreTime.Add(took.Seconds())
}

// taskCount adds n to the tasks of a step.
func (m *Metrics) taskCount(step string, n int) {
	if m == nil {
		return
	}
	m.tasks.WithLabelValues(step).Add(float64(n))
}

func (m *Metrics) committed(s batchStats) {
	if m == nil {
		return
	}
	m.transactions.WithLabelValues("committed").Inc()
	for t, n := range s.inputs {
		m.recordsIn.WithLabelValues(t).Add(float64(n))
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
	m.relinked.Add(float64(s.relinked))
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
