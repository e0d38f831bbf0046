package dbtrun

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/status"
)

// Table is the warehouse table runs are recorded in (migration
// 0006_dbt_runs.sql).
const Table = "dbt_runs"

// Execer is what TableRecorder needs from a ClickHouse connection.
type Execer interface {
	Exec(ctx context.Context, query string, args ...any) error
}

// TableRecorder records runs in dbt_runs.
type TableRecorder struct {
	Conn Execer
}

var _ Recorder = TableRecorder{}

// Record inserts r with the run id as the deduplication token, so a retried
// insert of the same run adds nothing.
func (t TableRecorder) Record(ctx context.Context, r Run) error {
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_deduplication_token": r.ID}))
	err := t.Conn.Exec(ctx, `INSERT INTO `+Table+` (run_id, started_at, finished_at, status, duration_seconds,
		waited_seconds, models_ok, models_failed, failed_models, tests_ok, tests_failed, failed_tests, skipped,
		error, command, dbt_invocation_id, schedule)
		SELECT ?, fromUnixTimestamp64Milli(?, 'UTC'), fromUnixTimestamp64Milli(?, 'UTC'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`,
		// Milliseconds as integers: a bound time.Time would lose them.
		r.ID, r.StartedAt.UnixMilli(), r.FinishedAt.UnixMilli(), r.Status, r.Duration().Seconds(), r.Waited.Seconds(),
		uint32(r.ModelsOK), uint32(r.ModelsFailed), nonNil(r.FailedModels), uint32(r.TestsOK), uint32(r.TestsFailed),
		nonNil(r.FailedTests), uint32(r.Skipped), r.Error, r.Command, r.DbtInvocationID, r.Schedule)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", Table, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// KafkaLag reads the loader's lag from its consumer group's committed
// offsets (as `shopstream status` does): the records of every topic the
// group consumes that are not loaded yet.
type KafkaLag struct {
	ClientOpts []kgo.Opt
	Group      string
}

var _ Lagger = KafkaLag{}

// Lag implements Lagger.
func (k KafkaLag) Lag(ctx context.Context) (int64, error) {
	lags, err := status.Lags(ctx, k.ClientOpts, k.Group)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range lags {
		if l.NoCommits {
			// Not caught up: the loader has not started.
			return 0, fmt.Errorf("dbt: group %s has no commits yet", l.Group)
		}
		n += l.Lag
	}
	return n, nil
}
