// Package dbtrun runs `dbt build` on a schedule: at each time of the
// schedule (an interval such as 15m, or a cron expression) it waits until the
// loader has caught up (its consumer lag is 0), runs dbt once, and records
// the run (status, duration, the models and tests that failed) in the
// warehouse table dbt_runs and in metrics.
//
// A run is one at a time: a tick that comes while a run is going (or while
// it waits for the loader) is dropped, not queued, so a slow build never
// piles runs up behind it; Scheduler.RunOnce refuses with ErrBusy instead of
// overlapping, also when another process holds the run lock (a file lock on
// WorkDir/dbt.lock: `run`'s schedule and `shopstream dbt` share it). Runs
// on different machines do not see each other's lock: schedule dbt in one
// place per warehouse.
//
// The life of a run:
//
//	tick -> wait for lag 0 (at most CatchUpTimeout; else recorded "skipped")
//	     -> dbt build (at most Timeout)
//	     -> read target/run_results.json -> record "success", "failed" (a
//	        node failed) or "error" (dbt could not run: no results)
package dbtrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// Status values of a run, as recorded in dbt_runs.status.
const (
	StatusSuccess = "success" // dbt exited 0
	StatusFailed  = "failed"  // a model, seed or test failed
	StatusError   = "error"   // dbt could not run (no run results): bad project, no connection
	StatusSkipped = "skipped" // the loader did not catch up within CatchUpTimeout
)

// ErrBusy is returned by RunOnce while another run is going.
var ErrBusy = errors.New("dbtrun: a dbt run is already going")

// ParseSchedule parses dbt.schedule: a Go duration ("15m", "1h30m": every
// that long, counted from when the scheduler starts), or a cron expression
// of five fields ("0 */6 * * *"), a descriptor ("@hourly", "@every 15m"),
// optionally after "CRON_TZ=Europe/Berlin " (else times are UTC).
func ParseSchedule(s string) (cron.Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty schedule")
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < time.Second {
			return nil, fmt.Errorf("interval %s is shorter than a second", d)
		}
		return cron.Every(d), nil
	}
	if !strings.HasPrefix(s, "CRON_TZ=") && !strings.HasPrefix(s, "TZ=") {
		s = "CRON_TZ=UTC " + s
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("%q is neither an interval (15m) nor a cron expression (0 */6 * * *): %w", strings.TrimPrefix(s, "CRON_TZ=UTC "), err)
	}
	return sched, nil
}

// Lagger says how far the loader is behind: the records of its input topics
// not yet loaded. 0 means caught up.
type Lagger interface {
	Lag(ctx context.Context) (int64, error)
}

// Recorder stores a finished run (dbt_runs). It must be idempotent per
// Run.ID: a retried record of the same run adds nothing.
type Recorder interface {
	Record(ctx context.Context, r Run) error
}

// Run is one scheduled dbt invocation, as recorded.
type Run struct {
	ID              string
	StartedAt       time.Time
	FinishedAt      time.Time
	Status          string
	Waited          time.Duration // waiting for the loader before StartedAt
	ModelsOK        int           // models, seeds and snapshots built
	ModelsFailed    int
	FailedModels    []string // their names
	TestsOK         int
	TestsFailed     int
	FailedTests     []string
	Skipped         int    // nodes dbt skipped because something upstream failed
	Error           string // why it failed; empty on success
	Command         string // the dbt arguments
	DbtInvocationID string
	Schedule        string
}

// Duration is FinishedAt - StartedAt.
func (r Run) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt) }

// Config configures a Scheduler.
type Config struct {
	// Schedule is dbt.schedule (see ParseSchedule); empty for a Scheduler
	// that only runs when asked (RunOnce).
	Schedule string
	// Bin is the dbt executable; a bare name is looked up on PATH.
	Bin string
	// ProjectDir holds dbt_project.yml; ProfilesDir profiles.yml (default ProjectDir).
	ProjectDir, ProfilesDir string
	// Args are dbt's arguments before the project and profile flags; default ["build"].
	Args []string
	// Env is added to the process environment of dbt (connection settings).
	Env []string
	// WorkDir is where dbt writes target/ and logs/ (DBT_TARGET_PATH,
	// DBT_LOG_PATH), so that runs never write into the project.
	WorkDir string
	// CatchUpPoll is how often the loader's lag is read while waiting; default 2s.
	CatchUpPoll time.Duration
	// CatchUpTimeout bounds the wait for the loader; default 10m.
	CatchUpTimeout time.Duration
	// Timeout bounds one dbt run; default 1h.
	Timeout time.Duration
}

// Scheduler runs dbt on a schedule. Build it with New.
type Scheduler struct {
	cfg      Config
	schedule cron.Schedule
	bin      string
	lag      Lagger
	rec      Recorder
	metrics  *Metrics
	log      zerolog.Logger
	mu       sync.Mutex // held for the whole of a run: never two at once
	// after waits for the next time of the schedule (time.After; tests
	// fire it by hand).
	after func(time.Duration) <-chan time.Time
}

