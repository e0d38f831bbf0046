package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/shopstream/shopstream/export"
	"github.com/shopstream/shopstream/load"
)

// exportMemoryLimit is the export's soft memory limit (runtime/debug).
const exportMemoryLimit = 128 << 20

// exportSource is one --table, --model, --query or --query-file, in the
// order given, with the --sheet name that preceded it.
type exportSource struct {
	kind, value, sheet string
}

// exportSources collects the sources in command-line order: each source
// flag appends to the same list.
type exportSources struct {
	list      []exportSource
	nextSheet string
}

type sourceFlag struct {
	kind    string
	sources *exportSources
}

func (f sourceFlag) Set(v string) error {
	if f.kind == "sheet" {
		f.sources.nextSheet = v
		return nil
	}
	f.sources.list = append(f.sources.list, exportSource{kind: f.kind, value: v, sheet: f.sources.nextSheet})
	f.sources.nextSheet = ""
	return nil
}
func (f sourceFlag) String() string { return "" }
func (f sourceFlag) Type() string {
	switch f.kind {
	case "query":
		return "sql"
	case "query-file":
		return "file"
	}
	return "name"
}

func newExportCmd(a *app) *cobra.Command {
	var (
		sources               exportSources
		out, format           string
		params, products      []string
		from, to, dateColumn  string
		dbtSchema             string
		allColumns, bom       bool
		progress              string
		tmpDir                string
		defaultDbtSchemaValue = "analytics"
	)
	if v := os.Getenv("DBT_CLICKHOUSE_SCHEMA"); v != "" {
		defaultDbtSchemaValue = v
	}
	cmd := &cobra.Command{
		Use:   "export -o FILE (--table NAME | --model NAME | --query SQL | --query-file FILE)...",
		Short: "Export tables, dbt models or queries to an XLSX workbook (a sheet each) or a CSV file",
		Long: `Write what the warehouse holds to a spreadsheet, streamed (memory stays flat
however many rows): each source is a sheet of one XLSX workbook, in the order
given, or the one result of a CSV file.

Sources (repeatable, in any order):
  --table NAME       a table; current-state tables are read with FINAL,
                     ordered by their sorting key, without the pipeline's
                     bookkeeping columns (--all-columns keeps them)
  --model NAME       a dbt model, in the database dbt builds into (--dbt-schema)
  --query SQL        a query; values go in {name:Type} placeholders, filled
  --query-file FILE  by --param name=value (sent as server-side parameters,
                     never spliced into the SQL); an Array placeholder takes
                     a,b,c; --from, --to and --products fill {from:...},
                     {to:...} and {products:...}
  --sheet NAME       names the sheet of the source that follows

XLSX: typed cells (numbers, decimals in their currency's format, dates), a
bold frozen header with an autofilter, column widths from the data, more
sheets ("name (2)") past a worksheet's 1,048,576 rows. CSV: RFC 4180.
In both, text that a spreadsheet could run as a formula stays text.
The warehouse is reached as for load (warehouse.addr, or the embedded one on
warehouse.listen). A progress bar on a terminal, log lines otherwise.`,
		Example: `  shopstream export --table product_daily --from 2026-10-01 --to 2026-10-31 -o october.xlsx
  shopstream export --query 'SELECT product_key, sum(amazon_units) AS units FROM product_daily FINAL
      WHERE date BETWEEN {from:Date} AND {to:Date} AND product_key IN {keys:Array(String)} GROUP BY product_key' \
      --from 2026-10-01 --to 2026-10-31 --param keys=gtin:00012345678905,gtin:00012345678912 -o units.csv
  shopstream export --sheet Daily --table product_daily --sheet Weekly --model product_channel_weekly -o book.xlsx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(sources.list) == 0 {
				return errors.New("nothing to export: give --table, --model, --query or --query-file")
			}
			if sources.nextSheet != "" {
				return fmt.Errorf("--sheet %q names no source: put it before the --table, --model or --query it names", sources.nextSheet)
			}
			if out == "" {
				return errors.New("no output: give -o FILE (.xlsx or .csv), or -o - with --format")
			}
			f, err := exportFormat(format, out)
			if err != nil {
				return err
			}
			if f == export.CSV && len(sources.list) > 1 {
				return fmt.Errorf("a CSV file holds one result, not %d: use -o FILE.xlsx for a sheet each, or one export per CSV", len(sources.list))
			}
			values, err := parseParams(params)
			if err != nil {
				return err
			}
			if err := a.load(); err != nil {
				return err
			}
			ctx := cmd.Context()
			conn, err := load.Open(ctx, a.warehouse(2))
			if err != nil {
				return err
			}
			defer conn.Close()
			filters := export.Table{From: from, To: to, DateColumn: dateColumn, Products: splitList(products), AllColumns: allColumns}
			sheets, err := exportSheets(ctx, conn, sources.list, filters, dbtSchema, values)
			if err != nil {
				return err
			}
			opts := export.Options{BOM: bom, TmpDir: tmpDir}
			// The export holds some 30 MiB live however many rows; a soft
			// limit keeps the collector from letting garbage pile up past
			// that on a busy machine.
			softMemoryLimit(exportMemoryLimit)
			return a.runExport(ctx, conn, f, out, sheets, opts, progress)
		},
	}
	fl := cmd.Flags()
	for _, kind := range []struct{ name, usage string }{
		{"table", "a table to export (repeatable)"},
		{"model", "a dbt model to export (repeatable)"},
		{"query", "a SQL query to export, values as {name:Type} placeholders (repeatable)"},
		{"query-file", "a file holding a SQL query to export (repeatable)"},
		{"sheet", "name of the next source's sheet"},
	} {
		fl.Var(sourceFlag{kind: kind.name, sources: &sources}, kind.name, kind.usage)
	}
	fl.StringVarP(&out, "output", "o", "", "file to write (.xlsx or .csv); - for stdout")
	fl.StringVar(&format, "format", "", "xlsx or csv (default: from the output's extension)")
	fl.StringArrayVar(&params, "param", nil, "query parameter name=value (repeatable)")
	fl.StringVar(&from, "from", "", "first day (YYYY-MM-DD): tables' and models' date column, queries' {from:...}")
	fl.StringVar(&to, "to", "", "last day, included (YYYY-MM-DD): tables' and models' date column, queries' {to:...}")
	fl.StringVar(&dateColumn, "date-column", "date", "the column --from and --to filter tables and models on")
	fl.StringSliceVar(&products, "products", nil, "product keys (comma-separated): tables' and models' product_key, queries' {products:...}")
	fl.StringVar(&dbtSchema, "dbt-schema", defaultDbtSchemaValue, "database dbt builds the models into (env DBT_CLICKHOUSE_SCHEMA)")
	fl.BoolVar(&allColumns, "all-columns", false, "keep tables' bookkeeping columns (event_id, version, _offset, ...)")
	fl.BoolVar(&bom, "bom", false, "CSV: start with a UTF-8 byte order mark (Excel on Windows needs it for non-ASCII text)")
	fl.StringVar(&progress, "progress", "auto", "auto (a bar on a terminal, else log lines), bar, log or none")
	fl.StringVar(&tmpDir, "tmp-dir", "", "where XLSX sheets spill while written (default: the system's temporary directory)")
	return cmd
}

// exportFormat is --format, or the output file's extension.
func exportFormat(format, out string) (export.Format, error) {
	if format != "" {
		return export.ParseFormat(format)
	}
	if out == "-" {
		return "", errors.New("-o - (stdout) needs --format xlsx or csv")
	}
	f, err := export.ParseFormat(filepath.Ext(out))
	if err != nil {
		return "", fmt.Errorf("output %s: the extension says no format (.xlsx or .csv); or give --format", out)
	}
	return f, nil
}

// parseParams reads --param name=value pairs.
func parseParams(params []string) (map[string]string, error) {
	values := map[string]string{}
	for _, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("--param %q is not name=value", p)
		}
		values[strings.TrimSpace(name)] = value
	}
	return values, nil
}

func splitList(items []string) []string {
	var out []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// exportSheets turns the sources into sheets: tables and models looked up
// in the catalogue, queries with the parameters their placeholders name.
func exportSheets(ctx context.Context, q export.Querier, sources []exportSource, filters export.Table, dbtSchema string, params map[string]string) ([]export.Sheet, error) {
	shared := map[string]string{"from": filters.From, "to": filters.To}
	if len(filters.Products) > 0 {
		shared["products"] = strings.Join(filters.Products, ",")
	}
	used := map[string]bool{}
	var sheets []export.Sheet
	var errs []error
	queries := 0
	for _, src := range sources {
		var s export.Sheet
		switch src.kind {
		case "table", "model":
			t := filters
			t.Name = src.value
			if src.kind == "model" {
				t.Database = dbtSchema
			}
			var err error
			if s, err = export.TableSheet(ctx, q, t); err != nil {
				errs = append(errs, fmt.Errorf("--%s %s: %w", src.kind, src.value, err))
				continue
			}
		case "query", "query-file":
			queries++
			s = export.Sheet{Name: fmt.Sprintf("query %d", queries), Query: src.value, Params: map[string]string{}}
			if src.kind == "query-file" {
				b, err := os.ReadFile(src.value)
				if err != nil {
					errs = append(errs, fmt.Errorf("--query-file: %w", err))
					continue
				}
				s.Query = string(b)
				s.Name = strings.TrimSuffix(filepath.Base(src.value), filepath.Ext(src.value))
			}
			for name, typ := range export.Placeholders(s.Query) {
				v, ok := params[name]
				if ok {
					used[name] = true
				} else if v, ok = shared[name]; !ok || v == "" {
					errs = append(errs, fmt.Errorf("%s: no value for {%s:%s}: give --param %s=VALUE", src.value, name, typ, name))
					continue
				}
				if strings.HasPrefix(strings.TrimPrefix(typ, "Nullable("), "Array(") && !strings.HasPrefix(strings.TrimSpace(v), "[") {
					v = export.ListParam(typ, splitList(strings.Split(v, ",")))
				}
				s.Params[name] = v
			}
		}
		if src.sheet != "" {
			s.Name = src.sheet
		}
		sheets = append(sheets, s)
	}
	for name := range params {
		if !used[name] {
			errs = append(errs, fmt.Errorf("--param %s: no query has a {%s:Type} placeholder", name, name))
		}
	}
	return sheets, errors.Join(errs...)
}

// runExport writes the sheets to out (a temporary file renamed into place
// once whole, so a failed export leaves no half file), with progress.
func (a *app) runExport(ctx context.Context, q export.Querier, f export.Format, out string, sheets []export.Sheet, opts export.Options, progress string) error {
	log := a.log.With().Str("stage", "export").Logger()
	endProgress := func() {}
	if progress == "auto" {
		progress = "log"
		if term.IsTerminal(int(os.Stderr.Fd())) {
			progress = "bar"
		}
	}
	switch progress {
	case "bar":
		var total int64
		for _, s := range sheets {
			n, err := export.Count(ctx, q, s)
			if err != nil {
				return err
			}
			total += int64(n)
		}
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("exporting"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
		)
		opts.Progress = barProgress(bar)
		endProgress = func() {
			if !bar.IsFinished() {
				_ = bar.Exit() // ends the bar's line before what follows
			}
		}
	case "log":
		opts.Progress = logProgress(func(p export.Progress, rate float64) {
			if p.Compressing {
				log.Info().Str("sheet", p.Name).Msg("every row read; compressing the workbook")
				return
			}
			log.Info().Str("sheet", p.Name).Int64("rows", p.Rows).Float64("rows_per_second", rate).Msg("exporting")
		}, 5*time.Second)
	case "none":
	default:
		return fmt.Errorf("--progress %q is not auto, bar, log or none", progress)
	}

	start := time.Now()
	var (
		stats export.Stats
		err   error
		size  int64
	)
	if out == "-" {
		stats, err = export.Write(ctx, os.Stdout, f, q, sheets, opts)
	} else {
		size, stats, err = writeFileAtomically(out, func(w io.Writer) (export.Stats, error) {
			return export.Write(ctx, w, f, q, sheets, opts)
		})
	}
	endProgress()
	if err != nil {
		return err
	}
	for _, s := range stats.Sheets {
		if len(s.Continued) > 0 {
			log.Warn().Str("sheet", s.Name).Strs("continued_on", s.Continued).Int64("rows", s.Rows).
				Msg("more rows than a worksheet holds (1,048,576 with the header): continued on more sheets")
		}
		if s.Truncated > 0 {
			log.Warn().Str("sheet", s.Name).Int64("cells", s.Truncated).
				Msg("texts longer than a cell holds (32,767 characters) were cut; CSV keeps them whole")
		}
	}
	log.Info().Str("file", out).Str("format", string(f)).Int("sheets", len(stats.Sheets)).Int64("rows", stats.Rows()).
		Int64("bytes", size).Str("took", time.Since(start).Round(time.Millisecond).String()).Msg("export written")
	return nil
}

// writeFileAtomically writes through a temporary file beside path and
// renames it into place when write succeeded.
func writeFileAtomically(path string, write func(io.Writer) (export.Stats, error)) (int64, export.Stats, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, export.Stats{}, fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	// CreateTemp makes it private; an export is a file like any other.
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return 0, export.Stats{}, fmt.Errorf("create %s: %w", path, err)
	}
	stats, err := write(tmp)
	if err != nil {
		_ = tmp.Close()
		return 0, stats, err
	}
	info, err := tmp.Stat()
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, stats, fmt.Errorf("write %s: %w", path, err)
	}
	return info.Size(), stats, nil
}

// barProgress moves bar to the rows written over every sheet; once every
// row is read, a workbook still takes a while to compress, which a line
// under the full bar says.
func barProgress(bar *progressbar.ProgressBar) func(export.Progress) {
	done := map[int]int64{}
	return func(p export.Progress) {
		if p.Compressing {
			_ = bar.Finish()
			fmt.Fprintln(os.Stderr, "compressing the workbook…")
			return
		}
		done[p.Sheet] = p.Rows
		var n int64
		for _, r := range done {
			n += r
		}
		_ = bar.Set64(n)
	}
}

// logProgress calls line at most once per every, and when the workbook is
// compressed, with the rows per second since the last line.
func logProgress(line func(p export.Progress, rate float64), every time.Duration) func(export.Progress) {
	last := time.Now()
	var lastRows int64
	sheet := -1
	return func(p export.Progress) {
		if p.Sheet != sheet {
			sheet, lastRows = p.Sheet, 0
		}
		now := time.Now()
		if p.Compressing || now.Sub(last) >= every {
			line(p, float64(p.Rows-lastRows)/now.Sub(last).Seconds())
			last, lastRows = now, p.Rows
		}
	}
}
