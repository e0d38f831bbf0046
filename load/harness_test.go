package load_test

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/linkedin/goavro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/schemas"
)

const ordersTopic = "amazon.orders"

// protocols are the ways the loader reaches ClickHouse: native, the
// production default, and HTTP. The loader's integration tests run over
// each.
var protocols = []string{"native", "http"}

// eachProtocol runs test once per protocol, as subtests named after it.
func eachProtocol(t *testing.T, test func(t *testing.T, protocol string)) {
	for _, p := range protocols {
		t.Run(p, func(t *testing.T) { test(t, p) })
	}
}

// harness is one test's world: the shared real Kafka broker with topics
// under a prefix of its own, a schema registry (srfake over HTTP), and a fresh
// embedded warehouse with the migrations applied.
type harness struct {
	t *testing.T
	// protocol is how the loader and the test reach the warehouse.
	protocol string
	// loaderBin runs `shopstream load` if set, else the test binary.
	loaderBin string
	brokers   []string
	// partitions is how many partitions the orders topic has.
	partitions int32
	prefix     string
	group      string
	regURL     string
	sr         *sr.Client
	serde      *schemas.Serde
	wh         *testenv.Warehouse
	conn       driver.Conn
	cl         *kgo.Client
	adm        *kadm.Client
	// loaderLog is the log file of the last loaderProcess.
	loaderLog string
}

func newHarness(t *testing.T, partitions int32, protocol string) *harness {
	t.Helper()
	return newHarnessOn(t, partitions, protocol, nil)
}

// newHarnessOn is newHarness on the given brokers (nil: the shared one).
func newHarnessOn(t *testing.T, partitions int32, protocol string, brokers []string) *harness {
	t.Helper()
	k := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	h := &harness{t: t, brokers: k.Brokers, partitions: partitions, protocol: protocol, prefix: k.Prefix, regURL: k.RegistryURL, sr: k.Registry, serde: k.Serde, adm: k.Admin}
	if brokers != nil {
		h.brokers = brokers
	}
	h.group = h.prefix + "load"
	var err error
	h.cl, err = kgo.NewClient(kgo.SeedBrokers(h.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.cl.Close)
	if brokers != nil {
		h.adm = kadm.NewClient(h.cl)
	}
	if _, err := h.adm.CreateTopic(ctx, partitions, 1, nil, h.prefix+ordersTopic); err != nil {
		t.Fatal(err)
	}

	h.wh = testenv.StartWarehouse(t)
	h.conn = connectWith(t, h.wh, protocol)
	if _, err := load.Migrate(ctx, h.conn, load.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	return h
}

// order is one change of an Amazon order.
type order struct {
	n, version int
	op         string
	partition  int32
}

func (o order) id() string { return fmt.Sprintf("111-%07d-%07d", o.n, o.n) }

func (o order) eventID() string { return fmt.Sprintf("%s-v%d", o.id(), o.version) }

// records encodes os, in order.
func (h *harness) records(os []order) []*kgo.Record {
	h.t.Helper()
	recs := make([]*kgo.Record, 0, len(os))
	for _, o := range os {
		recs = append(recs, h.record(o))
	}
	return recs
}

// record encodes o as Kafka record of the orders topic.
func (h *harness) record(o order) *kgo.Record {
	h.t.Helper()
	ts := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(o.n) * time.Minute)
	v := map[string]any{
		"event_id": o.eventID(), "source": "amazon", "entity": "order", "op": o.op,
		"source_ts": ts.Add(time.Duration(o.version) * time.Second), "ingest_ts": time.Now().UTC(),
		"version": int64(o.version), "amazon_order_id": o.id(), "marketplace_id": "ATVPDKIKX0DER",
		"purchase_date": ts, "last_update_date": ts.Add(time.Duration(o.version) * time.Second),
		"order_status":           "Shipped",
		"currency_code":          goavro.Union("string", "USD"),
		"order_total_amount":     goavro.Union("bytes.decimal", big.NewRat(int64(1000+o.n), 100)),
		"payment_method_details": []any{"Standard"},
	}
	b, err := h.serde.Encode(ordersTopic, v)
	if err != nil {
		h.t.Fatal(err)
	}
	return &kgo.Record{Topic: h.prefix + ordersTopic, Partition: o.partition, Key: []byte("ATVPDKIKX0DER:" + o.id()), Value: b}
}

func (h *harness) produce(recs ...*kgo.Record) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

// produceOrders produces n orders, one version each, spread over the
// orders topic's partitions, and returns their records.
func (h *harness) produceOrders(n int) []*kgo.Record {
	h.t.Helper()
	recs := h.records(orders(n, h.partitions))
	h.produce(recs...)
	return recs
}

// orders returns n orders, one version each, spread over the partitions.
func orders(n int, partitions int32) []order {
	out := make([]order, n)
	for i := range out {
		out[i] = order{n: i, version: 1, op: "create", partition: int32(i) % partitions}
	}
	return out
}

// options are the loader settings of the in-process tests: small batches
// and a short wait so that tests are quick and cut many batches.
func (h *harness) options(reg prometheus.Registerer) load.Options {
	return load.Options{
		Brokers: h.brokers, Group: h.group, Topics: []string{ordersTopic}, TopicPrefix: h.prefix, HTTP: h.protocol == "http",
		BatchRows: 200, BatchBytes: 1 << 20, MaxWait: 100 * time.Millisecond, MaxInFlight: 4,
		Log: zerolog.New(zerolog.NewTestWriter(h.t)).Level(zerolog.WarnLevel), Metrics: load.NewMetrics(reg),
	}
}

// runLoader runs a loader in process until the test ends, and returns a
// function that stops it and returns its error.
func (h *harness) runLoader(opts load.Options) (stop func() error) {
	h.t.Helper()
	l, err := load.New(opts, h.serde, h.conn)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var stopped bool
	var result error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	h.t.Cleanup(func() { _ = stop() })
	return stop
}

// loaderProcess runs `shopstream load` as a child process configured by
// environment, as production does.
func (h *harness) loaderProcess(env ...string) *exec.Cmd {
	h.t.Helper()
	logPath := filepath.Join(h.t.TempDir(), fmt.Sprintf("load-%d.log", time.Now().UnixNano()))
	h.loaderLog = logPath
	logFile, err := os.Create(logPath)
	if err != nil {
		h.t.Fatal(err)
	}
	bin := testenv.Binary(h.t)
	if h.loaderBin != "" {
		bin = h.loaderBin
	}
	cmd := exec.Command(bin, "load")
	cmd.Env = append(os.Environ(),
		"SHOPSTREAM_KAFKA_BROKERS="+strings.Join(h.brokers, ","),
		"SHOPSTREAM_SCHEMA_REGISTRY_URL="+h.regURL,
		"SHOPSTREAM_WAREHOUSE_ADDR="+h.wh.AddrFor(h.protocol),
		"SHOPSTREAM_WAREHOUSE_PROTOCOL="+h.protocol,
		"SHOPSTREAM_METRICS_LISTEN=127.0.0.1:0",
		"SHOPSTREAM_LOG_LEVEL=info",
		"SHOPSTREAM_LOAD_GROUP="+h.group,
		"SHOPSTREAM_LOAD_TOPICS="+ordersTopic,
		"SHOPSTREAM_KAFKA_TOPIC_PREFIX="+h.prefix,
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	logFile.Close()
	h.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if h.t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			h.t.Logf("loader log %s (tail):\n%s", logPath, b)
		}
	})
	return cmd
}

