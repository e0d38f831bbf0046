package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// The peer is ClickHouse's own Kafka table engine with a materialized view,
// the loader ClickHouse documents and many users pick instead of a separate
// one, running inside the same warehouse (libchdb ships it). Its best case:
// it reads the very Avro records shopstream load reads, through the same
// schema registry (format AvroConfluent), so it needs no JSON copies, and it
// does no decoding in another process.
//
// clickhouse_sinker, the other candidate, cannot be had here: the Go module
// proxy answers 403 for every version of github.com/housepower/clickhouse_sinker.

// peerTopic is the topic both loaders read: TikTok Shop webhook events, flat
// records that both map to the same columns.
const peerTopic = schemas.TopicTikTokWebhookEvents

// peerKafkaColumns are the Kafka engine table's columns: the Avro fields.
const peerKafkaColumns = `event_id String, source String, entity String, op String,
    source_ts DateTime64(3, 'UTC'), ingest_ts DateTime64(3, 'UTC'), version Int64,
    tts_notification_id String, type Int64, event_type Nullable(String), shop_id Nullable(String),
    seller_open_id Nullable(String), creator_open_id Nullable(String), timestamp DateTime64(3, 'UTC'),
    data_json String, order_id Nullable(String), order_status Nullable(String), order_status_raw Nullable(String),
    is_on_hold_order Nullable(Bool), update_time Nullable(DateTime64(3, 'UTC'))`

type peerEnv struct {
	dir       string
	brokers   string
	registry  string
	warehouse *pipelinetest.Process
	wh        *pipelinetest.Warehouse
	whAddr    string
	loaderBin string
}

// startWarehouse starts `shopstream warehouse` as a process of the test.
func (e *peerEnv) startWarehouse(t testing.TB) {
	t.Helper()
	e.whAddr = testenv.FreeAddr(t)
	e.warehouse = pipelinetest.StartProcess(t, "warehouse", testenv.Binary(t), e.dir,
		[]string{"warehouse", "--listen", e.whAddr, "--native-listen", testenv.FreeAddr(t), "--data", filepath.Join(e.dir, "warehouse")}, nil)
	e.wh = &pipelinetest.Warehouse{URL: "http://" + e.whAddr}
	e.waitWarehouse(t)
}

func (e *peerEnv) waitWarehouse(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.wh.WaitInt(ctx, "SELECT 1", func(n int64) bool { return n == 1 }); err != nil {
		t.Fatalf("warehouse: %v", err)
	}
}

// resetPeak makes the kernel forget the process's peak RSS (clear_refs 5),
// so the next PeakRSS is this phase's.
func resetPeak(p *pipelinetest.Process) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.Pid()), []byte("5"), 0o200)
}

func (e *peerEnv) loaderEnv(t testing.TB, prefix, group string) []string {
	return pipelinetest.Env(
		"SHOPSTREAM_KAFKA_BROKERS", e.brokers, "SHOPSTREAM_SCHEMA_REGISTRY_URL", e.registry,
		"SHOPSTREAM_WAREHOUSE_ADDR", e.whAddr, "SHOPSTREAM_WAREHOUSE_PROTOCOL", "http",
		"SHOPSTREAM_LOAD_TOPICS", peerTopic, "SHOPSTREAM_LOAD_TOPIC_PREFIX", prefix, "SHOPSTREAM_LOAD_GROUP", group,
		"SHOPSTREAM_METRICS_LISTEN", testenv.FreeAddr(t), "SHOPSTREAM_DATA_DIR", filepath.Join(e.dir, "loader-data"))
}

