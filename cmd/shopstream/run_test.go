package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/procfs"
	"github.com/shopstream/shopstream/internal/testenv"
)

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRunEmbedded starts `shopstream run` on embedded defaults and checks that
// the warehouse, the broker and the registry it reports all answer, that a
// crashed warehouse is restarted, and that it stops cleanly.
func TestRunEmbedded(t *testing.T) {
	testRun(t, "")
}

// TestRunConfiguredKafka: with kafka.brokers set, run uses that cluster (the
// real Apache Kafka broker) instead of starting its own.
func TestRunConfiguredKafka(t *testing.T) {
	testRun(t, testenv.KafkaBrokers(t)[0])
}

// runProcess is one `shopstream run` child.
type runProcess struct {
	cmd     *exec.Cmd
	lines   chan string
	exited  chan error
	printed string // what it printed until it reported healthy
}

// startRun starts `shopstream run` with env and waits until it reports healthy.
func startRun(t *testing.T, env []string, logPath string) *runProcess {
	t.Helper()
	r := &runProcess{cmd: exec.Command(testenv.Binary(t), "run"), lines: make(chan string), exited: make(chan error, 1)}
	r.cmd.Env = append(os.Environ(), env...)
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	r.cmd.Stderr = logFile
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("run log:\n%s", b)
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		r.exited <- r.cmd.Wait()
	}()
	var printed []string
	timeout := time.After(2 * time.Minute)
	for healthy := false; !healthy; {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("run exited before reporting healthy; printed %q", printed)
			}
			printed = append(printed, l)
			healthy = strings.HasPrefix(l, "all components healthy")
		case <-timeout:
			t.Fatalf("run not healthy after 2 minutes; printed %q", printed)
		}
	}
	r.printed = strings.Join(printed, "\n")
	return r
}

// stop sends SIGTERM and waits for a clean exit.
func (r *runProcess) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range r.lines {
	}
	waitExit(t, r.exited, "run", "after SIGTERM")
}

// waitExit waits (at most 30 seconds) for a command that a test told to
// stop (how) to end, and fails the test unless it ended cleanly.
func waitExit(t *testing.T, exited <-chan error, what, how string) {
	t.Helper()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("%s exited with %v %s", what, err, how)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop %s", what, how)
	}
}

// embedded is where a `shopstream run` on embedded defaults started by a
// test keeps its data and listens.
type embedded struct{ dataDir, warehouseAddr, kafkaAddr, registryAddr, metricsAddr, nativeAddr string }

func newEmbedded(t *testing.T) embedded {
	return embedded{t.TempDir(), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)}
}

// env is the environment that configures run (and commands reading it).
func (e embedded) env(extra ...string) []string {
	return append([]string{
		"SHOPSTREAM_DATA_DIR=" + e.dataDir,
		"SHOPSTREAM_WAREHOUSE_LISTEN=" + e.warehouseAddr,
		"SHOPSTREAM_WAREHOUSE_NATIVE_LISTEN=" + e.nativeAddr,
		"SHOPSTREAM_KAFKA_LISTEN=" + e.kafkaAddr,
		"SHOPSTREAM_SCHEMA_REGISTRY_LISTEN=" + e.registryAddr,
		"SHOPSTREAM_METRICS_LISTEN=" + e.metricsAddr,
	}, extra...)
}

