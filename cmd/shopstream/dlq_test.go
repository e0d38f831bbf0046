package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/tiktokbiz/tiktokbiztest"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

// spoilingProxy stands in front of the TikTok Business simulator and, while
// spoil is set, sends the first video of every list page malformed (its
// likes an object): an API that sends bad data until it is fixed.
func spoilingProxy(t *testing.T, target string, spoil *atomic.Bool) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		// Uncompressed, so that the body can be rewritten.
		r.Out.Header.Del("Accept-Encoding")
	}}
	p.ModifyResponse = func(resp *http.Response) error {
		if !spoil.Load() || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.Path, "/video/list") {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = bytes.Replace(body, []byte(`"likes":`), []byte(`"likes":{"unexpected":true},"likes_was":`), 1)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

// TestDeadLetterReplayEveryStage runs the pipeline (`shopstream run`) and
// gets a dead letter out of every stage: the TikTok Business API sends
// malformed videos (ingest), and a product arrives with a schema id the
// registry does not know yet (transform and load). status lists all of
// them. Once the causes are fixed (the API sends good data, the registry
// has the schema), `dlq replay` replays each kind its way: the videos are
// fetched again and written by the ingest stage's writer, the product is
// loaded into its raw table, and the transform processes it and publishes
// its identity link. Each lands exactly once, the open list empties, and a
// second replay replays nothing and counts nothing as still failing.
func TestDeadLetterReplayEveryStage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The simulator on the wall clock, as the pipeline and its rate limits
	// run on it.
	world := simworld.MustNew(simworld.Config{Seed: 21, Start: time.Now().UTC().Add(-72 * time.Hour).Truncate(24 * time.Hour),
		Clock: simworld.NewWallClock(), Scale: simworld.Scale{Products: 6, VideosPerDay: 4}})
	sim := tiktokbiztest.NewServer(world, tiktokbiztest.Options{})
	t.Cleanup(sim.Close)
	var spoil atomic.Bool
	spoil.Store(true)
	proxy := spoilingProxy(t, sim.URL, &spoil)
	creds := sim.Sim.Credentials()

	e := newEmbedded(t)
	dataDir, warehouseAddr, kafkaAddr, registryAddr := e.dataDir, e.warehouseAddr, e.kafkaAddr, e.registryAddr
	env := e.env(
		"SHOPSTREAM_LOAD_MAX_WAIT=100ms",
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_BASE_URL="+proxy.URL+strings.TrimPrefix(sim.BaseURL(), sim.URL),
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_BUSINESS_ID="+creds.BusinessID,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_CLIENT_ID="+creds.ClientID,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_CLIENT_SECRET="+creds.ClientSecret,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_ACCESS_TOKEN="+creds.AccessToken,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_REFRESH_TOKEN="+creds.RefreshToken,
	)
	startRun(t, env, filepath.Join(dataDir, "run.log"))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	// query answers q, or the error the warehouse gave (the loader
	// migrates the tables after run reports healthy).
	query := func(q string) string {
		t.Helper()
		code, body := httpGet(t, "http://"+warehouseAddr+"/?query="+url.QueryEscape(q))
		if code != http.StatusOK {
			return fmt.Sprintf("HTTP %d: %s", code, body)
		}
		return strings.TrimSpace(body)
	}
	eventually := func(what, q, want string) {
		t.Helper()
		for got := query(q); got != want; got = query(q) {
			if ctx.Err() != nil {
				t.Fatalf("%s: %s = %q, want %q", what, q, got, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Ingest: the stage's first snapshot dead-letters the malformed videos.
	eventually("ingest dead letters", "SELECT count() > 0 FROM dead_letters WHERE stage = 'ingest-tiktokbiz'", "1")

	// Transform and load: a catalog item, and a product sharing its GTIN
	// whose schema id the registry does not know.
	client, serde := testenv.SerdeAt(t, ctx, "http://"+registryAddr)
	lateID := 0
	subjects, err := client.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subjects {
		ss, err := client.SchemaByVersion(ctx, s, -1)
		if err != nil {
			t.Fatal(err)
		}
		lateID = max(lateID, ss.ID+1)
	}
	ts := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	encode := func(topic string, rec map[string]any) []byte {
		t.Helper()
		rec, err := schematest.Fill(topic, rec)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]any{"source": "test", "entity": "x", "op": "snapshot", "source_ts": ts, "ingest_ts": ts, "version": int64(1)} {
			rec[k] = v
		}
		b, err := serde.Encode(topic, rec)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	catalog := encode("amazon.catalog", map[string]any{"event_id": "c1", "marketplace_id": "ATVPDKIKX0DER", "asin": "B000000009",
		"identifiers": []any{map[string]any{"identifier_type": "EAN", "identifier": "0887276302195"}}})
	product := encode("tiktok.products", map[string]any{"event_id": "p9", "shop_id": "7495001", "product_id": "P9", "status": "ACTIVATE",
		"skus": []any{map[string]any{"sku_id": "S9", "identifiers": []any{map[string]any{"identifier_type": "UPC", "identifier": "887276302195"}}}}})
	binary.BigEndian.PutUint32(product[1:5], uint32(lateID))
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("-1")},
		"amazon.catalog", "tiktok.products"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "amazon.catalog", Key: []byte("ATVPDKIKX0DER:B000000009"), Value: catalog},
		&kgo.Record{Topic: "tiktok.products", Key: []byte("7495001:P9"), Value: product}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	eventually("transform and load dead letters",
		"SELECT arrayStringConcat(arraySort(groupArray(stage)), ',') FROM dead_letters WHERE source_topic = 'tiktok.products'", "load,transform")

	ingestLetters := deadLetters(t, ctx, kafkaAddr, "tiktok.video_engagement", deadletter.KindIngest)
	var items []string
	for _, l := range ingestLetters {
		var v struct {
			ItemID string `json:"item_id"`
		}
		if err := json.Unmarshal(l.Value, &v); err != nil || v.ItemID == "" {
			t.Fatalf("ingest dead letter without the raw video: %q (%v)", l.Value, err)
		}
		items = append(items, "'"+v.ItemID+"'")
	}
	eventually("every dead letter open", "SELECT count() FROM dead_letters_open", strconv.Itoa(len(ingestLetters)+2))
	out, err := execute(t, "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{
		fmt.Sprintf(`(?m)^tiktok\.video_engagement +%d +ingest-tiktokbiz`, len(ingestLetters)),
		`(?m)^tiktok\.products +1 +load`, `(?m)^tiktok\.products +1 +transform`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("status does not show %s:\n%s", want, out)
		}
	}

	// The fixes: the API sends good data, the registry learns the schema.
	spoil.Store(false)
	text, _ := schemas.Source("tiktok.products")
	ss, err := client.CreateSchema(ctx, "replay-test-value", sr.Schema{Schema: strings.Replace(text, `"doc": "`, `"doc": "Late: `, 1), Type: sr.TypeAvro})
	if err != nil || ss.ID != lateID {
		t.Fatalf("registry gave id %d (%v), the product carries %d", ss.ID, err, lateID)
	}

	replay := func(topic string, want ...string) {
		t.Helper()
		out, err := execute(t, "dlq", "replay", topic)
		if err != nil {
			t.Fatalf("dlq replay %s: %v\n%s", topic, err, out)
		}
		t.Logf("dlq replay %s:\n%s", topic, out)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("dlq replay %s does not say %q:\n%s", topic, w, out)
			}
		}
	}
	n := len(ingestLetters)
	replay("tiktok.products", "load: read 1, loaded 1, already loaded 0, still failing 0\n",
		"transform: requested 1 (", "ingest: replayed 0, nothing left to write 0, still failing 0, replayed before 0\n")
	replay("tiktok.video_engagement", "load: read 0, loaded 0, already loaded 0, still failing 0\n", "transform: requested 0 (",
		fmt.Sprintf("ingest: replayed %d, nothing left to write 0, still failing 0, replayed before 0\n", n))

	// Each landed exactly once, and the open list is empty.
	eventually("the product loaded", "SELECT count() FROM tiktok_products_changes WHERE product_id = 'P9'", "1")
	eventually("the transform's link", "SELECT count() FROM product_links_changes WHERE _key = 'tiktok:7495001:S9'", "1")
	eventually("the videos written", fmt.Sprintf("SELECT count(), uniqExact(item_id) FROM tiktok_video_engagement_changes WHERE item_id IN (%s)",
		strings.Join(items, ", ")), fmt.Sprintf("%d\t%d", n, n))
	eventually("no dead letter open", "SELECT count() FROM dead_letters_open", "0")
	out, err = execute(t, "status")
	if err != nil || !regexp.MustCompile(`(?m)^\(none\) +0`).MatchString(out) {
		t.Errorf("status after the replays (%v):\n%s", err, out)
	}

	// Again: nothing is replayed, nothing counted as still failing.
	replay("tiktok.products", "load: read 1, loaded 0, already loaded 1, still failing 0\n",
		"transform: requested 0 (the running transform replays them; see status), replayed before 1\n")
	replay("tiktok.video_engagement", fmt.Sprintf("ingest: replayed 0, nothing left to write 0, still failing 0, replayed before %d\n", n))
	for q, want := range map[string]string{
		"SELECT count() FROM tiktok_products_changes WHERE product_id = 'P9'":                                      "1",
		"SELECT count() FROM tiktok_video_engagement_changes WHERE item_id IN (" + strings.Join(items, ", ") + ")": strconv.Itoa(n),
		"SELECT count() FROM dead_letters_open":                                                                    "0",
	} {
		if got := query(q); got != want {
			t.Errorf("after a second replay %s = %s, want %s", q, got, want)
		}
	}
	if got := deadLetters(t, ctx, kafkaAddr, "tiktok.products", deadletter.KindTransform); len(got) != 1 {
		t.Errorf("%d transform dead letters, want 1", len(got))
	}
	if got := query("SELECT count() FROM product_links_changes WHERE _key = 'tiktok:7495001:S9'"); got != "1" {
		t.Errorf("the link was published %s times", got)
	}
}

// deadLetters reads the dead letters of kind on topic's dead-letter topic.
func deadLetters(t *testing.T, ctx context.Context, broker, topic, kind string) []deadletter.Letter {
	t.Helper()
	g, err := deadletter.Read(ctx, []kgo.Opt{kgo.SeedBrokers(broker)}, deadletter.Topic(topic))
	if err != nil {
		t.Fatal(err)
	}
	ls := g.Letters(kind)
	slices.SortFunc(ls, func(a, b deadletter.Letter) int { return int(a.DLQOffset - b.DLQOffset) })
	return ls
}