// produce writes n webhook events to prefix+topic (4 partitions) in the
// Confluent wire format with the registry's schema; every notification id
// starts with mark.
func (e *peerEnv) produce(t testing.TB, ctx context.Context, prefix, mark string, n int) {
	t.Helper()
	client, err := sr.NewClient(sr.URLs(e.registry))
	if err != nil {
		t.Fatal(err)
	}
	serde := testenv.RegisterAll(t, ctx, client)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 4, 1, nil, prefix+peerTopic); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	for i := range n {
		id := fmt.Sprintf("%s%017d", mark, i)
		data, _ := json.Marshal(map[string]any{"order_id": fmt.Sprintf("5764%014d", i), "order_status": "AWAITING_SHIPMENT",
			"is_on_hold_order": false, "update_time": now.Unix()})
		ev, err := webhook.Parse(fmt.Appendf(nil, `{"type":1,"tts_notification_id":%q,"shop_id":"7494049642642441621","timestamp":%d,"data":%s}`,
			id, now.Unix(), data))
		if err != nil {
			t.Fatal(err)
		}
		b, err := serde.Encode(peerTopic, webhook.Record(ev, now.Add(time.Duration(i)*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		cl.Produce(ctx, &kgo.Record{Topic: prefix + peerTopic, Key: []byte(id), Value: b}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// peerResult is one loader's figures.
type peerResult struct {
	name             string
	rows, crashRows  int
	took             time.Duration
	peakRSS          int64 // bytes, of the process doing the loading
	where            string
	kills            int
	stored, uniq     int64
	duplicates, lost int64
}

func (r peerResult) lines() []string {
	return []string{
		fmt.Sprintf("peer %-22s %d rows in %.1f s: %.0f rows/s, peak RSS %d MiB (%s)", r.name, r.rows, r.took.Seconds(),
			float64(r.rows)/r.took.Seconds(), r.peakRSS>>20, r.where),
		fmt.Sprintf("peer %-22s SIGKILLed %d times mid-load: %d rows stored for %d records, duplicates %d, lost %d",
			r.name, r.kills, r.stored, r.crashRows, r.duplicates, r.lost),
	}
}

// counts returns the rows stored in table for mark's events, and the
// distinct events among them.
func (e *peerEnv) counts(t testing.TB, ctx context.Context, table, mark string) (int64, int64) {
	t.Helper()
	rows, err := e.wh.Rows(ctx, fmt.Sprintf("SELECT count(), uniqExact(event_id) FROM %s WHERE startsWith(tts_notification_id, '%s')", table, mark))
	if err != nil || len(rows) != 1 {
		return -1, -1
	}
	a, _ := strconv.ParseInt(rows[0][0], 10, 64)
	b, _ := strconv.ParseInt(rows[0][1], 10, 64)
	return a, b
}

// waitLoaded waits until table holds all n events of mark, then until its
// row count has not changed for two seconds (late duplicates), and returns
// when the last event arrived.
func (e *peerEnv) waitLoaded(t testing.TB, ctx context.Context, table, mark string, n int64, during func(uniq int64)) time.Time {
	t.Helper()
	var done time.Time
	var last int64 = -1
	stable := 0
	for {
		c, u := e.counts(t, ctx, table, mark)
		if during != nil && u >= 0 {
			during(u)
		}
		if u == n && done.IsZero() {
			done = time.Now()
		}
		if !done.IsZero() {
			if c == last {
				stable++
			} else {
				stable = 0
			}
			if stable >= 10 {
				return done
			}
		}
		last = c
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d of %d events after %v", table, u, n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// BenchmarkPeer is make bench-peer: shopstream load against ClickHouse's
// Kafka table engine, on the same topic (BENCH_PEER_ROWS Avro records of
// tiktok.webhook_events, default 200,000, 4 partitions) and the same
// warehouse, one after the other: rows/s and peak RSS of each, then each
// killed with SIGKILL three times while it loads a second topic (the loader
// process; for the Kafka engine, the warehouse it runs in) and restarted,
// counting duplicates and losses.
func BenchmarkPeer(b *testing.B) {
	n := 200000
	if v, err := strconv.Atoi(os.Getenv("BENCH_PEER_ROWS")); err == nil && v > 0 {
		n = v
	}
	e := &peerEnv{dir: b.TempDir(), brokers: strings.Join(testenv.KafkaBrokers(b), ",")}
	e.loaderBin = os.Getenv("SHOPSTREAM_TEST_PEER_LOADER")
	if e.loaderBin == "" {
		e.loaderBin = testenv.Binary(b)
	}
	regSrv := httptest.NewServer(srfake.NewRegistry().Handler())
	defer regSrv.Close()
	e.registry = regSrv.URL
	e.startWarehouse(b)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	if out, errOut, err := pipelinetest.Command(b, e.loaderBin, e.dir, 5*time.Minute, e.loaderEnv(b, "", "x"), "migrate"); err != nil {
		b.Fatalf("migrate: %v\n%s%s", err, out, errOut)
	}
	stamp := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	speedPrefix, crashPrefix := "peer"+stamp+"a.", "peer"+stamp+"b."
	e.produce(b, ctx, speedPrefix, "1", n)
	crashRows := n / 2
	e.produce(b, ctx, crashPrefix, "2", crashRows)

	var results []peerResult

	// shopstream load: speed.
	own := peerResult{name: "shopstream load", rows: n, where: "the loader process; production build"}
	resetPeak(e.warehouse)
	start := time.Now()
	loader := pipelinetest.StartProcess(b, "load-speed", e.loaderBin, e.dir, []string{"load"}, e.loaderEnv(b, speedPrefix, "peer-speed-"+stamp))
	e.waitLoaded(b, ctx, "tiktok_webhook_events_changes", "1", int64(n), nil)
	own.took, own.peakRSS = time.Since(start), loader.PeakRSS()
	whOwn := e.warehouse.PeakRSS()
	_ = loader.Stop(time.Minute)

	// Kafka engine: speed.
	peer := peerResult{name: "ClickHouse Kafka engine", rows: n, where: "the warehouse process it runs in"}
	create := func(suffix, prefix, group string) {
		for _, q := range []string{
			"CREATE TABLE peer_events" + suffix + " AS tiktok_webhook_events_changes",
			fmt.Sprintf("CREATE TABLE peer_kafka%s (%s) ENGINE = Kafka SETTINGS kafka_broker_list = '%s', kafka_topic_list = '%s', "+
				"kafka_group_name = '%s', kafka_format = 'AvroConfluent', format_avro_schema_registry_url = '%s', kafka_num_consumers = 1",
				suffix, peerKafkaColumns, e.brokers, prefix+peerTopic, group, e.registry),
			"CREATE MATERIALIZED VIEW peer_mv" + suffix + " TO peer_events" + suffix + " AS SELECT *, _key, _partition, _offset FROM peer_kafka" + suffix,
		} {
			if _, err := e.wh.Query(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	}
	resetPeak(e.warehouse)
	start = time.Now()
	create("_speed", speedPrefix, "peer-kafka-speed-"+stamp)
	e.waitLoaded(b, ctx, "peer_events_speed", "1", int64(n), nil)
	peer.took, peer.peakRSS = time.Since(start), e.warehouse.PeakRSS()
	if _, err := e.wh.Query(ctx, "DROP TABLE peer_mv_speed"); err != nil {
		b.Fatal(err)
	}

	// SIGKILL mid-load, three times each (3 s after each start, while
	// events are still missing), restart, then count.
	killer := func(kill func()) func(int64) {
		started, kills := time.Now(), 0
		return func(u int64) {
			if kills < 3 && u < int64(crashRows) && time.Since(started) >= 3*time.Second {
				kill()
				started, kills = time.Now(), kills+1
			}
		}
	}
	loader = pipelinetest.StartProcess(b, "load-crash", e.loaderBin, e.dir, []string{"load"}, e.loaderEnv(b, crashPrefix, "peer-crash-"+stamp))
	e.waitLoaded(b, ctx, "tiktok_webhook_events_changes", "2", int64(crashRows), killer(func() {
		loader.Kill()
		own.kills++
		loader.Restart(b)
	}))
	own.stored, own.uniq = e.counts(b, ctx, "tiktok_webhook_events_changes", "2")
	_ = loader.Stop(time.Minute)

	create("_crash", crashPrefix, "peer-kafka-crash-"+stamp)
	e.waitLoaded(b, ctx, "peer_events_crash", "2", int64(crashRows), killer(func() {
		e.warehouse.Kill()
		peer.kills++
		e.warehouse.Restart(b)
		e.waitWarehouse(b)
	}))
	peer.stored, peer.uniq = e.counts(b, ctx, "peer_events_crash", "2")

	for _, r := range []*peerResult{&own, &peer} {
		r.crashRows = crashRows
		r.duplicates, r.lost = r.stored-r.uniq, int64(crashRows)-r.uniq
		results = append(results, *r)
	}
	for _, r := range results {
		for _, l := range r.lines() {
			fmt.Println(l)
		}
	}
	fmt.Printf("peer warehouse peak RSS while shopstream load inserted: %d MiB\n", whOwn>>20)
	fmt.Printf("peer rows-per-second ratio %.2f (shopstream load / Kafka engine)\n",
		(float64(own.rows)/own.took.Seconds())/(float64(peer.rows)/peer.took.Seconds()))
}
