// Package status reads where a running pipeline stands: the ingest cursors,
// the consumer groups' lag and what the warehouse holds. It only reads;
// `shopstream status` prints what it finds.
package status

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/schemas"
)

// Config says where Read finds the pipeline.
type Config struct {
	// KafkaOpts reach the brokers: seed brokers and authentication.
	KafkaOpts []kgo.Opt
	// Registry decodes the cursors topic.
	Registry *sr.Client
	// CursorTopic is the cursors topic (with its prefix, if any).
	CursorTopic string
	// Sources whose cursors are read; Groups whose lag is read.
	Sources, Groups []string
	// Warehouse opens a connection to the warehouse and returns the
	// function that closes it.
	Warehouse func(ctx context.Context) (Querier, func(), error)
}

// Report is what Read found. A part that could not be read has its error
// set and its value empty.
type Report struct {
	Cursors      []cursor.Cursor
	CursorsErr   error
	Lags         []TopicLag
	LagsErr      error
	Warehouse    Warehouse
	WarehouseErr error
}

// Unavailable names the parts that could not be read: cursors, lag,
// tables.
func (r Report) Unavailable() []string {
	var out []string
	for _, p := range []struct {
		name string
		err  error
	}{{"cursors", r.CursorsErr}, {"lag", r.LagsErr}, {"tables", r.WarehouseErr}} {
		if p.err != nil {
			out = append(out, p.name)
		}
	}
	return out
}

// Read reads the cursors, the lags and the warehouse at once; each part
// that fails carries its error in the report. Bound it with ctx: a
// dependency that accepts connections and never answers is waited for
// until ctx ends.
func Read(ctx context.Context, cfg Config) Report {
	var r Report
	var wg sync.WaitGroup
	wg.Go(func() {
		serde, err := schemas.NewRegistry(cfg.Registry).Serde(ctx, schemas.TopicCursors)
		if err == nil {
			r.Cursors, err = Cursors(ctx, cursor.LoadConfig{ClientOpts: cfg.KafkaOpts, Topic: cfg.CursorTopic, Decoder: serde}, cfg.Sources...)
		}
		r.CursorsErr = err
	})
	wg.Go(func() { r.Lags, r.LagsErr = Lags(ctx, cfg.KafkaOpts, cfg.Groups...) })
	wg.Go(func() {
		conn, closeConn, err := cfg.Warehouse(ctx)
		if err != nil {
			r.WarehouseErr = err
			return
		}
		defer closeConn()
		r.Warehouse, r.WarehouseErr = ReadWarehouse(ctx, conn)
	})
	wg.Wait()
	return r
}

