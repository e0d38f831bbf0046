package dbtrun_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/internal/dbtrun"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/status"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestRealDbtRunsRecorded runs the real dbt on the project in dbt/ through
// the scheduler against a fresh warehouse migrated by the loader: a build
// that succeeds, then one whose model fails (its source table is gone),
// and checks what dbt_runs, the metrics and status.DbtRuns say about both.
func TestRealDbtRunsRecorded(t *testing.T) {
	bin := testenv.Require(t, testenv.DbtVar, "dbt")
	w, conn := pipelinetest.MigratedWarehouse(t, "default")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	project, profile := pipelinetest.DbtProject(t), pipelinetest.DbtProfile(t, w.URL, "default")
	reg := prometheus.NewRegistry()
	metrics := dbtrun.NewMetrics(reg)
	scheduler := func(args ...string) *dbtrun.Scheduler {
		s, err := dbtrun.New(dbtrun.Config{Schedule: "15m", Bin: bin, ProjectDir: project, Args: args,
			WorkDir: t.TempDir(), Env: profile},
			nil, dbtrun.TableRecorder{Conn: conn}, metrics, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	ok, err := scheduler("build", "--select", "stg_product_daily", "--indirect-selection", "cautious").RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok.Status != dbtrun.StatusSuccess || ok.ModelsOK != 1 || ok.TestsOK == 0 || ok.TestsFailed != 0 || ok.ModelsFailed != 0 || ok.DbtInvocationID == "" {
		t.Fatalf("first run: %+v", ok)
	}

	// stg_product_links reads product_links: without it the model fails and
	// cross_channel_products, which needs it, is skipped.
	if err := conn.Exec(ctx, "DROP TABLE product_links"); err != nil {
		t.Fatal(err)
	}
	bad, err := scheduler("build", "--select", "+cross_channel_products", "--indirect-selection", "cautious").RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bad.Status != dbtrun.StatusFailed || bad.ModelsFailed != 1 || strings.Join(bad.FailedModels, ",") != "stg_product_links" ||
		bad.Skipped == 0 || !strings.Contains(bad.Error, "stg_product_links") || !strings.Contains(bad.Error, "product_links") {
		t.Fatalf("second run: %+v", bad)
	}

	// What the warehouse holds: both runs, newest first, read as status does.
	runs, err := status.DbtRuns(ctx, conn, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].RunID != bad.ID || runs[1].RunID != ok.ID {
		t.Fatalf("dbt_runs holds %+v", runs)
	}
	if r := runs[0]; r.Status != "failed" || strings.Join(r.FailedModels, ",") != "stg_product_links" || r.ModelsFailed != 1 ||
		r.Error != bad.Error || r.Duration <= 0 || !r.StartedAt.Equal(bad.StartedAt.Truncate(time.Millisecond)) {
		t.Errorf("failed run recorded as %+v", r)
	}
	if r := runs[1]; r.Status != "success" || r.ModelsOK != 1 || int(r.TestsOK) != ok.TestsOK || r.TestsFailed != 0 || len(r.FailedModels) != 0 || r.Error != "" {
		t.Errorf("successful run recorded as %+v", r)
	}
	// Recording the same run again adds nothing (the insert's token is the run id).
	if err := (dbtrun.TableRecorder{Conn: conn}).Record(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if runs, err := status.DbtRuns(ctx, conn, 10); err != nil || len(runs) != 2 {
		t.Errorf("after recording a run twice: %d runs, %v", len(runs), err)
	}

	for name, want := range map[string]float64{
		dbtrun.MetricRuns:         2,
		dbtrun.MetricModelsFailed: 1,
		dbtrun.MetricRunning:      0,
	} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := gathered(t, reg, dbtrun.MetricLastSuccess); got != float64(ok.FinishedAt.UnixMilli())/1000 {
		t.Errorf("%s = %v, want the first run's end %v", dbtrun.MetricLastSuccess, got, ok.FinishedAt)
	}
}

// gathered sums the samples of one metric family.
func gathered(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	n, err := testutil.GatherAndCount(g, name)
	if err != nil || n == 0 {
		t.Fatalf("metric %s not registered (%v)", name, err)
	}
	return testenv.MetricSum(t, g, name)
}
