// Package export writes query results to spreadsheets: XLSX workbooks (one
// sheet per result) and RFC 4180 CSV files, streamed row by row so that
// memory stays flat however many rows a result has.
//
// A result is a [Sheet]: a SQL query with ClickHouse server-side parameters
// ({name:Type} placeholders, values sent apart from the SQL, never spliced
// into it). [TableSheet] builds one for a table or a dbt model. A [Querier]
// runs it: clickhouse-go's driver.Conn is one, over the native protocol or
// HTTP. [WriteXLSX] and [WriteCSV] write to any io.Writer; [WriteHTTP]
// answers a download request with either.
//
// Cells keep their types. In XLSX, integers, floats and decimals are
// numbers (decimals with as many decimals as their scale, or the currency's
// format when the result has a currency column for them, see below), dates
// and times are dates (yyyy-mm-dd, yyyy-mm-dd hh:mm:ss[.000]) in the
// column's time zone, Bool is TRUE/FALSE, NULL is an empty cell, and
// everything else is text (arrays, maps and tuples as JSON; FixedString
// without its NUL padding). What a
// spreadsheet cannot hold exactly is written as text: integers beyond ±2^53
// and Int128/256; NaN and infinities as nan, inf, -inf. Text longer than a
// cell holds (32,767 characters) is cut, counted in [SheetStats]; CSV keeps
// it whole. The header row is bold and frozen, has an autofilter, and column
// widths follow the header and the first rows. In CSV every value is text,
// as ClickHouse's CSV writes it (dates 2006-01-02, decimals without trailing
// zeros), NULL an empty field, lines end in CRLF.
//
// Money: a decimal column X is paired with the text column
// <prefix>currency whose prefix X starts with (the longest one; a column
// named just "currency" pairs with every decimal), and each row's amount
// gets that row's currency format: its symbol and its minor units (USD
// $1,234.50, JPY ¥1,235), the value itself untouched.
//
// Formula injection: text that a spreadsheet could take for a formula (it
// starts with =, +, -, @, a tab or a carriage return, and is not a plain
// number such as -12.5) is never written as a formula. XLSX stores it as a
// text cell with the Text number format ("@"), so that even editing the cell
// keeps it text; CSV prefixes it with an apostrophe (OWASP's advice), which
// spreadsheets read as "text follows". Numbers, negative ones included, are
// numbers in both.
//
// Row limit: a worksheet holds 1,048,576 rows, so a result with more than
// 1,048,575 data rows continues on sheets named "<name> (2)", "<name> (3)"
// ..., each with the header row; nothing is dropped. CSV has no limit.
//
// Memory: rows are read one at a time (blocks of 8,192 rows from the
// server) and written at once. An XLSX sheet's XML spills to a temporary file
// (Options.TmpDir) beyond 16 MiB, and the workbook is zipped straight into
// the io.Writer at the end, so nothing reaches the writer before the last row
// is read: a failed query leaves it untouched. CSV is written as rows arrive.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Querier runs a query whose server-side parameters and settings travel in
// ctx (clickhouse.Context). clickhouse-go's driver.Conn is one.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// resultSet is what the writers use of a result: clickhouse-go's
// driver.Rows.
type resultSet interface {
	ColumnTypes() []driver.ColumnType
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Sheet is one result to export.
type Sheet struct {
	// Name names the XLSX sheet (CSV ignores it). Characters a sheet name
	// cannot have (: \ / ? * [ ]) become _, and it is cut to 31 characters;
	// empty: "Sheet1", "Sheet2", ...
	Name string
	// Query is the SQL, with every value as a {name:Type} placeholder.
	Query string
	// Params are the placeholders' values, sent as ClickHouse server-side
	// parameters: the server parses each as its placeholder's type, so a
	// value can never change the query. Every placeholder needs one.
	Params map[string]string
}

// Options are what every export shares; the zero value is ready to use.
type Options struct {
	// Progress, if set, hears how far the export is: every progressEvery
	// rows of a sheet, when a sheet ends, and (XLSX) when the workbook is
	// being compressed into the writer. It runs on the exporting goroutine.
	Progress func(Progress)
	// TmpDir is where XLSX sheets spill; default os.TempDir().
	TmpDir string
	// BOM starts a CSV with a UTF-8 byte order mark, which Excel on Windows
	// needs to read non-ASCII text in a CSV it opens by double-click.
	BOM bool

	// rowsPerSheet caps a worksheet's data rows (tests lower it); 0:
	// maxSheetRows.
	rowsPerSheet int64
}

// Progress is how far an export is.
type Progress struct {
	// Sheet is the index, in the sheets given, of the one being written;
	// Name its worksheet name (the first one, if it continues).
	Sheet int
	Name  string
	// Rows of it written so far.
	Rows int64
	// Compressing: every row is read, the XLSX workbook is being
	// compressed into the writer (for a large one, a while).
	Compressing bool
}

// Count returns how many rows s's query returns (the server counts them),
// for a progress bar's total.
func Count(ctx context.Context, q Querier, s Sheet) (uint64, error) {
	s.Query = "SELECT count() FROM (" + trimQuery(s.Query) + "\n)"
	rows, err := open(ctx, q, s)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n uint64
	if !rows.Next() {
		return 0, fmt.Errorf("count %s: no answer: %w", sheetLabel(s), rows.Err())
	}
	if err := rows.Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", sheetLabel(s), err)
	}
	return n, rows.Err()
}

