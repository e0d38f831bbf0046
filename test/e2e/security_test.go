package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/infra"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/testenv"
)

// secureRun is `shopstream run` with every secret configured: the three
// marketplace APIs (the simulators, configured as real sources), the
// webhook app secret, and users with passwords on the warehouse, the
// broker and the schema registry (run's own, which then enforce them).
type secureRun struct {
	run *pipelinetest.Run
	sim *sim.Sim
	// secrets names every configured secret value.
	secrets map[string]string
	// env is run's configuration, for commands against it (status).
	env                                          []string
	user, warehousePass, kafkaPass, registryPass string
}

func startSecureRun(t *testing.T) *secureRun {
	t.Helper()
	testenv.Binary(t) // skip before starting anything when there is none
	ctx := context.Background()
	zone, _ := time.LoadLocation("America/Los_Angeles")
	today := time.Now().In(zone).Format(time.DateOnly)
	sm, err := sim.Start(ctx, sim.Options{Seed: 4242, Start: time.Now().Add(-72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sm.Close() })
	d := sm.Description()
	// Passwords nobody would print by accident: long, random-looking and
	// distinct, so a hit in the output is this secret and nothing else.
	stamp := fmt.Sprintf("%x", time.Now().UnixNano())
	s := &secureRun{sim: sm, user: "shop_admin",
		warehousePass: "whPw-" + stamp + "-Vq9", kafkaPass: "kfPw-" + stamp + "-Zx7", registryPass: "srPw-" + stamp + "-Lm3"}
	s.secrets = map[string]string{
		"warehouse.password":              s.warehousePass,
		"kafka.password":                  s.kafkaPass,
		"schema_registry.password":        s.registryPass,
		"sources.amazon.client_secret":    d.Amazon.Credentials.ClientSecret,
		"sources.amazon.refresh_token":    d.Amazon.Credentials.RefreshToken,
		"sources.tiktokshop.app_secret":   d.TikTokShop.Credentials.AppSecret, // also the webhooks' signing key
		"sources.tiktokshop.auth_code":    d.TikTokShop.Credentials.AuthCode,
		"sources.tiktokbiz.access_token":  d.TikTokBusiness.Credentials.AccessToken,
		"sources.tiktokbiz.refresh_token": d.TikTokBusiness.Credentials.RefreshToken,
		"sources.tiktokbiz.client_secret": d.TikTokBusiness.Credentials.ClientSecret,
	}
	s.env = append(pipelinetest.SimSourcesEnv(d), pipelinetest.Env(
		"SHOPSTREAM_WAREHOUSE_USER", s.user, "SHOPSTREAM_WAREHOUSE_PASSWORD", s.warehousePass,
		"SHOPSTREAM_KAFKA_USER", s.user, "SHOPSTREAM_KAFKA_PASSWORD", s.kafkaPass,
		"SHOPSTREAM_SCHEMA_REGISTRY_USER", s.user, "SHOPSTREAM_SCHEMA_REGISTRY_PASSWORD", s.registryPass,
		"SHOPSTREAM_SOURCES_AMAZON_SINCE", today, "SHOPSTREAM_SOURCES_TIKTOKSHOP_SINCE", today,
		// Everything a stage logs, for the grep below.
		"SHOPSTREAM_LOG_LEVEL", "debug",
	)...)
	s.run = pipelinetest.StartRun(t, pipelinetest.RunOptions{Webhooks: true, Env: s.env})
	s.env = append(s.env, pipelinetest.Env(
		"SHOPSTREAM_DATA_DIR", filepath.Join(s.run.Dir, "data"),
		"SHOPSTREAM_WAREHOUSE_LISTEN", s.run.WarehouseAddr, "SHOPSTREAM_WAREHOUSE_NATIVE_LISTEN", s.run.NativeAddr,
		"SHOPSTREAM_KAFKA_LISTEN", s.run.KafkaAddr,
		"SHOPSTREAM_SCHEMA_REGISTRY_LISTEN", s.run.RegistryAddr, "SHOPSTREAM_METRICS_LISTEN", s.run.MetricsAddr)...)
	return s
}

// TestRunSecurity runs `shopstream run` once with every secret configured
// (real sources: the simulators; users with passwords on the warehouse,
// the broker and the registry) and checks, as a user or an attacker on the
// machine would see it:
//   - listeners: every socket run and its warehouse child listen on is on
//     loopback (whatever opened it);
//   - passwords: a wrong or missing password is refused by the warehouse's
//     HTTP interface (each way of sending one) and native port, the broker
//     and the registry, and the right one works;
//   - webhooks: a bad or missing signature is 401 and stores nothing, an
//     oversized body 413, a redelivered event is stored once, also when it
//     comes again after run was killed (SIGKILL) and restarted;
//   - secrets: no secret value (nor a basic-auth encoding of one) appears
//     in anything the run produced: its output and logs (debug level, both
//     incarnations), /metrics, /healthz, /readyz, the analytics page (HTML
//     and JSON), `status` and its errors, `config validate`, and the
//     warehouse's query log where it keeps one.
func TestRunSecurity(t *testing.T) {
	s := startSecureRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	collected := map[string]string{} // what the run produced, by where

	t.Run("listeners on loopback", func(t *testing.T) {
		ls, err := s.run.Listeners()
		if err != nil {
			t.Fatal(err)
		}
		bound := map[string]bool{}
		for _, l := range ls {
			bound[l.Addr] = true
			if !l.IP.IsLoopback() {
				t.Errorf("pid %d listens on %s, not loopback", l.Pid, l.Addr)
			}
		}
		for name, addr := range map[string]string{"warehouse": s.run.WarehouseAddr, "warehouse native": s.run.NativeAddr, "kafka": s.run.KafkaAddr,
			"registry": s.run.RegistryAddr, "metrics": s.run.MetricsAddr, "webhooks": s.run.WebhookAddr} {
			if !bound[addr] {
				t.Errorf("%s: %s not among the sockets found (%v): the check reads the wrong processes", name, addr, ls)
			}
		}
	})

	t.Run("wrong passwords refused", func(t *testing.T) {
		checkWarehouseAuth(t, ctx, s)
		checkNativeAuth(t, ctx, s)
		checkKafkaAuth(t, ctx, s)
		checkRegistryAuth(t, ctx, s)
	})

	t.Run("webhooks", func(t *testing.T) { checkWebhooks(t, ctx, s) })

	// Everything else a user can look at: the ops endpoints, and the
	// analytics page run serves next to them, its HTML and its JSON.
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/", "/api/meta", "/api/pipeline",
		"/api/data/products", "/api/data/product_links", "/api/data/dbt_runs", "/api/data/identity_conflicts"} {
		collected[path] = httpBody(t, "http://"+s.run.MetricsAddr+path)
	}
	if !strings.Contains(collected["/"], "<html") {
		t.Errorf("no analytics page on the metrics listener: %.200q", collected["/"])
	}
	bin := testenv.Binary(t)
	out, errOut, err := pipelinetest.Command(t, bin, s.run.Dir, 2*time.Minute, s.env, "status")
	if err != nil {
		t.Errorf("status: %v\n%s", err, errOut)
	}
	collected["status"] = out + errOut
	// Errors: status with a wrong warehouse password, and config validate
	// with a broken value next to the secrets.
	wrong := append(append([]string{}, s.env...), "SHOPSTREAM_WAREHOUSE_PASSWORD=not-"+s.warehousePass[4:])
	out, errOut, err = pipelinetest.Command(t, bin, s.run.Dir, 2*time.Minute, append(wrong, "SHOPSTREAM_KAFKA_PASSWORD=x"+s.kafkaPass), "status", "--timeout", "20s")
	if err == nil {
		t.Errorf("status with wrong passwords succeeded:\n%s", out)
	}
	collected["status with wrong passwords"] = out + errOut
	out, errOut, err = pipelinetest.Command(t, bin, s.run.Dir, time.Minute, append(append([]string{}, s.env...), "SHOPSTREAM_LOAD_BATCH_ROWS=-1"), "config", "validate")
	if err == nil {
		t.Error("config validate accepted load.batch_rows -1")
	}
	collected["config validate"] = out + errOut
	if q, err := s.run.Warehouse.Query(ctx, "SELECT query FROM system.query_log FORMAT TSV"); err == nil {
		collected["query_log"] = q
	} else {
		t.Logf("query log not readable (%v); skipped in the grep", err)
	}
	// Output of every process the test started (run's two incarnations,
	// the commands), read last so it holds what the steps above caused.
	files, _ := filepath.Glob(filepath.Join(s.run.Dir, "*.std*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		collected[filepath.Base(f)] = string(b)
	}
	if len(collected["run.stderr"]) == 0 {
		t.Fatal("run logged nothing: the grep would prove nothing")
	}

	t.Run("no secret in anything produced", func(t *testing.T) {
		// The grep reads what it should: names that must appear do.
		all := strings.Join(slices.Collect(maps.Values(collected)), "\n")
		for _, canary := range []string{s.user, s.run.WarehouseAddr, "shopstream_webhook_requests_total"} {
			if !strings.Contains(all, canary) {
				t.Errorf("%q appears nowhere in what was collected: the grep reads the wrong output", canary)
			}
		}
		for key, secret := range s.secrets {
			forms := map[string]string{"as is": secret, "url-encoded": url.QueryEscape(secret),
				"in basic auth": base64.StdEncoding.EncodeToString([]byte(s.user + ":" + secret))}
			for where, text := range collected {
				for form, v := range forms {
					if strings.Contains(text, v) {
						i := strings.Index(text, v)
						t.Errorf("%s (%s) appears in %s: ...%s...", key, form, where, text[max(0, i-120):i])
					}
				}
			}
		}
		var sizes []string
		for where, text := range collected {
			sizes = append(sizes, fmt.Sprintf("%s %d B", where, len(text)))
		}
		t.Logf("grepped for %d secrets: %s", len(s.secrets), strings.Join(sizes, ", "))
	})
}

func httpBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// checkWarehouseAuth: the warehouse's HTTP interface refuses a wrong
// password sent any of the three ways clients send one, and none at all,
// with ClickHouse's code 516, and answers the right one.
func checkWarehouseAuth(t *testing.T, ctx context.Context, s *secureRun) {
	t.Helper()
	base := "http://" + s.run.WarehouseAddr + "/?query=" + url.QueryEscape("SELECT 1")
	try := func(name string, set func(*http.Request), wantOK bool) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case wantOK && resp.StatusCode != http.StatusOK:
			t.Errorf("warehouse HTTP, %s: %s %s", name, resp.Status, b)
		case !wantOK && (resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "516")):
			t.Errorf("warehouse HTTP, %s: %s %s, want 403 with code 516", name, resp.Status, b)
		}
	}
	bad := s.warehousePass + "x"
	try("right password", func(r *http.Request) { r.SetBasicAuth(s.user, s.warehousePass) }, true)
	try("no credentials", func(*http.Request) {}, false)
	try("basic auth, wrong password", func(r *http.Request) { r.SetBasicAuth(s.user, bad) }, false)
	try("basic auth, wrong user", func(r *http.Request) { r.SetBasicAuth("default", s.warehousePass) }, false)
	try("X-ClickHouse headers, wrong key", func(r *http.Request) {
		r.Header.Set("X-ClickHouse-User", s.user)
		r.Header.Set("X-ClickHouse-Key", bad)
	}, false)
	try("URL parameters, wrong password", func(r *http.Request) {
		r.URL.RawQuery += "&user=" + s.user + "&password=" + url.QueryEscape(bad)
	}, false)
}

