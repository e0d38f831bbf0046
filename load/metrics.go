package load

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Names of the metrics other parts read (run's progress line, dashboards).
const (
	// MetricRowsInserted counts the rows ClickHouse acknowledged, by table.
	MetricRowsInserted = "shopstream_load_rows_inserted_total"
	// MetricConsumerLag is the records behind each partition's high
	// watermark, by topic and partition.
	MetricConsumerLag = "shopstream_load_consumer_lag"
	// MetricFreshness is the histogram of source_ts to ClickHouse, by table.
	MetricFreshness = "shopstream_load_freshness_seconds"
	// MetricNewestChange is the newest source_ts loaded (Unix seconds), by
	// table.
	MetricNewestChange = "shopstream_load_newest_change_seconds"
	// MetricRetries counts the failed attempts that were retried, by table
	// and operation (insert, decode, dead-letter, commit).
	MetricRetries = "shopstream_load_retries_total"
	// MetricWarehouseUp is 1 while the warehouse answers the loader, 0
	// during an outage (the loader waits it out in place).
	MetricWarehouseUp = "shopstream_load_warehouse_up"
	// MetricBrokersUp is 1 while a Kafka broker answers the loader, 0 while
	// none does.
	MetricBrokersUp = "shopstream_load_brokers_up"
)

// Metrics are the loader's Prometheus metrics, labelled by table or topic.
type Metrics struct {
	rows        *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	batchRows   *prometheus.HistogramVec
	insertSecs  *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	lag         *prometheus.GaugeVec
	freshness   *prometheus.HistogramVec
	newest      *prometheus.GaugeVec
	inFlight    prometheus.Gauge
	paused      prometheus.Gauge
	warehouseUp prometheus.Gauge
	brokersUp   prometheus.Gauge

	newestMu sync.Mutex
	newestAt map[string]time.Time // what newest shows, per table
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests and one-off commands).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{newestAt: map[string]time.Time{},
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRowsInserted, Help: "Rows inserted (acknowledged by ClickHouse), per table.",
		}, []string{"table"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_load_bytes_inserted_total", Help: "Kafka value bytes of the rows inserted, per table.",
		}, []string{"table"}),
		batchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shopstream_load_batch_rows", Help: "Rows per inserted batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"table"}),
		insertSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shopstream_load_insert_seconds", Help: "Latency of one successful batch insert.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"table"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRetries, Help: "Failed attempts that were retried (insert, decode, dead-letter, commit).",
		}, []string{"table", "op"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopstream_load_dead_letters_total", Help: "Records sent to <topic>.dlq and dead_letters.",
		}, []string{"topic", "error_class"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricConsumerLag, Help: "Records between the partition's high watermark and the last record fetched (the batches in flight are on top).",
		}, []string{"topic", "partition"}),
		freshness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: MetricFreshness, Help: "From a change's source_ts to ClickHouse acknowledging its insert.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 18),
		}, []string{"table"}),
		newest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricNewestChange, Help: "The newest source_ts loaded into the table (Unix seconds); now minus this is how stale the table is.",
		}, []string{"table"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shopstream_load_batches_in_flight", Help: "Batches cut and not yet committed.",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shopstream_load_fetch_paused", Help: "1 while fetching is paused because too many batches are in flight.",
		}),
		warehouseUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricWarehouseUp, Help: "1 while the warehouse answers the loader, 0 during an outage (inserts wait and retry in place).",
		}),
		brokersUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricBrokersUp, Help: "1 while a Kafka broker answers the loader, 0 while none does.",
		}),
	}
	// Up until an outage says otherwise.
	m.warehouseUp.Set(1)
	m.brokersUp.Set(1)
	if reg != nil {
		reg.MustRegister(m.rows, m.bytes, m.batchRows, m.insertSecs, m.retries, m.deadLetters, m.lag, m.freshness, m.newest, m.inFlight, m.paused, m.warehouseUp, m.brokersUp)
	}
	return m
}

// observeNewest moves table's newest-change gauge forward to ts; a late
// change of an older time leaves it where it is.
func (m *Metrics) observeNewest(table string, ts time.Time) {
	m.newestMu.Lock()
	defer m.newestMu.Unlock()
	if !ts.After(m.newestAt[table]) {
		return
	}
	m.newestAt[table] = ts
	m.newest.WithLabelValues(table).Set(float64(ts.UnixMilli()) / 1000)
}
