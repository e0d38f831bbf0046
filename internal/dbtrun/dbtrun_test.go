package dbtrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

func TestParseSchedule(t *testing.T) {
	at := time.Date(2026, 12, 6, 7, 13, 20, 0, time.UTC)
	for _, c := range []struct {
		in   string
		next time.Time
	}{
		{"15m", at.Add(15 * time.Minute)},
		{"1h30m", at.Add(90 * time.Minute)},
		{"@every 10m", at.Add(10 * time.Minute)},
		{"0 */6 * * *", time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		{"30 2 * * 1-5", time.Date(2026, 12, 7, 2, 30, 0, 0, time.UTC)},
		{"@hourly", time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		// 09:00 in Berlin is 08:00 UTC in December.
		{"CRON_TZ=Europe/Berlin 0 9 * * *", time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)},
	} {
		s, err := ParseSchedule(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := s.Next(at); !got.Equal(c.next) {
			t.Errorf("%q: next after %s is %s, want %s", c.in, at, got, c.next)
		}
	}
	for _, bad := range []string{"", "every tuesday", "500ms", "61 * * * *", "0 0 * *", "CRON_TZ=Mars/Base 0 9 * * *"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// fakeDbt is a stand-in for the dbt executable where what matters is the
// scheduler around it: it logs its arguments, optionally waits until the
// test releases it, writes the run_results.json it is given and exits with
// the code it is given.
const fakeDbt = `#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
touch "$FAKE_DIR/started"
while [ -n "$FAKE_BLOCK" ] && [ ! -f "$FAKE_DIR/release" ]; do sleep 0.01; done
rm -f "$FAKE_DIR/started"
mkdir -p "$DBT_TARGET_PATH"
[ -f "$FAKE_DIR/results.json" ] && cp "$FAKE_DIR/results.json" "$DBT_TARGET_PATH/run_results.json"
echo "fake dbt output"
exit "${FAKE_EXIT:-0}"
`

type fake struct {
	dir string
}

func newFake(t *testing.T, results string, env ...string) (*fake, Config) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "dbt")
	if err := os.WriteFile(bin, []byte(fakeDbt), 0o755); err != nil {
		t.Fatal(err)
	}
	if results != "" {
		if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(results), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	project := filepath.Join(dir, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "dbt_project.yml"), []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &fake{dir: dir}, Config{Schedule: "1h", Bin: bin, ProjectDir: project, WorkDir: filepath.Join(dir, "work"),
		Env: append([]string{"FAKE_DIR=" + dir}, env...), CatchUpPoll: time.Millisecond}
}

func (f *fake) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "calls"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// waitStarted waits until the fake runs (it polls a file the fake writes:
// the test waits for an event, not for time to pass).
func (f *fake) waitStarted(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(f.dir, "started")); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("fake dbt never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fake) release(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

const successResults = `{"metadata": {"invocation_id": "inv-1"}, "results": [
 {"unique_id": "seed.shopstream.amazon_marketplaces", "status": "success"},
 {"unique_id": "model.shopstream.stg_product_daily", "status": "success"},
 {"unique_id": "test.shopstream.not_null_stg_product_daily_date.9197acf48e", "status": "pass"}]}`

// recorder keeps the runs recorded.
type recorder struct {
	mu   sync.Mutex
	runs []Run
	done chan Run
}

func (r *recorder) Record(_ context.Context, run Run) error {
	r.mu.Lock()
	r.runs = append(r.runs, run)
	r.mu.Unlock()
	if r.done != nil {
		r.done <- run
	}
	return nil
}

// lagSeq answers the lags in turn, then 0; it fails the test if dbt was
// started while the lag was not 0.
type lagSeq struct {
	t     *testing.T
	f     *fake
	lags  []int64
	calls atomic.Int32
}

func (l *lagSeq) Lag(context.Context) (int64, error) {
	i := int(l.calls.Add(1)) - 1
	if len(l.f.calls(l.t)) > 0 {
		l.t.Errorf("dbt ran before the loader caught up (lag read %d times)", i)
	}
	if i < len(l.lags) {
		return l.lags[i], nil
	}
	return 0, nil
}

// constLag is a loader that never catches up.
type constLag int64

func (l constLag) Lag(context.Context) (int64, error) { return int64(l), nil }

func TestRunOnceWaitsForTheLoader(t *testing.T) {
	f, cfg := newFake(t, successResults)
	lag := &lagSeq{t: t, f: f, lags: []int64{120, 7, 1}}
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, lag, rec, NewMetrics(reg), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := lag.calls.Load(); n != 4 {
		t.Errorf("lag read %d times, want 4 (three behind, then caught up)", n)
	}
	if calls := f.calls(t); len(calls) != 1 || !strings.HasPrefix(calls[0], "build --project-dir ") {
		t.Errorf("dbt calls %q, want one build", calls)
	}
	if run.Status != StatusSuccess || run.ModelsOK != 2 || run.TestsOK != 1 || run.ModelsFailed != 0 || run.Error != "" ||
		run.DbtInvocationID != "inv-1" || run.Waited <= 0 || run.FinishedAt.Before(run.StartedAt) {
		t.Errorf("run %+v", run)
	}
	if len(rec.runs) != 1 || rec.runs[0].ID != run.ID {
		t.Errorf("recorded %+v", rec.runs)
	}
	if v := testutil.ToFloat64(s.metrics.runs.WithLabelValues(StatusSuccess)); v != 1 {
		t.Errorf("%s{status=success} = %v", MetricRuns, v)
	}
	if v := testutil.ToFloat64(s.metrics.lastSuccess); v < float64(run.FinishedAt.Unix()) {
		t.Errorf("%s = %v, before the run finished", MetricLastSuccess, v)
	}

	// A loader that never catches up: no dbt, a skipped run saying why.
	f2, cfg2 := newFake(t, successResults)
	cfg2.CatchUpTimeout = 30 * time.Millisecond
	rec2 := &recorder{}
	s2, err := New(cfg2, constLag(3), rec2, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	run, err = s2.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != StatusSkipped || !strings.Contains(run.Error, "loader still 3 records behind") || len(f2.calls(t)) != 0 || len(rec2.runs) != 1 {
		t.Errorf("run %+v, dbt calls %q", run, f2.calls(t))
	}
}

// TestNoOverlap: while a run is going, RunOnce refuses and the schedule's
// ticks are dropped but one, so a slow run is followed by exactly one more.
func TestNoOverlap(t *testing.T) {
	f, cfg := newFake(t, successResults, "FAKE_BLOCK=1")
	rec := &recorder{done: make(chan Run, 10)}
	s, err := New(cfg, nil, rec, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	fire := make(chan time.Time)
	s.after = func(time.Duration) <-chan time.Time { return fire }
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()

	fire <- time.Now() // the first run starts and blocks
	f.waitStarted(t)
	if _, err := s.RunOnce(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("RunOnce during a run: %v, want ErrBusy", err)
	}
	// Three more ticks while it runs: one waits, two are dropped (each send
	// returns once the ticker has taken the tick).
	fire <- time.Now()
	fire <- time.Now()
	fire <- time.Now()
	f.release(t)
	<-rec.done
	<-rec.done // the tick that waited
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if calls := f.calls(t); len(calls) != 2 {
		t.Fatalf("dbt ran %d times, want 2 (one per run; dropped ticks do not queue)", len(calls))
	}
	if a, b := rec.runs[0], rec.runs[1]; b.StartedAt.Before(a.FinishedAt) {
		t.Errorf("second run started %s, before the first finished %s", b.StartedAt, a.FinishedAt)
	}
}

// TestRunResults: how dbt's exit and run_results.json become a recorded run.
func TestRunResults(t *testing.T) {
	for _, c := range []struct {
		name, results, exit string
		check               func(Run) bool
	}{
		{"failed model and test", `{"metadata": {"invocation_id": "inv-2"}, "results": [
			{"unique_id": "model.shopstream.stg_product_links", "status": "error", "message": "Database Error in model stg_product_links\nUNKNOWN_TABLE"},
			{"unique_id": "model.shopstream.stg_product_daily", "status": "success"},
			{"unique_id": "model.shopstream.cross_channel_products", "status": "skipped"},
			{"unique_id": "test.shopstream.unique_halo_ranking_rank.d1c7ccbcd7", "status": "fail", "message": "Got 2 results"},
			{"unique_id": "test.shopstream.not_null_halo_ranking_rank.9138be1fbc", "status": "warn"}]}`, "1",
			func(r Run) bool {
				return r.Status == StatusFailed && r.ModelsOK == 1 && r.ModelsFailed == 1 && r.Skipped == 1 &&
					r.TestsOK == 1 && r.TestsFailed == 1 &&
					strings.Join(r.FailedModels, ",") == "stg_product_links" && strings.Join(r.FailedTests, ",") == "unique_halo_ranking_rank" &&
					r.Error == "stg_product_links: Database Error in model stg_product_links\nunique_halo_ranking_rank: Got 2 results"
			}},
		{"no results", "", "2", func(r Run) bool {
			return r.Status == StatusError && strings.Contains(r.Error, "exit status 2") && strings.Contains(r.Error, "fake dbt output")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, cfg := newFake(t, c.results, "FAKE_EXIT="+c.exit)
			s, err := New(cfg, nil, nil, nil, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			run, err := s.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(run) {
				t.Errorf("run %+v", run)
			}
		})
	}
}

// TestRelativeProjectDir: a relative dbt.project_dir (the default "dbt")
// is taken from where shopstream runs, not from the work dir dbt runs in.
func TestRelativeProjectDir(t *testing.T) {
	f, cfg := newFake(t, successResults)
	t.Chdir(filepath.Dir(cfg.ProjectDir))
	cfg.ProjectDir = filepath.Base(cfg.ProjectDir)
	s, err := New(cfg, nil, nil, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "--project-dir " + filepath.Join(f.dir, "project") + " --profiles-dir " + filepath.Join(f.dir, "project")
	if calls := f.calls(t); len(calls) != 1 || !strings.HasSuffix(calls[0], want) {
		t.Errorf("dbt called with %q, want ...%s", calls, want)
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(Config{Schedule: "whenever", Bin: filepath.Join(t.TempDir(), "no-dbt"), ProjectDir: t.TempDir()}, nil, nil, nil, zerolog.Nop())
	for _, want := range []string{"schedule", "no-dbt", "dbt_project.yml", "work dir"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
