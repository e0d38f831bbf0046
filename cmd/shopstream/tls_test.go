package main

import (
	"context"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shopstream/shopstream/internal/infra"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
)

// TestTLSConnections: with kafka.tls and warehouse.tls and their CA files,
// the stages reach a broker that only speaks TLS and a warehouse behind
// HTTPS (the real engine behind a TLS proxy): the broker answers, migrate
// runs, the readiness check passes. Without the CA the same servers are
// refused as unverified.
func TestTLSConnections(t *testing.T) {
	serverTLS, ca := testenv.SelfSignedTLS(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	wh := testenv.StartWarehouse(t)
	target, err := url.Parse(wh.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	proxy.TLS = serverTLS
	proxy.StartTLS()
	defer proxy.Close()

	t.Setenv("SHOPSTREAM_DATA_DIR", t.TempDir())
	t.Setenv("SHOPSTREAM_KAFKA_BROKERS", cluster.ListenAddrs()[0])
	t.Setenv("SHOPSTREAM_KAFKA_TLS", "true")
	t.Setenv("SHOPSTREAM_WAREHOUSE_ADDR", strings.TrimPrefix(proxy.URL, "https://"))
	t.Setenv("SHOPSTREAM_WAREHOUSE_PROTOCOL", "http")
	t.Setenv("SHOPSTREAM_WAREHOUSE_TLS", "true")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func() (kafkaErr, warehouseErr, readyErr error) {
		t.Helper()
		a := &app{}
		if err := a.load(); err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		kafkaErr = infra.ExternalBroker(a.cfg.Kafka.Brokers, a.kafkaOpts()...).Ping(pctx)
		conn, warehouseErr := load.Open(pctx, a.warehouse(1))
		if warehouseErr == nil {
			_ = conn.Close()
		}
		return kafkaErr, warehouseErr, a.warehouseCheck().Ping(pctx)
	}

	// The system roots do not know the test CA.
	k, w, r := connect()
	for name, err := range map[string]error{"kafka": k, "warehouse": w, "readiness": r} {
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s without the CA: %v, want a certificate error", name, err)
		}
	}

	t.Setenv("SHOPSTREAM_KAFKA_TLS_CA_FILE", ca)
	t.Setenv("SHOPSTREAM_WAREHOUSE_TLS_CA_FILE", ca)
	if k, w, r = connect(); k != nil || w != nil || r != nil {
		t.Fatalf("with the CA: kafka %v, warehouse %v, readiness %v", k, w, r)
	}
	out, err := execute(t, "migrate")
	if err != nil || !strings.Contains(out, "applied 0001_dead_letters.sql") {
		t.Fatalf("migrate over HTTPS: %v\n%s", err, out)
	}
}