func testRun(t *testing.T, brokers string) {
	e := newEmbedded(t)
	dataDir, warehouseAddr, kafkaAddr, registryAddr, metricsAddr := e.dataDir, e.warehouseAddr, e.kafkaAddr, e.registryAddr, e.metricsAddr
	env := e.env()
	kafkaLine := kafkaAddr + "] (embedded)"
	if brokers != "" {
		env = append(env, "SHOPSTREAM_KAFKA_BROKERS="+brokers)
		kafkaAddr = brokers
		kafkaLine = brokers + "] (configured)"
	}
	logPath := filepath.Join(dataDir, "run.log")
	run := startRun(t, env, logPath)
	for _, want := range []string{"http://" + warehouseAddr, kafkaLine, "http://" + registryAddr, metricsAddr} {
		if !strings.Contains(run.printed, want) {
			t.Errorf("run output does not say where %s listens:\n%s", want, run.printed)
		}
	}

	// The warehouse answers the README's query.
	if code, body := httpGet(t, "http://"+warehouseAddr+"/?query="+url.QueryEscape("SELECT version()")); code != 200 || !strings.HasPrefix(body, "26.5") {
		t.Fatalf("warehouse: %d %q", code, body)
	}
	// The broker takes a record and gives it back.
	topic := "run.smoke." + strconv.FormatInt(time.Now().UnixNano(), 10)
	produce(t, kafkaAddr, topic, "hello")
	consumeOne(t, kafkaAddr, topic, "hello")
	// The registry answers, with every topic's schema registered by run.
	if code, body := httpGet(t, "http://"+registryAddr+"/subjects"); code != 200 || !strings.Contains(body, `"xchannel.product_daily-value"`) || !strings.Contains(body, `"amazon.orders-value"`) {
		t.Fatalf("registry: %d %q", code, body)
	}
	if code, body := httpGet(t, "http://"+metricsAddr+"/readyz"); code != 200 {
		t.Fatalf("readyz: %d %q", code, body)
	}

	// A crashed warehouse process is restarted by run.
	pid := warehouseChildPid(t, dataDir)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := httpGet(t, "http://"+warehouseAddr+"/?query=SELECT+1")
		if code == 200 && body == "1\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("warehouse not back after a crash: %d %q", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if newPid := warehouseChildPid(t, dataDir); newPid == pid {
		t.Fatalf("warehouse pid unchanged after SIGKILL")
	}

	// SIGTERM stops run and its warehouse child.
	child := warehouseChildPid(t, dataDir)
	run.stop(t)
	if syscall.Kill(child, 0) == nil {
		if !procfs.Gone(child) {
			t.Fatalf("warehouse child %d still running after run stopped", child)
		}
	}

	// The embedded broker keeps its log under the data directory: a new run
	// still has the record.
	if brokers == "" {
		run = startRun(t, env, logPath)
		consumeOne(t, kafkaAddr, topic, "hello")
		run.stop(t)
	}
}

func produce(t *testing.T, seed, topic, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", seed, err)
	}
}

func consumeOne(t *testing.T, seed, topic, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.ConsumeTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if fetches := cl.PollRecords(ctx, 1); fetches.Err() != nil || fetches.NumRecords() != 1 || string(fetches.Records()[0].Value) != want {
		t.Fatalf("consume %s from %s: %v, %d records", topic, seed, fetches.Err(), fetches.NumRecords())
	}
}

// warehouseChildPid finds the `shopstream warehouse` process serving dataDir.
func warehouseChildPid(t *testing.T, dataDir string) int {
	t.Helper()
	want := filepath.Join(dataDir, "warehouse")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && args[1] == "warehouse" && args[len(args)-1] == want {
			if procfs.Gone(pid) {
				continue
			}
			return pid
		}
	}
	t.Fatalf("no warehouse process for %s", want)
	return 0
}

