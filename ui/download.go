package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopstream/shopstream/export"
)

// allRows is the row bound of a download: none (a download has every row).
const allRows = "4294967295"

// download answers a dataset's download: the same statement and
// parameters as the page's table, every row, as CSV or XLSX (package
// export: typed cells, money in its currency's format, formula-like text
// kept as text).
func (s *Server) download(w http.ResponseWriter, r *http.Request, format, name, sql string, params map[string]string) {
	f, err := export.ParseFormat(format)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, fmt.Errorf("format: %w", err))
		return
	}
	sheet := export.Sheet{Name: name, Query: sql, Params: serverParams(params)}
	// A download runs as long as it streams: the request's context ends it
	// when the browser goes away, not ui.query_timeout.
	_, err = export.WriteHTTP(r.Context(), w, f, fileName(name, params), noDeadlineQuerier{s.opts.Warehouse},
		[]export.Sheet{sheet}, export.Options{BOM: f == export.CSV})
	switch {
	case errors.Is(err, export.ErrResponseStarted):
		s.opts.Logger.Warn().Err(err).Str("path", r.URL.Path).Msg("download cut short")
		// The browser must see a failed download, not a short file.
		panic(http.ErrAbortHandler)
	case err != nil:
		s.fail(w, r, http.StatusBadGateway, fmt.Errorf("%s: %w", name, err))
	}
}

// fileName names a download after its table and what it was asked for:
// "Product by day gtin_00012345678905 2026-03-01 to 2026-03-28".
func fileName(name string, params map[string]string) string {
	parts := []string{name}
	for _, p := range []string{"key", "side", "q"} {
		if v := params[p]; v != "" {
			parts = append(parts, v)
		}
	}
	if params["from"] != "" {
		parts = append(parts, params["from"]+" to "+params["to"])
	}
	n := strings.Join(parts, " ")
	n = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) || r < ' ' {
			return '_'
		}
		return r
	}, n)
	if len([]rune(n)) > 120 {
		n = string([]rune(n)[:120])
	}
	return n
}

// pipelineDownload answers a download of one table of the pipeline view.
// The report is read from Kafka and the warehouse, not from one table, so
// its rows travel to the warehouse as a parameter (JSON lines, read by the
// format table function) and come back typed, like any other download.
func (s *Server) pipelineDownload(w http.ResponseWriter, r *http.Request, part, format string) {
	v := pipelineTables(s.readStatus(r.Context()), time.Now())
	parts := map[string]struct {
		title string
		res   result
		err   string
	}{
		"cursors":      {"Ingest cursors", v.Cursors, v.CursorsError},
		"lags":         {"Consumer lag", v.Lags, v.LagsError},
		"tables":       {"Raw change tables", v.Tables, v.TablesError},
		"dead_letters": {"Open dead letters", v.DeadLetters, v.TablesError},
	}
	p, ok := parts[part]
	if !ok {
		s.fail(w, r, http.StatusBadRequest, fmt.Errorf("part: %q is not one of cursors, lags, tables, dead_letters", part))
		return
	}
	if p.err != "" {
		s.fail(w, r, http.StatusBadGateway, fmt.Errorf("%s unavailable: %s", part, p.err))
		return
	}
	structure, lines, err := jsonLines(p.res)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	sql := "SELECT * FROM format(JSONEachRow, {structure:String}, {rows:String})"
	if len(p.res.Rows) == 0 {
		// format() cannot read no rows; the header alone is the file.
		sql += " LIMIT 0"
		lines = "{}"
	}
	s.download(w, r, format, p.title, sql, map[string]string{"structure": structure, "rows": lines})
}

// jsonLines is res as the column list and the JSON lines of format():
// instants as "YYYY-MM-DD hh:mm:ss" in UTC, which DateTime reads as is.
func jsonLines(res result) (structure, lines string, err error) {
	cols := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		typ := strings.Replace(c.Type, "DateTime", "DateTime('UTC')", 1)
		cols[i] = fmt.Sprintf("`%s` %s", c.Name, typ)
	}
	var b strings.Builder
	for _, row := range res.Rows {
		obj := make(map[string]any, len(row))
		for i, v := range row {
			if s, ok := v.(string); ok && strings.Contains(res.Columns[i].Type, "DateTime") {
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					v = t.UTC().Format(time.DateTime)
				}
			}
			obj[res.Columns[i].Name] = v
		}
		line, err := json.Marshal(obj)
		if err != nil {
			return "", "", fmt.Errorf("pipeline download: %w", err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return strings.Join(cols, ", "), b.String(), nil
}
