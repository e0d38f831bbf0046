package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// WriteCSV writes the result of s to w as CSV (RFC 4180: a header row of
// column names, fields quoted where needed, CRLF line ends), row by row.
// On an error after the first row, w holds a partial file.
func WriteCSV(ctx context.Context, w io.Writer, q Querier, s Sheet, opts Options) (SheetStats, error) {
	rows, err := open(ctx, q, s)
	if err != nil {
		return SheetStats{}, err
	}
	defer rows.Close()
	r, err := newRowReader(rows)
	if err != nil {
		return SheetStats{}, fmt.Errorf("%s: %w", sheetLabel(s), err)
	}
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
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	record := make([]string, len(r.cols))
	for i, c := range r.cols {
		record[i] = csvSafe(c.name)
	}
	if err := cw.Write(record); err != nil {
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
		if err := cw.Write(record); err != nil {
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
	cw.Flush()
	if err := cw.Error(); err != nil {
		return stats, fmt.Errorf("write csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return stats, fmt.Errorf("write csv: %w", err)
	}
	progress(stats.Rows)
	return stats, nil
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
