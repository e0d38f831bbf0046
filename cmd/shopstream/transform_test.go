package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/stream"
)

// TestTransformCommand: `shopstream transform` against the real broker links
// an ASIN and a TikTok SKU that share a GTIN, publishes the links to
// xchannel.product_links, counts them in its metrics, and stops cleanly on
// SIGTERM.
func TestTransformCommand(t *testing.T) {
	bin := testenv.Binary(t)
	k := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	k.CreateTopics(t, 1, append(stream.Topics(), schemas.TopicProductLinks, schemas.TopicProductDaily)...)
	brokers, serde, prefix, cl := k.Brokers, k.Serde, k.Prefix, k.Client

	ts := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	meta := func(key string) map[string]any {
		return map[string]any{"event_id": key, "source": "test", "entity": "x", "op": "snapshot",
			"source_ts": ts, "ingest_ts": ts, "version": int64(1)}
	}
	catalog := meta("c1")
	catalog["marketplace_id"], catalog["asin"] = "ATVPDKIKX0DER", "B000000001"
	catalog["identifiers"] = []any{map[string]any{"identifier_type": "EAN", "identifier": "0887276302195"}}
	product := meta("p1")
	product["shop_id"], product["product_id"], product["status"] = "7495001", "P1", "ACTIVATE"
	product["skus"] = []any{map[string]any{"sku_id": "S1",
		"identifiers": []any{map[string]any{"identifier_type": "UPC", "identifier": "887276302195"}}}}
	for _, in := range []struct {
		topic, key string
		rec        map[string]any
	}{{"amazon.catalog", "ATVPDKIKX0DER:B000000001", catalog}, {"tiktok.products", "7495001:P1", product}} {
		b, err := serde.Encode(in.topic, in.rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: prefix + in.topic, Key: []byte(in.key), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	metricsAddr := testenv.FreeAddr(t)
	logPath := filepath.Join(t.TempDir(), "transform.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "transform")
	cmd.Env = append(append(os.Environ(), k.Env()...),
		"SHOPSTREAM_METRICS_LISTEN="+metricsAddr,
		"SHOPSTREAM_LOG_LEVEL=debug",
		"SHOPSTREAM_TRANSFORM_GROUP="+prefix+"group",
		"SHOPSTREAM_TRANSFORM_INSTANCE_ID=a",
		"SHOPSTREAM_TRANSFORM_PARTITIONS=2",
		"SHOPSTREAM_DATA_DIR="+t.TempDir(),
		"SHOPSTREAM_TRANSFORM_TIME_ZONE=America/New_York",
		// One record a transaction: the two inputs, read in one poll
		// otherwise, commit apart (checked in the log below).
		"SHOPSTREAM_TRANSFORM_MAX_TRANSACTION_RECORDS=1",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("transform log:\n%s", b)
		}
	})

	out, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(prefix+"xchannel.product_links"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	const want = "gtin:00887276302195"
	keys := map[string]string{} // link key -> latest product key
	linked := func() bool {
		return len(keys) == 2 && keys["amazon:ATVPDKIKX0DER:B000000001"] == want && keys["tiktok:7495001:S1"] == want
	}
	for !linked() {
		fs := out.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("links published: %v, want both keyed %s", keys, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			v, err := serde.Decode(ctx, r.Value)
			if err != nil {
				t.Errorf("decode link: %v", err)
				return
			}
			keys[string(r.Key)] = fmt.Sprint(v["product_key"])
		})
	}
	wantMetrics := []string{
		// Each product is first published unmatched, then one of them is
		// re-keyed when the other arrives with the same GTIN.
		`shopstream_transform_links_changed_total 3`,
		`shopstream_transform_records_in_total{topic="amazon.catalog"} 1`,
		`shopstream_transform_tasks{step="identity"} 1`,
	}
	for {
		_, body := httpGet(t, "http://"+metricsAddr+"/metrics")
		missing := ""
		for _, w := range wantMetrics {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("metrics lack %s:\n%s", missing, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Its dependencies (Kafka, the registry) answer: ready.
	if code, body := httpGet(t, "http://"+metricsAddr+"/readyz"); code != 200 {
		t.Errorf("readyz: %d %q", code, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, "transform", "after SIGTERM")
	b, _ := os.ReadFile(logPath)
	for _, msg := range []string{"transform starting", "task restored", "transaction committed", "transform stopped"} {
		if !strings.Contains(string(b), msg) {
			t.Errorf("log lacks %q:\n%s", msg, b)
		}
	}
	commits := 0
	for _, line := range strings.Split(string(b), "\n") {
		var ev struct {
			Message string `json:"message"`
			Inputs  int    `json:"inputs"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Message != "transaction committed" || ev.Inputs == 0 {
			continue
		}
		commits++
		if ev.Inputs > 1 {
			t.Errorf("a transaction consumed %d records, transform.max_transaction_records is 1: %s", ev.Inputs, line)
		}
	}
	if commits < 2 {
		t.Errorf("%d transactions consumed records, want one per input", commits)
	}
}
