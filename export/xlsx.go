package export

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/width"
)

// WriteXLSX writes the results of sheets to w as one XLSX workbook, a
// worksheet per Sheet (more if a result exceeds a worksheet's rows). The
// rows stream through temporary files; w receives the workbook only after
// every query has been read, so an error leaves w untouched.
func WriteXLSX(ctx context.Context, w io.Writer, q Querier, sheets []Sheet, opts Options) (Stats, error) {
	if len(sheets) == 0 {
		return Stats{}, errors.New("nothing to export: no sheet")
	}
	tmp, err := os.MkdirTemp(opts.TmpDir, "shopstream-export-")
	if err != nil {
		return Stats{}, fmt.Errorf("temporary directory for the workbook: %w", err)
	}
	defer os.RemoveAll(tmp)
	b := newBook(tmp, opts)
	defer b.f.Close()

	var stats Stats
	for i, s := range sheets {
		name := s.Name
		if name == "" {
			name = "Sheet" + strconv.Itoa(i+1)
		}
		s.Name = name
		r, err := read(ctx, q, s)
		if err != nil {
			return stats, err
		}
		st, err := b.writeResult(ctx, r, i, name)
		r.close()
		if err != nil {
			return stats, fmt.Errorf("%s: %w", sheetLabel(s), err)
		}
		stats.Sheets = append(stats.Sheets, st)
	}
	if opts.Progress != nil {
		last := stats.Sheets[len(stats.Sheets)-1]
		opts.Progress(Progress{Sheet: len(sheets) - 1, Name: last.Name, Rows: last.Rows, Compressing: true})
	}
	if err := b.write(w); err != nil {
		return stats, err
	}
	return stats, nil
}

// book is a workbook being written: its sheets and the styles they share.
type book struct {
	f      *excelize.File
	opts   Options
	sheets int // worksheets created
	used   map[string]bool
	styles map[string]int // by number format ("" is General)
	header int
	err    error // the first error creating a style
}

func newBook(tmpDir string, opts Options) *book {
	if opts.rowsPerSheet <= 0 {
		opts.rowsPerSheet = maxSheetRows
	}
	return &book{
		f:      excelize.NewFile(excelize.Options{TmpDir: tmpDir}),
		opts:   opts,
		used:   map[string]bool{},
		styles: map[string]int{},
	}
}

// write zips the workbook into w. excelize assembles a workbook in a
// memory buffer before it copies it out; its zip writer is pointed at w
// instead, so the (large) sheets go from their temporary files through the
// compressor into w and the buffer stays empty.
func (b *book) write(w io.Writer) error {
	cw := &countingWriter{w: w}
	b.f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw := zip.NewWriter(cw)
		// klauspost's deflate writes the same format several times faster
		// than the standard library's at a similar ratio.
		zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(out, flate.DefaultCompression)
		})
		return zw
	})
	if err := b.f.Write(io.Discard); err != nil {
		return fmt.Errorf("write workbook: %w", err)
	}
	return nil
}

// style returns the id of the style with number format numFmt ("@" text,
// "" General), bold for the header.
func (b *book) style(numFmt string) int {
	if id, ok := b.styles[numFmt]; ok {
		return id
	}
	var s excelize.Style
	switch numFmt {
	case "":
		return 0
	case "@":
		s.NumFmt = 49 // built-in Text
	default:
		s.CustomNumFmt = &numFmt
	}
	id, err := b.f.NewStyle(&s)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("style %q: %w", numFmt, err)
	}
	b.styles[numFmt] = id
	return id
}

func (b *book) headerStyle() int {
	if b.header == 0 {
		id, err := b.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, NumFmt: 49})
		if err != nil && b.err == nil {
			b.err = fmt.Errorf("header style: %w", err)
		}
		b.header = id
	}
	return b.header
}

// sampleRows is how many rows decide the column widths: they are held
// before the sheet is started, as widths precede the rows in the file.
const sampleRows = 200

