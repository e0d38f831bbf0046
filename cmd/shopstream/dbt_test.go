package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/dbtrun"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestRunScheduledDbt: with dbt.schedule set, run builds the dbt project with
// the real dbt against its warehouse, records the run in dbt_runs, counts
// it in /metrics, and status shows it.
func TestRunScheduledDbt(t *testing.T) {
	dbt := testenv.Require(t, testenv.DbtVar, "dbt")
	project := pipelinetest.DbtProject(t)
	e := newEmbedded(t)
	dataDir, warehouseAddr, metricsAddr := e.dataDir, e.warehouseAddr, e.metricsAddr
	env := e.env(
		"SHOPSTREAM_DBT_SCHEDULE=@every 2s",
		"SHOPSTREAM_DBT_BIN="+dbt,
		"SHOPSTREAM_DBT_PROJECT_DIR="+project,
		"SHOPSTREAM_DBT_ARGS=build,--select,stg_product_daily,--indirect-selection,cautious",
	)
	run := startRun(t, env, filepath.Join(dataDir, "run.log"))
	deadline := time.After(time.Minute)
	for banner := false; !banner; {
		select {
		case l := <-run.lines:
			banner = strings.HasPrefix(l, "dbt ") && strings.Contains(l, `schedule "@every 2s"`)
		case <-deadline:
			t.Fatal("run does not say dbt is scheduled")
		}
	}
	go func() { // keep run's stdout flowing
		for range run.lines {
		}
	}()
	// The first run, once the loader has caught up (nothing to load here).
	waitNonZero(t, warehouseAddr, "SELECT countIf(status = 'success' AND models_ok = 1 AND tests_ok > 0 AND tests_failed = 0 AND command LIKE 'build --select stg_product_daily%') FROM dbt_runs", "successful dbt run")
	_, metrics := httpGet(t, "http://"+metricsAddr+"/metrics")
	if !strings.Contains(metrics, dbtrun.MetricRuns+`{status="success"}`) || !strings.Contains(metrics, dbtrun.MetricLastSuccess+" 1") {
		t.Errorf("/metrics does not count the dbt run:\n%s", testenv.Grep(metrics, "shopstream_dbt_"))
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	// Without ingest the transform never commits: its group's lag is
	// unknown, which status reports; the rest must be there.
	out, err := execute(t, "status")
	if err != nil && err.Error() != "status incomplete: lag unavailable (see above)" {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if !strings.Contains(out, "DBT RUN") || !strings.Contains(out, "success") || !strings.Contains(out, "1/0") {
		t.Errorf("status does not show the dbt run:\n%s", out)
	}

	run.stop(t)
}

// TestDbtCommand: `shopstream dbt` runs the project once with the real dbt
// and records it in dbt_runs, and refuses while another process holds the
// run lock (as run's schedule does while it builds).
func TestDbtCommand(t *testing.T) {
	dbt := testenv.Require(t, testenv.DbtVar, "dbt")
	project := pipelinetest.DbtProject(t)
	w := testenv.StartWarehouse(t)
	dataDir := t.TempDir()
	for k, v := range map[string]string{
		"SHOPSTREAM_DATA_DIR": dataDir, "SHOPSTREAM_WAREHOUSE_ADDR": w.Addr, "SHOPSTREAM_WAREHOUSE_PROTOCOL": "http",
		"SHOPSTREAM_DBT_BIN": dbt, "SHOPSTREAM_DBT_PROJECT_DIR": project,
		"SHOPSTREAM_DBT_ARGS": "build,--select,stg_product_daily,--indirect-selection,cautious",
	} {
		t.Setenv(k, v)
	}
	if out, err := execute(t, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}

	// Another run holds the lock (flock locks belong to an open file, so
	// one taken here blocks the command's own open): refused at once.
	if err := os.MkdirAll(filepath.Join(dataDir, "dbt"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dataDir, "dbt", "dbt.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	out, err := execute(t, "dbt", "--no-wait")
	if !errors.Is(err, dbtrun.ErrBusy) {
		t.Fatalf("shopstream dbt while the lock is held: %v\n%s", err, out)
	}
	f.Close()

	out, err = execute(t, "dbt", "--no-wait")
	if err != nil || !strings.Contains(out, "dbt build --select stg_product_daily --indirect-selection cautious: success in ") {
		t.Fatalf("shopstream dbt: %v\n%s", err, out)
	}
	waitNonZero(t, w.Addr, "SELECT countIf(status = 'success' AND schedule = '' AND models_ok = 1), count() = 1 FROM dbt_runs", "the one recorded run")
}