// checkNativeAuth: the warehouse's native port (clickhouse-go over the
// native protocol) refuses a wrong or missing password and takes the right
// one.
func checkNativeAuth(t *testing.T, ctx context.Context, s *secureRun) {
	t.Helper()
	for name, c := range map[string]struct {
		user, pass string
		ok         bool
	}{
		"right password": {s.user, s.warehousePass, true},
		"no password":    {s.user, "", false},
		"wrong password": {s.user, s.warehousePass + "x", false},
		"default user":   {"default", "", false},
	} {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.run.NativeAddr}, Protocol: clickhouse.Native,
			Auth: clickhouse.Auth{Username: c.user, Password: c.pass}, DialTimeout: 10 * time.Second})
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err = conn.Ping(pctx)
			cancel()
			_ = conn.Close()
		}
		switch {
		case c.ok && err != nil:
			t.Errorf("warehouse native, %s: %v", name, err)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), "516")):
			t.Errorf("warehouse native, %s: %v, want code 516", name, err)
		}
	}
}

// checkKafkaAuth: run's broker takes only SASL/PLAIN clients with the
// configured user and password.
func checkKafkaAuth(t *testing.T, ctx context.Context, s *secureRun) {
	t.Helper()
	sasl := func(user, pass string) kgo.Opt { return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()) }
	for name, c := range map[string]struct {
		opts []kgo.Opt
		ok   bool
	}{
		"right password": {[]kgo.Opt{sasl(s.user, s.kafkaPass)}, true},
		"no SASL":        {nil, false},
		"wrong password": {[]kgo.Opt{sasl(s.user, s.kafkaPass+"x")}, false},
	} {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := infra.ExternalBroker([]string{s.run.KafkaAddr}, c.opts...).Ping(pctx)
		cancel()
		if (err == nil) != c.ok {
			t.Errorf("kafka, %s: %v", name, err)
		}
	}
}