// New validates cfg and returns a Scheduler. lag, rec and metrics may be
// nil (no waiting, no table, no metrics).
func New(cfg Config, lag Lagger, rec Recorder, metrics *Metrics, log zerolog.Logger) (*Scheduler, error) {
	var problems []error
	var sched cron.Schedule
	if cfg.Schedule != "" {
		var err error
		if sched, err = ParseSchedule(cfg.Schedule); err != nil {
			problems = append(problems, fmt.Errorf("schedule: %w", err))
		}
	}
	bin, err := exec.LookPath(cfg.Bin)
	if err != nil {
		problems = append(problems, fmt.Errorf("dbt executable %q: %w (make venv installs it in .cache/venv/bin/dbt)", cfg.Bin, err))
	}
	if st, err := os.Stat(filepath.Join(cfg.ProjectDir, "dbt_project.yml")); err != nil || st.IsDir() {
		problems = append(problems, fmt.Errorf("project dir %q holds no dbt_project.yml", cfg.ProjectDir))
	}
	if cfg.WorkDir == "" {
		problems = append(problems, errors.New("work dir must be set"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("dbtrun: %w", err)
	}
	if cfg.ProfilesDir == "" {
		cfg.ProfilesDir = cfg.ProjectDir
	}
	// dbt runs in WorkDir: relative paths are taken from where we run.
	for _, dir := range []*string{&cfg.ProjectDir, &cfg.ProfilesDir, &cfg.WorkDir} {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return nil, fmt.Errorf("dbtrun: %w", err)
		}
		*dir = abs
	}
	if len(cfg.Args) == 0 {
		cfg.Args = []string{"build"}
	}
	if cfg.CatchUpPoll <= 0 {
		cfg.CatchUpPoll = 2 * time.Second
	}
	if cfg.CatchUpTimeout <= 0 {
		cfg.CatchUpTimeout = 10 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Hour
	}
	return &Scheduler{cfg: cfg, schedule: sched, bin: bin, lag: lag, rec: rec, metrics: metrics,
		log: log.With().Str("stage", "dbt").Logger(), after: time.After}, nil
}

// Run runs dbt at every time of the schedule until ctx ends; it returns nil
// then. A failed dbt run is recorded and logged, never returned: the next
// tick tries again.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.schedule == nil {
		return errors.New("dbtrun: no schedule to run on")
	}
	// One tick may wait while a run is going; further ones are dropped.
	ticks := make(chan time.Time, 1)
	go func() {
		next := s.schedule.Next(time.Now())
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-s.after(time.Until(next)):
				select {
				case ticks <- now:
				default: // a run is going and another is due: drop this one
				}
				next = s.schedule.Next(now)
			}
		}
	}()
	s.log.Info().Str("schedule", s.cfg.Schedule).Time("next", s.schedule.Next(time.Now())).Msg("dbt scheduled")
	return s.loop(ctx, ticks)
}

// loop runs once per tick received, one at a time.
func (s *Scheduler) loop(ctx context.Context, ticks <-chan time.Time) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("dbt run not recorded")
		}
	}
}

// RunOnce waits for the loader to catch up, runs dbt, records the run and
// returns it. It returns ErrBusy at once while another run is going, and an
// error only when the run could not be recorded (the Run is still returned).
func (s *Scheduler) RunOnce(ctx context.Context) (Run, error) {
	if !s.mu.TryLock() {
		return Run{}, ErrBusy
	}
	defer s.mu.Unlock()
	unlock, err := lockDir(s.cfg.WorkDir)
	if err != nil {
		return Run{}, err
	}
	defer unlock()
	s.metrics.running(true)
	defer s.metrics.running(false)

	r := Run{ID: uuid.NewString(), Command: strings.Join(s.cfg.Args, " "), Schedule: s.cfg.Schedule}
	waitStart := time.Now()
	if err := s.waitCaughtUp(ctx); err != nil {
		r.StartedAt = time.Now()
		r.FinishedAt = r.StartedAt
		r.Waited = r.StartedAt.Sub(waitStart)
		r.Status, r.Error = StatusSkipped, err.Error()
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		return r, s.record(ctx, r)
	}
	r.StartedAt = time.Now()
	r.Waited = r.StartedAt.Sub(waitStart)
	s.build(ctx, &r)
	r.FinishedAt = time.Now()
	return r, s.record(ctx, r)
}

// lockDir takes the run lock of dir (an exclusive flock on dir/dbt.lock,
// released by the kernel if the process dies), or returns ErrBusy.
func lockDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dbtrun: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "dbt.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dbtrun: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (another process holds %s)", ErrBusy, f.Name())
		}
		return nil, fmt.Errorf("dbtrun: lock %s: %w", f.Name(), err)
	}
	return func() { _ = f.Close() }, nil
}

