package main

import (
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/testenv"
)

// TestMigrateCommand applies the migrations to a fresh warehouse twice (the
// second run has nothing to do) and prints the cluster variant without
// connecting anywhere.
func TestMigrateCommand(t *testing.T) {
	out, err := execute(t, "migrate", "--cluster", "prod", "--print")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-- 0002_raw_change_tables.sql", "CREATE TABLE IF NOT EXISTS amazon_orders_changes_local ON CLUSTER prod",
		"ENGINE = Distributed(prod, currentDatabase(), amazon_orders_changes_local, cityHash64(_key));"} {
		if !strings.Contains(out, want) {
			t.Errorf("--print output lacks %q", want)
		}
	}

	w := testenv.StartWarehouse(t)
	t.Setenv("SHOPSTREAM_WAREHOUSE_ADDR", w.Addr)
	t.Setenv("SHOPSTREAM_WAREHOUSE_PROTOCOL", "http")
	out, err = execute(t, "migrate")
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "applied 0001_dead_letters.sql") || !strings.Contains(out, "applied 0004_dead_letters_replayed.sql") {
		t.Errorf("first run printed %q", out)
	}
	out, err = execute(t, "migrate")
	if err != nil || strings.TrimSpace(out) != "up to date" {
		t.Errorf("second run: %v, printed %q", err, out)
	}
}
