package export

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// WriteCSV writes the result of s to w as CSV (RFC 4180: a header row of
// column names, fields quoted where needed, CRLF line ends), row by row.
// On an error after the first row, w holds a partial file.
func WriteCSV(ctx context.Context, w io.Writer, q Querier, s Sheet, opts Options) (SheetStats, error) {
	r, err := read(ctx, q, s)
	if err != nil {
		return SheetStats{}, err
	}
	defer r.close()
	return writeCSVRows(ctx, w, r, s.Name, opts)
}

func writeCSVRows(ctx context.Context, w io.Writer, r *rowReader, name string, opts Options) (SheetStats, error) {
	progress := func(rows int64) {
		if opts.Progress != nil {
			opts.Progress(Progress{Name: name, Rows: rows})
		}
	}
	stats := SheetStats{Name: name}
	bw := bufio.NewWriterSize(w, 64<<10)
	if opts.BOM {
		_, _ = bw.WriteString("\uFEFF")
	}
	record := make([]string, len(r.cols))
	for i, c := range r.cols {
		record[i] = csvSafe(c.name)
	}
	if err := writeRecord(bw, record); err != nil {
		return stats, fmt.Errorf("write csv: %w", err)
	}
	for {
		ok, err := r.next()
		if err != nil {
			return stats, fmt.Errorf("read %s: %w", name, err)
		}
		if !ok {
			break
		}
		for i := range r.cols {
			record[i] = csvField(&r.cols[i], r.vals[i])
		}
		if err := writeRecord(bw, record); err != nil {
			return stats, fmt.Errorf("write csv: %w", err)
		}
		stats.Rows++
		if stats.Rows%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return stats, err
			}
			progress(stats.Rows)
		}
	}
	if err := bw.Flush(); err != nil {
		return stats, fmt.Errorf("write csv: %w", err)
	}
	progress(stats.Rows)
	return stats, nil
}

// writeRecord writes one CSV record as RFC 4180 has it: fields with a
// comma, a quote, a CR or a LF (or a leading or trailing space, which some
// readers trim) in quotes, quotes doubled, the record ended by CRLF.
// encoding/csv cannot be used: with CRLF line ends it also rewrites the line
// breaks inside fields (LF becomes CRLF, a lone CR is dropped), which
// changes the data.
func writeRecord(w *bufio.Writer, fields []string) error {
	for i, f := range fields {
		if i > 0 {
			_ = w.WriteByte(',')
		}
		if f == "" || (!strings.ContainsAny(f, ",\"\r\n") && f[0] != ' ' && f[len(f)-1] != ' ') {
			_, _ = w.WriteString(f)
			continue
		}
		_ = w.WriteByte('"')
		for {
			j := strings.IndexByte(f, '"')
			if j < 0 {
				break
			}
			_, _ = w.WriteString(f[:j+1])
			_ = w.WriteByte('"')
			f = f[j+1:]
		}
		_, _ = w.WriteString(f)
		_ = w.WriteByte('"')
	}
	_, err := w.WriteString("\r\n")
	return err
}

// csvField is a value as CSV text (NULL: empty).
func csvField(c *column, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return floatText(x)
	case decimal.Decimal:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		if c.kind == kindDate {
			return x.Format(time.DateOnly)
		}
		return x.Format(dateTimeLayout(c.scale))
	case string:
		return csvSafe(x)
	}
	return csvSafe(fmt.Sprint(v))
}