// waitCaughtUp polls the loader's lag until it is 0.
func (s *Scheduler) waitCaughtUp(ctx context.Context) error {
	if s.lag == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CatchUpTimeout)
	defer cancel()
	var last int64 = -1
	var lastErr error
	for {
		n, err := s.lag.Lag(ctx)
		if err == nil && n == 0 {
			return nil
		}
		last, lastErr = n, err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("loader lag unknown after %s: %w", s.cfg.CatchUpTimeout, lastErr)
			}
			return fmt.Errorf("loader still %d records behind after %s", last, s.cfg.CatchUpTimeout)
		case <-time.After(s.cfg.CatchUpPoll):
		}
	}
}

// build runs dbt and fills r from its exit and run_results.json.
func (s *Scheduler) build(ctx context.Context, r *Run) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	target := filepath.Join(s.cfg.WorkDir, "target")
	results := filepath.Join(target, "run_results.json")
	_ = os.Remove(results) // a stale file must not be read as this run's
	args := append(append([]string{}, s.cfg.Args...), "--project-dir", s.cfg.ProjectDir, "--profiles-dir", s.cfg.ProfilesDir)
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Dir = s.cfg.WorkDir
	cmd.Env = append(append(os.Environ(), s.cfg.Env...),
		"DBT_TARGET_PATH="+target, "DBT_LOG_PATH="+filepath.Join(s.cfg.WorkDir, "logs"),
		"DBT_SEND_ANONYMOUS_USAGE_STATS=false", "DBT_USE_COLORS=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	readErr := readResults(results, r)
	switch {
	case runErr == nil && readErr == nil:
		r.Status = StatusSuccess
	case readErr == nil && r.ModelsFailed+r.TestsFailed > 0:
		r.Status = StatusFailed
	default:
		// No results to read (dbt stopped before running anything: a bad
		// project, no connection) or none that failed: say why.
		r.Status = StatusError
		if ctx.Err() != nil {
			r.Error = fmt.Sprintf("dbt did not finish within %s", s.cfg.Timeout)
		} else {
			r.Error = fmt.Sprintf("dbt %s: %v: %s", r.Command, runErr, tail(out.String(), 1500))
		}
	}
	if r.Status == StatusFailed && r.Error == "" {
		r.Error = "dbt reported failures"
	}
}

// RunResults is the part of dbt's run_results.json a run records: the
// invocation and how each node it ran ended.
type RunResults struct {
	Metadata struct {
		InvocationID string `json:"invocation_id"`
	} `json:"metadata"`
	Results []struct {
		UniqueID string `json:"unique_id"`
		Status   string `json:"status"`
		Message  string `json:"message"`
	} `json:"results"`
}

// ReadRunResults reads the run_results.json at path (dbt writes it to its
// target directory).
func ReadRunResults(path string) (*RunResults, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res RunResults
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &res, nil
}

func readResults(path string, r *Run) error {
	res, err := ReadRunResults(path)
	if err != nil {
		return err
	}
	r.DbtInvocationID = res.Metadata.InvocationID
	var messages []string
	for _, n := range res.Results {
		kind, _, _ := strings.Cut(n.UniqueID, ".")
		name := n.UniqueID[strings.LastIndex(n.UniqueID, ".")+1:]
		if kind == "test" {
			// Generic tests end in a hash: the name is the part before it.
			parts := strings.Split(n.UniqueID, ".")
			if len(parts) >= 3 {
				name = parts[2]
			}
		}
		switch {
		case n.Status == "skipped":
			r.Skipped++
		case kind == "test" && (n.Status == "pass" || n.Status == "warn"):
			r.TestsOK++
		case kind == "test":
			r.TestsFailed++
			r.FailedTests = append(r.FailedTests, name)
			messages = append(messages, name+": "+firstLine(n.Message))
		case n.Status == "success":
			r.ModelsOK++
		default:
			r.ModelsFailed++
			r.FailedModels = append(r.FailedModels, name)
			messages = append(messages, name+": "+firstLine(n.Message))
		}
	}
	r.Error = tail(strings.Join(messages, "\n"), 4000)
	return nil
}

func (s *Scheduler) record(ctx context.Context, r Run) error {
	s.metrics.observe(r)
	ev := s.log.Info()
	if r.Status != StatusSuccess {
		ev = s.log.Warn().Str("error", firstLine(r.Error)).Strs("failed_models", r.FailedModels).Strs("failed_tests", r.FailedTests)
	}
	ev.Str("run_id", r.ID).Str("status", r.Status).Dur("duration", r.Duration()).Dur("waited", r.Waited).
		Int("models_ok", r.ModelsOK).Int("tests_ok", r.TestsOK).Msg("dbt run finished")
	if s.rec == nil {
		return nil
	}
	// The run is over even if ctx ended meanwhile: record it anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.rec.Record(ctx, r); err != nil {
		return fmt.Errorf("record dbt run %s: %w", r.ID, err)
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// tail keeps the last n bytes of s (dbt says what went wrong at the end).
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