// writeResult writes one result on one or more worksheets.
func (b *book) writeResult(ctx context.Context, r *rowReader, index int, name string) (SheetStats, error) {
	progress := func(p Progress) {
		if b.opts.Progress != nil {
			p.Sheet = index
			b.opts.Progress(p)
		}
	}
	if len(r.cols) > excelize.MaxColumns {
		return SheetStats{}, fmt.Errorf("%d columns, more than the %d a worksheet holds", len(r.cols), excelize.MaxColumns)
	}
	stats := SheetStats{}
	header := make([]any, len(r.cols))
	widths := make([]float64, len(r.cols))
	for i, c := range r.cols {
		header[i] = excelize.Cell{StyleID: b.headerStyle(), Value: c.name}
		// Room for the autofilter's button.
		widths[i] = float64(textWidth(c.name)) + 3
	}

	var sample [][]any
	for len(sample) < sampleRows {
		ok, err := r.next()
		if err != nil {
			return stats, err
		}
		if !ok {
			break
		}
		row := make([]any, len(r.cols))
		for i := range r.cols {
			row[i] = b.cell(r, i, &stats)
			widths[i] = max(widths[i], cellWidth(&r.cols[i], r.vals[i]))
		}
		sample = append(sample, row)
	}
	for i := range widths {
		widths[i] = math.Min(math.Max(widths[i]+1, 8), 60)
	}

	sh, err := b.startSheet(name, header, widths)
	if err != nil {
		return stats, err
	}
	stats.Name = sh.name
	var inSheet int64
	row := make([]any, len(r.cols))
	emit := func(cells []any) error {
		if inSheet == b.opts.rowsPerSheet {
			if err := sh.finish(b); err != nil {
				return err
			}
			cont := fmt.Sprintf("%s (%d)", name, len(stats.Continued)+2)
			next, err := b.startSheet(cont, header, widths)
			if err != nil {
				return err
			}
			sh = next
			stats.Continued = append(stats.Continued, sh.name)
			inSheet = 0
		}
		inSheet++
		stats.Rows++
		if err := sh.setRow(cells); err != nil {
			return err
		}
		if stats.Rows%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			progress(Progress{Name: stats.Name, Rows: stats.Rows})
		}
		return nil
	}
	for _, cells := range sample {
		if err := emit(cells); err != nil {
			return stats, err
		}
	}
	if len(sample) == sampleRows {
		for {
			ok, err := r.next()
			if err != nil {
				return stats, err
			}
			if !ok {
				break
			}
			for i := range r.cols {
				row[i] = b.cell(r, i, &stats)
			}
			if err := emit(row); err != nil {
				return stats, err
			}
		}
	}
	if err := sh.finish(b); err != nil {
		return stats, err
	}
	progress(Progress{Name: stats.Name, Rows: stats.Rows})
	return stats, b.err
}

// sheet is one worksheet being streamed.
type sheet struct {
	name string
	sw   *excelize.StreamWriter
	rows int // rows written, the header included
	cols int
}

// startSheet adds a worksheet (the workbook's first one replaces the
// default "Sheet1") with its column widths, a frozen header row and the
// header.
func (b *book) startSheet(want string, header []any, widths []float64) (*sheet, error) {
	name := b.sheetName(want)
	if b.sheets == 0 {
		if err := b.f.SetSheetName(b.f.GetSheetName(0), name); err != nil {
			return nil, fmt.Errorf("name sheet %q: %w", name, err)
		}
	} else if _, err := b.f.NewSheet(name); err != nil {
		return nil, fmt.Errorf("add sheet %q: %w", name, err)
	}
	b.sheets++
	// The worksheet template says its data spans A1, and the stream writer
	// writes that before the rows are known; readers that trust it (openpyxl
	// in read-only mode) would see one row. Without it they read them all.
	if err := b.f.SetSheetDimension(name, ""); err != nil {
		return nil, fmt.Errorf("sheet %q: %w", name, err)
	}
	sw, err := b.f.NewStreamWriter(name)
	if err != nil {
		return nil, fmt.Errorf("sheet %q: %w", name, err)
	}
	for i, w := range widths {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return nil, fmt.Errorf("sheet %q: column width: %w", name, err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, fmt.Errorf("sheet %q: freeze the header: %w", name, err)
	}
	sh := &sheet{name: name, sw: sw, cols: len(header)}
	if err := sh.setRow(header); err != nil {
		return nil, err
	}
	return sh, nil
}

func (sh *sheet) setRow(cells []any) error {
	sh.rows++
	ref, err := excelize.CoordinatesToCellName(1, sh.rows)
	if err != nil {
		return err
	}
	if err := sh.sw.SetRow(ref, cells); err != nil {
		return fmt.Errorf("sheet %q row %d: %w", sh.name, sh.rows, err)
	}
	return nil
}

// finish puts an autofilter over the header and rows and ends the sheet.
// The stream writer writes the worksheet's autoFilter element when it is
// flushed, so setting the filter's range now, when the rows are known,
// lands in the file (a test reads it back).
func (sh *sheet) finish(b *book) error {
	last, err := excelize.CoordinatesToCellName(sh.cols, max(sh.rows, 2))
	if err != nil {
		return err
	}
	if err := b.f.AutoFilter(sh.name, "A1:"+last, nil); err != nil {
		return fmt.Errorf("sheet %q: autofilter: %w", sh.name, err)
	}
	if err := sh.sw.Flush(); err != nil {
		return fmt.Errorf("sheet %q: %w", sh.name, err)
	}
	return nil
}

// sheetName makes want a valid worksheet name not used yet: no : \ / ? * [ ],
// no apostrophe at either end, at most 31 characters, unique ignoring case.
func (b *book) sheetName(want string) string {
	clean := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) || r < 0x20 {
			return '_'
		}
		return r
	}, want)
	clean = strings.Trim(clean, "'")
	if clean == "" {
		clean = "Sheet"
	}
	name := cutUTF16(clean, excelize.MaxSheetNameLength)
	for n := 2; b.used[strings.ToLower(name)]; n++ {
		suffix := fmt.Sprintf(" (%d)", n)
		name = cutUTF16(clean, excelize.MaxSheetNameLength-len(suffix)) + suffix
	}
	b.used[strings.ToLower(name)] = true
	return name
}

