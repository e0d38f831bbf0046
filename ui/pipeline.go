package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/internal/status"
)

// pipelineView is what `shopstream status` prints, as tables: each part
// with the error that kept it from being read, if any.
type pipelineView struct {
	Cursors      result `json:"cursors"`
	CursorsError string `json:"cursors_error,omitempty"`
	Lags         result `json:"lags"`
	LagsError    string `json:"lags_error,omitempty"`
	Tables       result `json:"tables"`
	TablesError  string `json:"tables_error,omitempty"`
	DeadLetters  result `json:"dead_letters"`
	// ReadAt is when the report was read (ages count from it).
	ReadAt string `json:"read_at"`
}

// readStatus reads the pipeline's state: the cursors and lags through
// Options.Status (within StatusTimeout), the warehouse through the page's
// connection.
func (s *Server) readStatus(ctx context.Context) status.Report {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatusTimeout)
	defer cancel()
	warehouse := func(context.Context) (status.Querier, func(), error) {
		return noDeadlineQuerier{s.opts.Warehouse}, func() {}, nil
	}
	if s.opts.Status == nil {
		r := status.Report{}
		conn, _, _ := warehouse(ctx)
		r.Warehouse, r.WarehouseErr = status.ReadWarehouse(ctx, conn)
		return r
	}
	cfg := *s.opts.Status
	cfg.Warehouse = warehouse
	return status.Read(ctx, cfg)
}

// noDeadlineQuerier runs queries without telling the server the deadline
// (see withoutDeadline).
type noDeadlineQuerier struct{ q Querier }

func (n noDeadlineQuerier) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	ctx, cancel := withoutDeadline(ctx)
	rows, err := n.q.Query(ctx, query, args...)
	if err != nil {
		cancel()
		return nil, err
	}
	return cancelOnClose{rows, cancel}, nil
}

// cancelOnClose releases the query's context with its rows.
type cancelOnClose struct {
	driver.Rows
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.Rows.Close()
	c.cancel()
	return err
}

func (s *Server) servePipeline(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if f := q.Get("format"); f != "" {
		s.pipelineDownload(w, r, q.Get("part"), f)
		return
	}
	now := time.Now()
	rep := s.readStatus(r.Context())
	writeJSON(w, pipelineTables(rep, now))
}

func pipelineTables(rep status.Report, now time.Time) pipelineView {
	v := pipelineView{
		CursorsError: errText(rep.CursorsErr),
		LagsError:    errText(rep.LagsErr),
		TablesError:  errText(rep.WarehouseErr),
		ReadAt:       now.UTC().Format(time.RFC3339),
		Cursors: result{Columns: []column{{"cursor", "String"}, {"window_end", "Nullable(DateTime)"},
			{"position", "String"}, {"moved", "DateTime"}, {"moved_seconds_ago", "Int64"}}, Rows: [][]any{}},
		Lags: result{Columns: []column{{"group", "String"}, {"topic", "String"}, {"lag", "Int64"},
			{"partitions_not_started", "Int64"}}, Rows: [][]any{}},
		Tables: result{Columns: []column{{"table", "String"}, {"rows", "UInt64"}, {"newest_change", "Nullable(DateTime)"},
			{"age_seconds", "Nullable(Int64)"}}, Rows: [][]any{}},
		DeadLetters: result{Columns: []column{{"topic", "String"}, {"stage", "String"}, {"open", "UInt64"}}, Rows: [][]any{}},
	}
	instant := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, c := range rep.Cursors {
		v.Cursors.Rows = append(v.Cursors.Rows, []any{c.Key(), instant(c.WindowEnd), c.Position, instant(c.IngestTS),
			int64(now.Sub(c.IngestTS).Seconds())})
	}
	for _, l := range rep.Lags {
		topic := l.Topic
		if l.NoCommits {
			topic = "(no commits yet)"
		}
		v.Lags.Rows = append(v.Lags.Rows, []any{l.Group, topic, l.Lag, int64(l.Uncommitted)})
	}
	for _, t := range rep.Warehouse.Tables {
		var age any
		if !t.Latest.IsZero() {
			age = int64(now.Sub(t.Latest).Seconds())
		}
		v.Tables.Rows = append(v.Tables.Rows, []any{t.Name, t.Rows, instant(t.Latest), age})
	}
	for _, o := range rep.Warehouse.OpenDeadLetters {
		v.DeadLetters.Rows = append(v.DeadLetters.Rows, []any{o.Topic, o.Stage, o.Count})
	}
	return v
}
