package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Format is a file format an export writes.
type Format string

// The formats.
const (
	XLSX Format = "xlsx"
	CSV  Format = "csv"
)

// ParseFormat reads a format name or file extension ("xlsx", ".csv").
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimPrefix(s, "."))); f {
	case XLSX, CSV:
		return f, nil
	}
	return "", fmt.Errorf("format %q is not xlsx or csv", s)
}

// ContentType is the media type of f.
func (f Format) ContentType() string {
	if f == CSV {
		return "text/csv; charset=utf-8; header=present"
	}
	return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
}

// Write writes sheets to w in format f: a workbook with a worksheet per
// sheet, or a CSV file of the one sheet.
func Write(ctx context.Context, w io.Writer, f Format, q Querier, sheets []Sheet, opts Options) (Stats, error) {
	switch f {
	case XLSX:
		return WriteXLSX(ctx, w, q, sheets, opts)
	case CSV:
		if len(sheets) != 1 {
			return Stats{}, fmt.Errorf("a CSV file holds one result, not %d: export them to .xlsx (a sheet each) or one CSV each", len(sheets))
		}
		st, err := WriteCSV(ctx, w, q, sheets[0], opts)
		return Stats{Sheets: []SheetStats{st}}, err
	}
	return Stats{}, fmt.Errorf("format %q is not xlsx or csv", f)
}

// ErrResponseStarted marks an error WriteHTTP met after the response's
// status and part of its body were sent: the client holds a partial file.
var ErrResponseStarted = errors.New("export: response already started")

// WriteHTTP answers a download request with sheets as the file
// filename.<format> (Content-Type, and a Content-Disposition that keeps a
// non-ASCII name). Nothing is sent until the export has its first bytes
// (an XLSX, the whole workbook), so an error in a query returns with w
// untouched and the caller answers it as it likes. An error after the
// response started wraps ErrResponseStarted; the caller should then
// panic(http.ErrAbortHandler), which cuts the connection so the browser
// reports a failed download instead of keeping a short file.
func WriteHTTP(ctx context.Context, w http.ResponseWriter, f Format, filename string, q Querier, sheets []Sheet, opts Options) (Stats, error) {
	rw := &lazyResponse{w: w, header: func(h http.Header) {
		h.Set("Content-Type", f.ContentType())
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename + "." + string(f)}))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
	}}
	st, err := Write(ctx, rw, f, q, sheets, opts)
	if err != nil && rw.started {
		return st, fmt.Errorf("%w: %w", ErrResponseStarted, err)
	}
	return st, err
}

// lazyResponse sets the headers and status just before the first byte.
type lazyResponse struct {
	w       http.ResponseWriter
	header  func(http.Header)
	started bool
}

func (l *lazyResponse) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.header(l.w.Header())
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}