// eventually polls cond until it holds or the deadline passes.
func (h *harness) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not reached within %s (last: %s)", what, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// count runs a query returning one UInt64; a warehouse that is down counts
// as -1.
func (h *harness) count(q string) int64 {
	var n uint64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return -1
	}
	return int64(n)
}

// waitRows waits until the orders raw table holds n rows.
func (h *harness) waitRows(n int, timeout time.Duration) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("%d rows in amazon_orders_changes", n), timeout, func() (bool, string) {
		got := h.count("SELECT count() FROM amazon_orders_changes")
		return got == int64(n), strconv.FormatInt(got, 10)
	})
}

// assertExactlyOnce checks the oracle of the reliability anchors: count()
// equals the records produced, and no change (event_id, or Kafka
// coordinates) is there twice.
func (h *harness) assertExactlyOnce(n int) {
	h.t.Helper()
	for q, want := range map[string]int64{
		"SELECT count() FROM amazon_orders_changes":                        int64(n),
		"SELECT uniqExact(event_id) FROM amazon_orders_changes":            int64(n),
		"SELECT uniqExact(_partition, _offset) FROM amazon_orders_changes": int64(n),
	} {
		if got := h.count(q); got != want {
			h.t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
}

// committed returns the sum of the group's committed offsets.
func (h *harness) committed() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := h.adm.FetchOffsets(ctx, h.group)
	if err != nil {
		return -1
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		// The group also consumes the dead-letter topics.
		if o.Err == nil && o.At > 0 && !strings.HasSuffix(o.Topic, deadletter.Suffix) {
			sum += o.At
		}
	})
	return sum
}
