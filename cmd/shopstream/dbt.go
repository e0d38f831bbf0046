package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/dbtrun"
	"github.com/shopstream/shopstream/load"
)

// startDbt runs dbt on dbt.schedule (when set) next to the loader, until ctx
// ends; the returned channel closes then. See package internal/dbtrun.
func (a *app) startDbt(ctx context.Context, out io.Writer, brokers []string, reg prometheus.Registerer) (<-chan struct{}, error) {
	cfg := a.cfg.Dbt
	done := make(chan struct{})
	if cfg.Schedule == "" {
		close(done)
		return done, nil
	}
	w := a.warehouse(2)
	env := []string{"DBT_CLICKHOUSE_USER=" + w.User, "DBT_CLICKHOUSE_RAW_SCHEMA=" + w.Database, "DBT_CLICKHOUSE_SCHEMA=" + cfg.Schema}
	if w.Password != "" {
		// dbt keeps DBT_ENV_SECRET_* values out of its logs.
		env = append(env, "DBT_ENV_SECRET_CLICKHOUSE_PASSWORD="+w.Password)
	}
	if w.Protocol == "http" {
		u, err := url.Parse(w.URL())
		if err != nil {
			return nil, fmt.Errorf("dbt: warehouse URL: %w", err)
		}
		env = append(env, "DBT_CLICKHOUSE_HOST="+u.Hostname(), "DBT_CLICKHOUSE_PORT="+u.Port())
	} else if host, _, err := net.SplitHostPort(w.Addr); err == nil {
		// dbt-clickhouse talks HTTP: the port is DBT_CLICKHOUSE_PORT's (8123 by default).
		env = append(env, "DBT_CLICKHOUSE_HOST="+host)
	}
	conn, err := load.Open(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("dbt: %w", err)
	}
	s, err := dbtrun.New(dbtrun.Config{
		Schedule: cfg.Schedule, Bin: cfg.Bin, ProjectDir: cfg.ProjectDir, ProfilesDir: cfg.ProfilesDir, Args: cfg.Args,
		Env: env, WorkDir: filepath.Join(a.cfg.DataDir, "dbt"), CatchUpTimeout: cfg.CatchUpTimeout, Timeout: cfg.Timeout,
	}, dbtrun.KafkaLag{ClientOpts: append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, a.kafkaOpts()...), Group: a.cfg.Load.Group},
		dbtrun.TableRecorder{Conn: conn}, dbtrun.NewMetrics(reg), a.log)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	fmt.Fprintf(out, "dbt              %s on schedule %q once the loader has caught up; runs in table %s\n", cfg.Bin, cfg.Schedule, dbtrun.Table)
	stopped := a.supervise(ctx, "dbt", s.Run)
	go func() {
		<-stopped
		_ = conn.Close()
		close(done)
	}()
	return done, nil
}
