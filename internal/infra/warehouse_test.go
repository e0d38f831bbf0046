package infra_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/internal/infra"
	"github.com/shopstream/shopstream/internal/supervise"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestWarehouseCrashAcrossProtocols: a query that crashes the engine (SYSTEM
// KILL ends the engine's process) sent over one protocol fails the query in
// flight on the other protocol with an error instead of leaving it hanging;
// the supervisor restarts the child, and clients of both protocols work
// again with the connection pools they had.
func TestWarehouseCrashAcrossProtocols(t *testing.T) {
	bin := testenv.Binary(t)
	ctx := context.Background()
	httpAddr, nativeAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	w, err := infra.NewWarehouse(bin, httpAddr, nativeAddr, filepath.Join(t.TempDir(), "warehouse"), log)
	if err != nil {
		t.Fatal(err)
	}
	// The warehouse runs as run runs it: a part of the supervisor.
	metrics, err := supervise.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	sup := supervise.New(log, metrics, supervise.Policy{})
	runCtx, stop := context.WithCancel(ctx)
	sup.Go(runCtx, "warehouse", w)
	t.Cleanup(func() { stop(); sup.Wait() })
	for deadline := time.Now().Add(2 * time.Minute); w.Ping(ctx) != nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the warehouse is not healthy after 2 minutes")
		}
	}
	open := func(protocol clickhouse.Protocol, addr string) driver.Conn {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Protocol: protocol,
			DialTimeout: 5 * time.Second, ReadTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	clients := map[string]driver.Conn{"native": open(clickhouse.Native, nativeAddr), "http": open(clickhouse.HTTP, httpAddr)}
	answer := func(name string) error {
		var one uint8
		return clients[name].QueryRow(ctx, "SELECT 1").Scan(&one)
	}
	for name := range clients {
		if err := answer(name); err != nil {
			t.Fatalf("%s before any crash: %v", name, err)
		}
	}

	// The victim's query, checked to work when nothing crashes.
	slow := func(conn driver.Conn, rows int) error {
		var n uint64
		return conn.QueryRow(ctx, fmt.Sprintf("SELECT sum(sleepEachRow(0.5)) FROM numbers(%d) SETTINGS max_block_size = 1", rows)).Scan(&n)
	}
	for name, conn := range clients {
		if err := slow(conn, 1); err != nil {
			t.Fatalf("%s: the slow query fails without a crash: %v", name, err)
		}
	}

	for i, tc := range []struct{ killer, victim string }{{"http", "native"}, {"native", "http"}} {
		// The victim's query takes seconds in the engine; whether the
		// crash comes while it runs or before it starts, it must end in
		// an error.
		victim := make(chan error, 1)
		go func() { victim <- slow(clients[tc.victim], 12) }()
		_ = clients[tc.killer].Exec(ctx, "SYSTEM KILL")
		select {
		case err := <-victim:
			var ex *clickhouse.Exception
			if err == nil || errors.As(err, &ex) {
				t.Fatalf("crash %d: the %s query in flight got %v from a killed engine, want a connection error", i, tc.victim, err)
			}
			t.Logf("crash %d: %s client got: %v", i, tc.victim, err)
		case <-time.After(2 * time.Minute):
			t.Fatalf("crash %d: the %s query in flight hangs after the engine died", i, tc.victim)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for name := range clients {
			for answer(name) != nil {
				if time.Now().After(deadline) {
					t.Fatalf("crash %d: %s clients get no answer after the restart", i, name)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		var m dto.Metric
		if err := metrics.Restarts("warehouse").Write(&m); err != nil {
			t.Fatal(err)
		}
		// A child may also fail to start once (its port briefly taken) and
		// be restarted again, so each crash counts at least one restart.
		if restarts := int(m.GetCounter().GetValue()); restarts < i+1 {
			t.Fatalf("after crash %d the supervisor counted %d restarts, want at least %d", i, restarts, i+1)
		}
	}
}

// TestWarehouseChildFailsToStart: a child that exits before it answers
// ends Run with an error that says so (the supervisor then restarts it);
// Run must not wait a second time for an exit it has already seen.
func TestWarehouseChildFailsToStart(t *testing.T) {
	w, err := infra.NewWarehouse("/bin/false", testenv.FreeAddr(t), testenv.FreeAddr(t), t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "exited before it was healthy") {
			t.Fatalf("Run of a child that exits at once returned %v, want the exit before health", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run hangs after its child exited before it was healthy")
	}
}