// cutUTF16 cuts s to at most n UTF-16 units, the unit of Excel's limits.
func cutUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return s[:i]
		}
	}
	return s
}

// cell is value i of r's current row as an XLSX cell (nil: no cell).
func (b *book) cell(r *rowReader, i int, stats *SheetStats) any {
	c := &r.cols[i]
	switch v := r.vals[i].(type) {
	case nil:
		return nil
	case int64:
		if v > maxExactInt || v < -maxExactInt {
			return strconv.FormatInt(v, 10)
		}
		return v
	case uint64:
		if v > maxExactInt {
			return strconv.FormatUint(v, 10)
		}
		return v
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return floatText(v)
		}
		return v
	case decimal.Decimal:
		f, _ := v.Float64()
		return excelize.Cell{StyleID: b.style(b.decimalFormat(r, c)), Value: f}
	case time.Time:
		if c.kind == kindDate {
			return excelize.Cell{StyleID: b.style("yyyy-mm-dd"), Value: v}
		}
		layout := "yyyy-mm-dd hh:mm:ss"
		if c.scale > 0 {
			layout += ".000" // the finest a cell shows
		}
		return excelize.Cell{StyleID: b.style(layout), Value: v}
	case bool:
		return v
	case string:
		if len(v) > excelize.TotalCellChars && utf16Len(v) > excelize.TotalCellChars {
			stats.Truncated++
		}
		if formulaLike(v) {
			return excelize.Cell{StyleID: b.style("@"), Value: v}
		}
		return v
	}
	return fmt.Sprint(r.vals[i])
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// decimalFormat is the number format of a decimal: its row's currency's,
// or as many decimals as the column's scale.
func (b *book) decimalFormat(r *rowReader, c *column) string {
	if c.currency >= 0 {
		if code, ok := r.vals[c.currency].(string); ok {
			if f, ok := currencyFormat(code); ok {
				return f
			}
		}
	}
	if c.scale == 0 {
		return "#,##0"
	}
	return "#,##0." + strings.Repeat("0", c.scale)
}

// currencyFormats caches currencyFormat, by ISO code (a few hundred at
// most: what is not a code is not cached).
var currencyFormats sync.Map

// currencyFormat is the number format of amounts in the ISO 4217 currency
// code: its English symbol (CLDR: $, €, £, ¥, CA$, ...) and its minor
// units (2 for USD, 0 for JPY, 3 for KWD).
func currencyFormat(code string) (string, bool) {
	if f, ok := currencyFormats.Load(code); ok {
		return f.(string), true
	}
	unit, err := currency.ParseISO(strings.TrimSpace(code))
	if err != nil {
		return "", false
	}
	scale, _ := currency.Standard.Rounding(unit)
	symbol := message.NewPrinter(language.English).Sprint(currency.Symbol(unit))
	symbol = strings.NewReplacer(`"`, "", "]", "", "[", "").Replace(symbol)
	f := "[$" + symbol + "]#,##0"
	if scale > 0 {
		f += "." + strings.Repeat("0", scale)
	}
	currencyFormats.Store(code, f)
	return f, true
}

// cellWidth estimates the characters a value takes in its cell's format.
func cellWidth(c *column, v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case int64, uint64:
		n := float64(len(fmt.Sprint(x)))
		return n
	case float64:
		return math.Min(float64(len(floatText(x))), 16)
	case decimal.Decimal:
		digits := len(x.Truncate(0).Abs().String())
		return float64(digits+(digits-1)/3+c.scale+2) + 2 // separators, sign, point, symbol
	case time.Time:
		if c.kind == kindDate {
			return 10
		}
		if c.scale > 0 {
			return 23
		}
		return 19
	case bool:
		return 5
	case string:
		widest := 0
		for line := range strings.SplitSeq(x, "\n") {
			widest = max(widest, textWidth(line))
		}
		return float64(widest)
	}
	return 10
}

// textWidth counts the columns text takes: East Asian wide characters
// count two.
func textWidth(s string) int {
	if len(s) > 200 {
		s = s[:200]
	}
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