// Stats say what an export wrote.
type Stats struct {
	Sheets []SheetStats
}

// SheetStats say what one Sheet became.
type SheetStats struct {
	// Name is the sheet's name; Continued the continuation sheets, if it
	// had more rows than a worksheet holds.
	Name      string
	Continued []string
	Rows      int64
	// Truncated counts the texts cut to the 32,767 characters a cell holds.
	Truncated int64
}

// Rows is the total of rows written.
func (s Stats) Rows() int64 {
	var n int64
	for _, sh := range s.Sheets {
		n += sh.Rows
	}
	return n
}

const (
	// maxSheetRows is a worksheet's limit less the header row.
	maxSheetRows = 1<<20 - 1
	// rowsPerBlock is the block size asked of the server: blocks are decoded
	// whole, so this bounds the memory of a block in flight.
	rowsPerBlock = 8192
	// progressEvery is how often (rows) Options.Progress hears of a sheet.
	progressEvery = 10000
)

// read runs s's query and returns a reader of its rows. A result without
// rows comes without its columns over HTTP (ClickHouse's Native format
// writes nothing for no rows, a server's as the embedded warehouse's; the
// native protocol sends a header block): DESCRIBE names them, so that an
// empty result still has its header row.
func read(ctx context.Context, q Querier, s Sheet) (*rowReader, error) {
	rows, err := open(ctx, q, s)
	if err != nil {
		return nil, err
	}
	if len(rows.ColumnTypes()) > 0 {
		return newRowReader(rows), nil
	}
	_ = rows.Close()
	d := s
	d.Query = "DESCRIBE TABLE (" + trimQuery(s.Query) + "\n)"
	if rows, err = open(ctx, q, d); err != nil {
		return nil, err
	}
	defer rows.Close()
	// name, type, then what the server version adds (defaults, comments...).
	dest := make([]any, len(rows.ColumnTypes()))
	for i := range dest {
		dest[i] = new(string)
	}
	r := &rowReader{}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil || len(dest) < 2 {
			return nil, fmt.Errorf("columns of %s: %v", sheetLabel(s), err)
		}
		name, typ := *dest[0].(*string), *dest[1].(*string)
		k, scale := kindOf(typ)
		r.cols = append(r.cols, column{name: name, dbType: typ, kind: k, scale: scale, currency: -1})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", sheetLabel(s), err)
	}
	if len(r.cols) == 0 {
		return nil, fmt.Errorf("%s returns no columns", sheetLabel(s))
	}
	pairCurrencies(r.cols)
	return r, nil
}

// open runs s's query with its parameters, streaming small blocks.
func open(ctx context.Context, q Querier, s Sheet) (resultSet, error) {
	if err := checkParams(s); err != nil {
		return nil, err
	}
	opts := []clickhouse.QueryOption{clickhouse.WithParameters(clickhouse.Parameters(s.Params)), clickhouse.WithBlockBufferSize(1)}
	small := clickhouse.WithSettings(clickhouse.Settings{"max_block_size": rowsPerBlock})
	rows, err := q.Query(clickhouse.Context(ctx, append(opts, small)...), trimQuery(s.Query))
	if err != nil && strings.Contains(err.Error(), "Cannot modify 'max_block_size' setting in readonly mode") {
		// A user with readonly = 1 may not change settings: the server's
		// blocks (65,409 rows) then bound the memory instead.
		rows, err = q.Query(clickhouse.Context(ctx, opts...), trimQuery(s.Query))
	}
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", sheetLabel(s), err)
	}
	return rows, nil
}

// trimQuery drops what ends a query typed for a SQL client: white space
// and semicolons.
func trimQuery(q string) string {
	return strings.TrimRight(strings.TrimSpace(q), "; \t\r\n")
}

// checkParams fails, naming them, on placeholders without a value and
// values without a placeholder (a misspelt name).
func checkParams(s Sheet) error {
	placeholders := Placeholders(s.Query)
	var missing, unused []string
	for name := range placeholders {
		if _, ok := s.Params[name]; !ok {
			missing = append(missing, name)
		}
	}
	for name := range s.Params {
		if _, ok := placeholders[name]; !ok {
			unused = append(unused, name)
		}
	}
	slices.Sort(missing)
	slices.Sort(unused)
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%s: no value for parameter %s", sheetLabel(s), strings.Join(missing, ", ")))
	}
	if len(unused) > 0 {
		errs = append(errs, fmt.Errorf("%s: parameter %s is not in the query (placeholders look like {name:Type})", sheetLabel(s), strings.Join(unused, ", ")))
	}
	return errors.Join(errs...)
}

func sheetLabel(s Sheet) string {
	if s.Name != "" {
		return "sheet " + quoteName(s.Name)
	}
	return "query"
}

func quoteName(s string) string { return "\"" + s + "\"" }

// countingWriter counts what passes to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