// checkRegistryAuth: run's schema registry answers only the configured
// user and password.
func checkRegistryAuth(t *testing.T, ctx context.Context, s *secureRun) {
	t.Helper()
	url := "http://" + s.run.RegistryAddr
	for name, c := range map[string]struct {
		user, pass string
		ok         bool
	}{
		"right password": {s.user, s.registryPass, true},
		"none":           {"", "", false},
		"wrong password": {s.user, s.registryPass + "x", false},
	} {
		if err := infra.ExternalRegistry(url, c.user, c.pass).Ping(ctx); (err == nil) != c.ok {
			t.Errorf("registry, %s: %v", name, err)
		}
	}
}

// checkWebhooks delivers bad, oversized, valid and redelivered events to
// the receiver (the last one again after a SIGKILL and restart of run) and
// checks the answers, then what tiktok_webhook_events_changes holds once a
// last valid event has arrived there.
func checkWebhooks(t *testing.T, ctx context.Context, s *secureRun) {
	t.Helper()
	creds := s.sim.Description().TikTokShop.Credentials
	hooks := &pipelinetest.Webhooks{URL: s.run.WebhookURL(), AppKey: creds.AppKey, AppSecret: []byte(creds.AppSecret)}
	order := s.sim.World().TikTokOrdersCreated(s.sim.World().Start(), time.Now())[0]
	at := time.Now().Add(-time.Minute)
	event := func(id string) []byte {
		return pipelinetest.OrderStatusChange(id, creds.ShopID, order.ID, "AWAITING_SHIPMENT", at)
	}
	expect := func(name string, code int, err error, want int) {
		t.Helper()
		if err != nil || code != want {
			t.Errorf("%s: %d %v, want %d", name, code, err, want)
		}
	}
	forged := event("9100000000000000001")
	code, err := hooks.SendWith(ctx, forged, webhook.Signature(creds.AppKey, []byte("not-the-app-secret"), forged))
	expect("signed with another secret", code, err, http.StatusUnauthorized)
	unsigned := event("9100000000000000002")
	code, err = hooks.SendWith(ctx, unsigned, "")
	expect("no signature", code, err, http.StatusUnauthorized)
	tampered := event("9100000000000000003")
	sig := webhook.Signature(creds.AppKey, []byte(creds.AppSecret), tampered)
	code, err = hooks.SendWith(ctx, []byte(strings.Replace(string(tampered), "AWAITING_SHIPMENT", "CANCEL", 1)), sig)
	expect("body changed after signing", code, err, http.StatusUnauthorized)
	huge := []byte(`{"type":1,"tts_notification_id":"9100000000000000004","data":{"pad":"` + strings.Repeat("x", 80<<10) + `"}}`)
	code, err = hooks.Send(ctx, huge)
	expect("oversized body (80 KiB over the 64 KiB bound)", code, err, http.StatusRequestEntityTooLarge)

	replayed := event("9100000000000000005")
	for i := range 2 {
		code, err = hooks.Send(ctx, replayed)
		expect(fmt.Sprintf("valid event, delivery %d", i+1), code, err, http.StatusOK)
	}
	metrics := httpBody(t, s.run.MetricsURL())
	for outcome, want := range map[string]string{"bad_signature": "3", "too_large": "1", "accepted": "1", "duplicate": "1"} {
		line := fmt.Sprintf(`shopstream_webhook_requests_total{outcome="%s",source="%s"} %s`, outcome, webhook.Source, want)
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %q", line)
		}
	}

	// The 200 of the second delivery lost in a crash: TikTok delivers
	// again, to a restarted receiver.
	s.run.Kill()
	s.run.RestartRun(t, 3*time.Minute)
	code, err = hooks.Send(ctx, replayed)
	expect("valid event again after a restart", code, err, http.StatusOK)
	last := event("9100000000000000006")
	code, err = hooks.Send(ctx, last)
	expect("a last valid event", code, err, http.StatusOK)

	w := s.run.Warehouse
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer wcancel()
	if _, err := w.WaitInt(wctx, "SELECT count() FROM tiktok_webhook_events_changes WHERE tts_notification_id = '9100000000000000006'",
		func(n int64) bool { return n > 0 }); err != nil {
		t.Fatalf("the last event never reached the warehouse: %v", err)
	}
	rows, err := w.Rows(ctx, "SELECT tts_notification_id, count() FROM tiktok_webhook_events_changes WHERE startsWith(tts_notification_id, '91000000000000000') GROUP BY 1 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rows)
	if want := "[[9100000000000000005 1] [9100000000000000006 1]]"; got != want {
		t.Errorf("stored events (id, copies): %s, want %s (nothing of the refused ones, the redelivered one once)", got, want)
	}
}
