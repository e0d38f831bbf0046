package main

import (
	"context"
	"fmt"
	"math/big"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/schemas"
)

// TestRunLoads: `shopstream run` on embedded defaults loads what lands in its
// broker into its warehouse: an amazon.orders record produced to the
// in-process broker shows up in amazon_orders_changes and amazon_orders.
func TestRunLoads(t *testing.T) {
	e := newEmbedded(t)
	dataDir, warehouseAddr, kafkaAddr, registryAddr, metricsAddr := e.dataDir, e.warehouseAddr, e.kafkaAddr, e.registryAddr, e.metricsAddr
	r := startRun(t, e.env("SHOPSTREAM_LOAD_MAX_WAIT=100ms"), filepath.Join(dataDir, "run.log"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	client, err := sr.NewClient(sr.URLs("http://" + registryAddr))
	if err != nil {
		t.Fatal(err)
	}
	serde, err := schemas.NewRegistry(client).Serde(ctx, "amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	v, err := serde.Encode("amazon.orders", map[string]any{
		"event_id": "e1", "source": "amazon", "entity": "order", "op": "create", "source_ts": ts, "ingest_ts": ts,
		"version": int64(1), "amazon_order_id": "111-0000001-0000001", "marketplace_id": "ATVPDKIKX0DER",
		"purchase_date": ts, "last_update_date": ts, "order_status": "Shipped",
		"order_total_amount": goavro.Union("bytes.decimal", big.NewRat(1999, 100)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": kadm.StringPtr("-1")}, "amazon.orders"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "amazon.orders", Key: []byte("ATVPDKIKX0DER:111-0000001-0000001"), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	q := "SELECT concat(toString(count()), ' ', toString(sum(order_total_amount))) FROM amazon_orders FINAL"
	var last string
	for {
		_, body := httpGet(t, "http://"+warehouseAddr+"/?query="+url.QueryEscape(q))
		last = strings.TrimSpace(body)
		if last == "1 19.99" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the order did not reach amazon_orders: %s", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The loader counts the row once ClickHouse acknowledged it, which can
	// be a moment after the row is visible.
	want := fmt.Sprintf("shopstream_load_rows_inserted_total{table=%q} 1", "amazon_orders_changes")
	for {
		_, body := httpGet(t, "http://"+metricsAddr+"/metrics")
		if strings.Contains(body, want) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("metrics do not count the row:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.stop(t)
}