// TestRunKilledTakesWarehouseAlong: a SIGKILLed run leaves no warehouse
// process behind holding the data directory.
func TestRunKilledTakesWarehouseAlong(t *testing.T) {
	dataDir := t.TempDir()
	env := []string{
		"SHOPSTREAM_DATA_DIR=" + dataDir,
		"SHOPSTREAM_WAREHOUSE_LISTEN=" + testenv.FreeAddr(t),
		"SHOPSTREAM_WAREHOUSE_NATIVE_LISTEN=" + testenv.FreeAddr(t),
		"SHOPSTREAM_KAFKA_LISTEN=" + testenv.FreeAddr(t),
		"SHOPSTREAM_SCHEMA_REGISTRY_LISTEN=" + testenv.FreeAddr(t),
		"SHOPSTREAM_METRICS_LISTEN=" + testenv.FreeAddr(t),
	}
	run := startRun(t, env, filepath.Join(dataDir, "run.log"))
	child := warehouseChildPid(t, dataDir)
	if err := run.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if procfs.Gone(child) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("warehouse %d still running 30s after run was killed", child)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunSimulatedEndToEnd: `run` with the simulated marketplaces ingests
// both channels, joins them and loads the joined rows: product_daily gets
// rows for products linked across channels carrying TikTok and Amazon
// figures. The deadline only bounds a hang; the test does not time anything.
func TestRunSimulatedEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	warehouseAddr, metricsAddr, nativeAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	env := []string{
		"SHOPSTREAM_DATA_DIR=" + dataDir,
		"SHOPSTREAM_WAREHOUSE_LISTEN=" + warehouseAddr,
		"SHOPSTREAM_WAREHOUSE_NATIVE_LISTEN=" + nativeAddr,
		"SHOPSTREAM_KAFKA_LISTEN=" + testenv.FreeAddr(t),
		"SHOPSTREAM_SCHEMA_REGISTRY_LISTEN=" + testenv.FreeAddr(t),
		"SHOPSTREAM_METRICS_LISTEN=" + metricsAddr,
		"SHOPSTREAM_SOURCES_SIMULATE=true",
		// A week of history is enough to join both channels; make run's
		// nine weeks are the demo's.
		"SHOPSTREAM_SOURCES_SIM_HISTORY_WEEKS=1",
	}
	run := startRun(t, env, filepath.Join(dataDir, "run.log"))
	if !strings.Contains(run.printed, "product_daily FINAL") {
		t.Errorf("run does not print the query of the joined table:\n%s", run.printed)
	}
	// TikTok attention and Amazon sales on the same days; Best Sellers Rank
	// from the first catalog snapshot on (Amazon gives no rank history, and
	// TikTok's daily figures come for complete days, so today's row has the
	// rank and yesterday's the views).
	q := "SELECT countIf(tiktok_views IS NOT NULL AND amazon_units IS NOT NULL), countIf(amazon_best_sellers_rank_best IS NOT NULL), " +
		"countIf(tiktok_orders IS NOT NULL AND amazon_orders IS NOT NULL) FROM product_daily FINAL " +
		"WHERE NOT (startsWith(product_key, 'amazon:') OR startsWith(product_key, 'tiktok:'))"
	waitNonZero(t, warehouseAddr, q, "joined cross-channel rows")
	// The simulated shop sends signed webhooks for its order changes to the
	// receiver run started; they land as received.
	waitNonZero(t, warehouseAddr, "SELECT count() FROM tiktok_webhook_events_changes WHERE event_type = 'ORDER_STATUS_CHANGE'",
		"webhook events from the simulated shop")

	// Every API client and the webhook receiver count their requests.
	_, metrics := httpGet(t, "http://"+metricsAddr+"/metrics")
	for _, want := range []string{`shopstream_amazon_api_requests_total{op="getOrders"}`, `shopstream_amazon_api_requests_total{op="createReport"}`,
		`shopstream_tiktokshop_api_requests_total{op="`, `shopstream_tiktokbiz_api_requests_total{op="`,
		`shopstream_webhook_requests_total{outcome="accepted",source="tiktokshop-webhook"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}

	// The analytics page is served on the metrics listener, and reads the
	// joined rows of products linked across channels.
	if !strings.Contains(run.printed, "analytics page   http://"+metricsAddr+"/") {
		t.Errorf("run does not print the page's address:\n%s", run.printed)
	}
	if code, page := httpGet(t, "http://"+metricsAddr+"/"); code != 200 || !strings.Contains(page, "shopstream · analytics") {
		t.Errorf("GET / on the metrics listener: %d %.200s", code, page)
	}
	code, body := httpGet(t, "http://"+metricsAddr+"/api/data/products?from=2020-01-01&to=2029-12-31")
	var products struct {
		Columns []struct{ Name string }
		Rows    [][]any
	}
	if err := json.Unmarshal([]byte(body), &products); code != 200 || err != nil {
		t.Fatalf("the page's products: %d %v %.300s", code, err, body)
	}
	col := map[string]int{}
	for i, c := range products.Columns {
		col[c.Name] = i
	}
	linked := 0
	for _, r := range products.Rows {
		key, _ := r[col["product_key"]].(string)
		if (strings.HasPrefix(key, "gtin:") || strings.HasPrefix(key, "sku:")) && r[col["tiktok_views"]] != nil && r[col["amazon_bsr_best"]] != nil {
			linked++
		}
	}
	if linked == 0 {
		t.Errorf("the page lists no product with figures from both channels among %d", len(products.Rows))
	}

	// status reads the running pipeline: the cursors of every source (not
	// the change-capture state beside them), both groups' lag, the tables.
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	out, err := execute(t, "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"amazon:orders/", "amazon:sales_traffic/", "tiktokshop:orders/", "tiktokshop:video_performance/",
		"tiktokbiz:videos/", "shopstream-load", "shopstream-transform", "DEAD LETTERS OPEN"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "changecapture") {
		t.Errorf("status lists change-capture state as cursors:\n%s", out)
	}
	if m := regexp.MustCompile(`(?m)^amazon_orders_changes +([0-9]+) +20`).FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("status does not show the loaded amazon orders with their newest change:\n%s", out)
	}
	run.stop(t)
}

// waitNonZero polls the warehouse until every column of q's one row is
// non-zero. The deadline only bounds a hang.
func waitNonZero(t *testing.T, warehouseAddr, q, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		code, body := httpGet(t, "http://"+warehouseAddr+"/?query="+url.QueryEscape(q))
		f := strings.Fields(body)
		if code == 200 && len(f) > 0 && !slices.Contains(f, "0") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 5 minutes: %d %q", what, code, body)
		}
		time.Sleep(time.Second)
	}
}