// Cursors returns the plain cursors (not the change-capture state kept in
// the same topic) of every source, sorted by source and name.
func Cursors(ctx context.Context, cfg cursor.LoadConfig, sources ...string) ([]cursor.Cursor, error) {
	var out []cursor.Cursor
	for _, src := range sources {
		set, err := cursor.Load(ctx, cfg, src)
		if err != nil {
			return nil, fmt.Errorf("status: cursors of %s: %w", src, err)
		}
		for _, c := range set.WithPrefix("") {
			if c.Entity == cursor.Entity {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// TopicLag is how far a consumer group is behind on one topic.
type TopicLag struct {
	Group, Topic string
	// Lag is the records between the group's committed offsets and the
	// ends of the topic's partitions. Transaction markers do not count where
	// a partition is at most maxSettle offsets behind (a group keeping up);
	// beyond that, or with no committed offset, offsets are counted as
	// they are: a marker per transaction, small next to a real backlog.
	Lag int64
	// Partitions with records but no committed offset; their records
	// all count.
	Uncommitted int
	// NoCommits marks a group the broker does not know yet (it never
	// committed: a fresh start, or its consumers not yet joined); Topic is
	// empty and Lag 0, as nothing can be said of its lag.
	NoCommits bool
}

// maxSettle is the largest per-partition lag that Lags reads to tell
// transaction markers from records: a group that consumed everything of a
// transactionally written partition sits one marker (or a few, after
// aborted transactions) before its end.
const maxSettle = 8

// Lags returns the lag of every topic the groups consume, sorted by group
// and topic; a group the broker does not know (it never committed) has one
// entry with NoCommits set, not an error. end - committed counts
// the commit marker every transaction leaves at the end of a partition,
// which no consumer ever gets; so small lags are read (read_committed,
// markers kept) and only records count.
func Lags(ctx context.Context, clientOpts []kgo.Opt, groups ...string) ([]TopicLag, error) {
	cl, err := kgo.NewClient(clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("status: kafka client: %w", err)
	}
	defer cl.Close()
	described, err := kadm.NewClient(cl).Lag(ctx, groups...)
	if err != nil {
		return nil, fmt.Errorf("status: lag of %s: %w", strings.Join(groups, ", "), err)
	}
	var lags []*TopicLag
	var settle []*partLag
	for _, g := range groups {
		d := described[g]
		if err := d.Error(); errors.Is(err, kerr.GroupIDNotFound) {
			lags = append(lags, &TopicLag{Group: g, NoCommits: true})
			continue
		} else if err != nil {
			return nil, fmt.Errorf("status: lag of group %s: %w", g, err)
		}
		byTopic := map[string]*TopicLag{}
		for _, m := range d.Lag.Sorted() {
			tl := byTopic[m.Topic]
			if tl == nil {
				tl = &TopicLag{Group: g, Topic: m.Topic}
				byTopic[m.Topic] = tl
				lags = append(lags, tl)
			}
			switch {
			case m.End.Err != nil:
				return nil, fmt.Errorf("status: end offset of %s/%d: %w", m.Topic, m.Partition, m.End.Err)
			case m.Commit.At < 0:
				if n := m.End.Offset - max(m.Start.Offset, 0); n > 0 {
					tl.Uncommitted++
					tl.Lag += n
				}
			case m.Lag > 0 && m.Lag <= maxSettle:
				settle = append(settle, &partLag{lag: tl, topic: m.Topic, partition: m.Partition, from: m.Commit.At, end: m.End.Offset})
			case m.Lag > 0:
				tl.Lag += m.Lag
			}
		}
	}
	if err := settleLags(ctx, clientOpts, settle); err != nil {
		return nil, err
	}
	out := make([]TopicLag, len(lags))
	for i, l := range lags {
		out[i] = *l
	}
	slices.SortFunc(out, func(a, b TopicLag) int {
		return cmp.Or(strings.Compare(a.Group, b.Group), strings.Compare(a.Topic, b.Topic))
	})
	return out, nil
}

// partLag is one partition whose few uncommitted offsets settleLags reads.
type partLag struct {
	lag              *TopicLag
	topic            string
	partition        int32
	from, end, count int64
	next             int64
}

// settleLags reads each partition from its committed offset to its end and
// adds the records found to its topic's lag. A partition that cannot be
// read to its end in time (an open transaction holds it back) counts every
// offset, as before reading.
func settleLags(ctx context.Context, clientOpts []kgo.Opt, parts []*partLag) error {
	if len(parts) == 0 {
		return nil
	}
	// Several groups can sit on the same partition at different offsets:
	// one read from the lowest serves them all.
	offsets := map[string]map[int32]kgo.Offset{}
	byTP := map[string]map[int32][]*partLag{}
	for _, p := range parts {
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.Offset{}
			byTP[p.topic] = map[int32][]*partLag{}
		}
		if o, ok := offsets[p.topic][p.partition]; !ok || p.from < o.EpochOffset().Offset {
			offsets[p.topic][p.partition] = kgo.NewOffset().At(p.from)
		}
		byTP[p.topic][p.partition] = append(byTP[p.topic][p.partition], p)
		p.next = p.from
	}
	cl, err := kgo.NewClient(append(slices.Clone(clientOpts),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("status: kafka client: %w", err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	done := func() bool {
		for _, p := range parts {
			if p.next < p.end {
				return false
			}
		}
		return true
	}
	for !done() {
		fetches := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			break
		}
		fetches.EachRecord(func(r *kgo.Record) {
			for _, p := range byTP[r.Topic][r.Partition] {
				if r.Offset < p.from || r.Offset >= p.end {
					continue
				}
				p.next = max(p.next, r.Offset+1)
				if !r.Attrs.IsControl() {
					p.count++
				}
			}
		})
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("status: read uncommitted offsets: %w", err)
	}
	for _, p := range parts {
		if p.next < p.end {
			p.lag.Lag += p.end - p.from
			continue
		}
		p.lag.Lag += p.count
	}
	return nil
}

// Querier is what ReadWarehouse needs from a ClickHouse connection.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// Table is what one raw change table holds.
type Table struct {
	Name string
	Rows uint64
	// Latest is the newest source_ts loaded (when the source says the
	// change happened); zero when the table is empty.
	Latest time.Time
}

// Warehouse is what the warehouse holds.
type Warehouse struct {
	Tables []Table // the raw change tables, by name
	// OpenDeadLetters counts the dead letters of every stage that no
	// replay has handled (the view dead_letters_open), per source topic and
	// stage, sorted.
	OpenDeadLetters []OpenDeadLetters
}

// OpenDeadLetters counts the open dead letters of one topic and stage.
type OpenDeadLetters struct {
	Topic string
	Stage string // ingest-<source>, transform or load
	Count uint64
}

// ReadWarehouse reads the row counts and newest changes of the raw change
// tables and the open dead letters.
func ReadWarehouse(ctx context.Context, conn Querier) (Warehouse, error) {
	var w Warehouse
	names, err := queryAll(ctx, conn, "SELECT name FROM system.tables WHERE database = currentDatabase() AND endsWith(name, '_changes') ORDER BY name",
		func(rows driver.Rows) (string, error) {
			var n string
			return n, rows.Scan(&n)
		})
	if err != nil {
		return w, fmt.Errorf("status: list tables: %w", err)
	}
	if len(names) > 0 {
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("SELECT '%s', count(), max(source_ts) FROM `%s`", n, n)
		}
		w.Tables, err = queryAll(ctx, conn, "SELECT * FROM ("+strings.Join(parts, " UNION ALL ")+") ORDER BY 1", func(rows driver.Rows) (Table, error) {
			var t Table
			err := rows.Scan(&t.Name, &t.Rows, &t.Latest)
			if t.Rows == 0 {
				t.Latest = time.Time{}
			}
			return t, err
		})
		if err != nil {
			return w, fmt.Errorf("status: read tables: %w", err)
		}
	}
	w.OpenDeadLetters, err = queryAll(ctx, conn, "SELECT source_topic, stage, count() FROM dead_letters_open GROUP BY source_topic, stage ORDER BY 1, 2",
		func(rows driver.Rows) (OpenDeadLetters, error) {
			var o OpenDeadLetters
			return o, rows.Scan(&o.Topic, &o.Stage, &o.Count)
		})
	if err != nil {
		return w, fmt.Errorf("status: open dead letters: %w", err)
	}
	return w, nil
}

func queryAll[T any](ctx context.Context, conn Querier, q string, scan func(driver.Rows) (T, error)) ([]T, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DbtRun is one scheduled dbt run as recorded in dbt_runs (package
// internal/dbtrun writes them).
type DbtRun struct {
	RunID                     string
	StartedAt                 time.Time
	Status                    string
	Duration                  time.Duration
	ModelsOK, ModelsFailed    uint32
	TestsOK, TestsFailed      uint32
	FailedModels, FailedTests []string
	Error                     string
}

// DbtRuns reads the newest limit runs of dbt_runs, newest first.
func DbtRuns(ctx context.Context, conn Querier, limit int) ([]DbtRun, error) {
	runs, err := queryAll(ctx, conn, fmt.Sprintf(`SELECT run_id, started_at, status, duration_seconds, models_ok,
		models_failed, tests_ok, tests_failed, failed_models, failed_tests, error
		FROM dbt_runs ORDER BY started_at DESC, run_id LIMIT %d`, limit), func(rows driver.Rows) (DbtRun, error) {
		var r DbtRun
		var secs float64
		err := rows.Scan(&r.RunID, &r.StartedAt, &r.Status, &secs, &r.ModelsOK, &r.ModelsFailed, &r.TestsOK,
			&r.TestsFailed, &r.FailedModels, &r.FailedTests, &r.Error)
		r.Duration = time.Duration(secs * float64(time.Second))
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("status: dbt runs: %w", err)
	}
	return runs, nil
}
