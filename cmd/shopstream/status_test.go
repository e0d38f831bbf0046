package main

import (
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/testenv"
)

// TestStatusGivesUp: dependencies that accept connections and never answer
// do not hang status: within --timeout it says which parts it could not
// read, and fails.
func TestStatusGivesUp(t *testing.T) {
	silent := testenv.SilentAddr(t)
	t.Setenv("SHOPSTREAM_DATA_DIR", t.TempDir())
	t.Setenv("SHOPSTREAM_KAFKA_BROKERS", silent)
	t.Setenv("SHOPSTREAM_SCHEMA_REGISTRY_URL", "http://"+silent)
	t.Setenv("SHOPSTREAM_WAREHOUSE_ADDR", silent)
	t.Setenv("SHOPSTREAM_WAREHOUSE_PROTOCOL", "http")

	done := make(chan struct{})
	var out string
	var err error
	go func() {
		defer close(done)
		out, err = execute(t, "status", "--timeout", "2s")
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("status hangs on dependencies that do not answer")
	}
	if err == nil || !strings.Contains(err.Error(), "status incomplete: cursors, lag, tables, dbt runs unavailable") {
		t.Fatalf("status = %v\n%s", err, out)
	}
	if strings.Count(out, "(unavailable: ") != 4 {
		t.Errorf("status does not say why each part is missing:\n%s", out)
	}
	// --timeout ended the waits, not the clients' own (much longer) ones.
	if !strings.Contains(err.Error(), "gave up after --timeout 2s") {
		t.Errorf("status did not give up at --timeout: %v", err)
	}
}
