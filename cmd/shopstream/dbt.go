package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/internal/dbtrun"
	"github.com/shopstream/shopstream/internal/supervise"
	"github.com/shopstream/shopstream/load"
)

func newDbtCmd(a *app) *cobra.Command {
	var noWait bool
	cmd := &cobra.Command{
		Use:   "dbt",
		Short: "Run dbt build once, as run's dbt.schedule does, and record it in dbt_runs",
		Long: `Run the dbt project once the way run does on dbt.schedule: wait until the
loader has caught up (its consumer group's lag is 0, at most
dbt.catch_up_timeout), run dbt with dbt.args, and record the run in the
table dbt_runs (status, duration, failed models and tests). For external
schedulers (cron, Airflow) that want the same record. Exits non-zero
unless the run succeeded.`,
		Args: cobra.NoArgs,
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			brokers, _ := a.pipelineEndpoints()
			if noWait {
				brokers = nil
			}
			s, closeConn, err := a.dbtScheduler(cmd.Context(), "", brokers, nil)
			if err != nil {
				return err
			}
			defer closeConn()
			r, err := s.RunOnce(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dbt %s: %s in %s (models %d ok, %d failed; tests %d ok, %d failed), run %s\n",
				r.Command, r.Status, r.Duration().Round(time.Second), r.ModelsOK, r.ModelsFailed, r.TestsOK, r.TestsFailed, r.ID)
			if r.Status != dbtrun.StatusSuccess {
				return fmt.Errorf("dbt run %s: %s", r.Status, r.Error)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "do not wait for the loader to catch up")
	return cmd
}

// dbtParts are the dbt scheduler (package internal/dbtrun) as a supervised
// part when dbt.schedule is set: it runs dbt on the schedule next to the
// loader, until ctx ends.
func (a *app) dbtParts(ctx context.Context, out io.Writer, brokers []string, reg prometheus.Registerer) ([]supervise.Part, error) {
	cfg := a.cfg.Dbt
	if cfg.Schedule == "" {
		return nil, nil
	}
	s, closeConn, err := a.dbtScheduler(ctx, cfg.Schedule, brokers, reg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "dbt              %s on schedule %q once the loader has caught up; runs in table %s\n", cfg.Bin, cfg.Schedule, dbtrun.Table)
	return []supervise.Part{{Name: "dbt", Runner: &dbtScheduler{Scheduler: s, closeConn: closeConn}}}, nil
}

// dbtScheduler is the scheduler as a supervised part: Close closes its
// warehouse connection, once.
type dbtScheduler struct {
	*dbtrun.Scheduler
	closeConn func()
	once      sync.Once
}

// Close closes the scheduler's warehouse connection; it is idempotent.
func (d *dbtScheduler) Close() error {
	d.once.Do(d.closeConn)
	return nil
}

// dbtScheduler builds the scheduler of the dbt.* settings against the
// configured warehouse: dbt gets its address and credentials, runs are
// recorded in its dbt_runs, and (with brokers) a run waits for the
// loader's group to catch up. closeConn closes the warehouse connection.
func (a *app) dbtScheduler(ctx context.Context, schedule string, brokers []string, reg prometheus.Registerer) (*dbtrun.Scheduler, func(), error) {
	cfg := a.cfg.Dbt
	w := a.warehouse(2)
	env := []string{"DBT_CLICKHOUSE_USER=" + w.User, "DBT_CLICKHOUSE_RAW_SCHEMA=" + w.Database, "DBT_CLICKHOUSE_SCHEMA=" + cfg.Schema}
	if w.Password != "" {
		// dbt keeps DBT_ENV_SECRET_* values out of its logs.
		env = append(env, "DBT_ENV_SECRET_CLICKHOUSE_PASSWORD="+w.Password)
	}
	// dbt-clickhouse talks HTTP: the embedded warehouse serves it on
	// warehouse.listen; a server reached over the native protocol serves it
	// on DBT_CLICKHOUSE_PORT's port (8123 by default) of the same host.
	httpAddr := w.Addr
	if a.cfg.Warehouse.Addr == "" {
		httpAddr = a.cfg.Warehouse.Listen
	}
	if host, port, err := net.SplitHostPort(httpAddr); err == nil {
		env = append(env, "DBT_CLICKHOUSE_HOST="+host)
		if w.Protocol == "http" || a.cfg.Warehouse.Addr == "" {
			env = append(env, "DBT_CLICKHOUSE_PORT="+port)
		}
	}
	conn, err := load.Open(ctx, w)
	if err != nil {
		return nil, nil, fmt.Errorf("dbt: %w", err)
	}
	var lag dbtrun.Lagger
	if len(brokers) > 0 {
		lag = dbtrun.KafkaLag{ClientOpts: a.clientOpts(brokers), Group: a.cfg.Load.Group}
	}
	s, err := dbtrun.New(dbtrun.Config{
		Schedule: schedule, Bin: cfg.Bin, ProjectDir: cfg.ProjectDir, ProfilesDir: cfg.ProfilesDir, Args: cfg.Args,
		Env: env, WorkDir: filepath.Join(a.cfg.DataDir, "dbt"), CatchUpTimeout: cfg.CatchUpTimeout, Timeout: cfg.Timeout,
	}, lag, dbtrun.TableRecorder{Conn: conn}, dbtrun.NewMetrics(reg), a.log)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return s, func() { _ = conn.Close() }, nil
}
