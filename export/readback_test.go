package export

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fixture holds what breaks spreadsheets: NULLs, integers past 2^53,
// decimals in several currencies, dates at the edges of Excel's calendar,
// millisecond times, non-ASCII text, text with quotes, commas and line
// breaks, text longer than a cell, and text a spreadsheet would run as a
// formula next to negative numbers that must stay numbers.
const fixtureDDL = "CREATE TABLE fixture (" +
	"id UInt32, title String, note Nullable(String), units Nullable(Int64), big Int64, ubig UInt64, neg Int32, " +
	"ratio Nullable(Float64), sale_currency LowCardinality(Nullable(String)), sale_price Nullable(Decimal(18, 4)), " +
	"rate Decimal(9, 3), day Date32, day_opt Nullable(Date), at DateTime64(3, 'UTC'), at_s DateTime('UTC'), " +
	"flag Bool, tags Array(String), uid UUID, `@mention` String" +
	") ENGINE = MergeTree ORDER BY id"

// longTitle is longer than the 32,767 characters a cell holds.
var longTitle = strings.Repeat("ü", 40000)

var fixtureRows = []map[string]any{
	{"id": 1, "title": "Crème brûlée — 抹茶ラテ Тест", "note": nil, "units": nil, "big": "9007199254740993", "ubig": "18446744073709551615", "neg": -42,
		"ratio": -0.5, "sale_currency": "USD", "sale_price": "1234.5", "rate": "0.125", "day": "1900-01-01", "day_opt": nil,
		"at": "2026-10-31 23:59:59.999", "at_s": "1970-01-01 00:00:00", "flag": true, "tags": []string{"a", "=b"}, "uid": "6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e6f", "@mention": "@bob"},
	{"id": 2, "title": `=HYPERLINK("http://example.com","click")`, "note": "", "units": 0, "big": "-9007199254740992", "ubig": "0", "neg": 0,
		"ratio": "nan", "sale_currency": "JPY", "sale_price": "1235", "rate": "-1.5", "day": "2026-10-01", "day_opt": "2026-10-02",
		"at": "2026-10-01 00:00:00.001", "at_s": "2026-10-01 12:34:56", "flag": false, "tags": []string{}, "uid": "00000000-0000-0000-0000-000000000000", "@mention": "plain"},
	{"id": 3, "title": "+1-2", "note": "-3", "units": -7, "big": "42", "ubig": "9007199254740992", "neg": -2147483648,
		"ratio": 1e300, "sale_currency": "KWD", "sale_price": "-0.125", "rate": "999999.999", "day": "1900-02-28", "day_opt": "1970-01-01",
		"at": "1900-03-01 06:00:00.500", "at_s": "2106-02-07 06:28:15", "flag": true, "tags": []string{"é", "x,y"}, "uid": "6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e60", "@mention": "-"},
	{"id": 4, "title": "@SUM(A1:A9)", "note": "\tTAB", "units": 9007199254740992, "big": "-9007199254740993", "ubig": "1", "neg": 2147483647,
		"ratio": "inf", "sale_currency": nil, "sale_price": "99.99", "rate": "0", "day": "1900-03-01", "day_opt": nil,
		"at": "2299-12-31 23:59:59.000", "at_s": "2000-02-29 00:00:00", "flag": false, "tags": []string{}, "uid": "6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e61", "@mention": "=cmd|' /C calc'!A0"},
	{"id": 5, "title": "-5", "note": "\rCR", "units": 12, "big": "0", "ubig": "2", "neg": -1,
		"ratio": "-inf", "sale_currency": "XYZ", "sale_price": "0.0001", "rate": "1.001", "day": "2299-12-31", "day_opt": "2149-06-06",
		"at": "1970-01-01 00:00:00.000", "at_s": "2026-12-31 23:59:59", "flag": true, "tags": []string{`"q"`}, "uid": "6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e62", "@mention": "+"},
	{"id": 6, "title": "line one\nline two, with \"quotes\"", "note": " leading and trailing ", "units": -9007199254740992, "big": "1", "ubig": "3", "neg": -100,
		"ratio": 0.1, "sale_currency": "EUR", "sale_price": "-1234567.8912", "rate": "-0.001", "day": "2026-10-31", "day_opt": nil,
		"at": "2026-06-15 08:00:00.250", "at_s": "2026-06-15 08:00:00", "flag": false, "tags": []string{"-1"}, "uid": "6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e63", "@mention": "-12.5"},
	{"id": 7, "title": "", "note": "=1+1", "units": 1, "big": "2", "ubig": "4", "neg": -3,
		"ratio": 1.5e-7, "sale_currency": "usd", "sale_price": "0", "rate": "0.5", "day": "2000-02-29", "day_opt": "2000-02-29",
		"at": "2000-02-29 12:00:00.000", "at_s": "2000-02-29 12:00:00", "flag": true, "tags": []string{}, "uid": "6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e64", "@mention": "+44 20 7946 0958"},
	{"id": 8, "title": longTitle, "note": "1e5", "units": 2, "big": "3", "ubig": "5", "neg": -4,
		"ratio": math.Copysign(0, -1), "sale_currency": "GBP", "sale_price": "12.3456", "rate": "12.345", "day": "1969-12-31", "day_opt": "2026-01-01",
		"at": "1969-12-31 23:59:59.999", "at_s": "2026-01-01 00:00:00", "flag": false, "tags": []string{"\t"}, "uid": "6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e65", "@mention": "\u00a0=no"},
}

// dangerous are the fixture's texts a spreadsheet would run as a formula,
// labelled by hand: = + - @ tab or CR first, and not a plain number.
var dangerous = map[string]bool{
	`=HYPERLINK("http://example.com","click")`: true,
	"+1-2":                true,
	"@SUM(A1:A9)":         true,
	"\tTAB":               true,
	"\rCR":                true,
	"=1+1":                true,
	"@bob":                true,
	"-":                   true,
	"=cmd|' /C calc'!A0":  true,
	"+":                   true,
	"+44 20 7946 0958":    true,
	"@mention":            true, // a header
	"-12.5":               false,
	"-5":                  false,
	"-3":                  false,
	"1e5":                 false,
	"\u00a0=no":           false,
	"line one\nline two,": false,
}

// currencyOf pairs the decimal columns of the sheets below with the column
// of their currency.
var currencyOf = map[string]string{
	"sale_price": "sale_currency", "tiktok_gmv": "tiktok_currency", "tiktok_video_gmv": "tiktok_currency",
	"amazon_sales": "amazon_currency",
}

// currencyFormats are the number formats a person expects per currency:
// its symbol and its minor units.
var wantCurrencyFormat = map[string]string{
	"USD": "[$$]#,##0.00", "EUR": "[$€]#,##0.00", "GBP": "[$£]#,##0.00", "JPY": "[$¥]#,##0", "KWD": "[$KWD]#,##0.000",
}

func (w *world) loadFixture(t *testing.T) {
	t.Helper()
	w.exec(t, fixtureDDL)
	var body strings.Builder
	for _, r := range fixtureRows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	w.exec(t, "INSERT INTO fixture SETTINGS input_format_json_read_numbers_as_strings = 1 FORMAT JSONEachRow\n"+body.String())
}

// loadProductDaily fills product_daily (the real table of the migrations)
// with two versions of some rows: FINAL must show the later one.
func (w *world) loadProductDaily(t *testing.T) {
	t.Helper()
	w.exec(t, `INSERT INTO product_daily (event_id, source, entity, op, version, product_key, date, date_time_zone,
		tiktok_views, tiktok_watch_time_seconds, tiktok_currency, tiktok_gmv, tiktok_video_gmv, amazon_currency, amazon_sales, amazon_units,
		amazon_best_sellers_rank_best, amazon_search_period_start, `+"`amazon_search_term_ranks.search_term`"+`, _key, _partition, _offset)
		SELECT 'e' || toString(number), 'transform', 'product_daily', 'snapshot', 1,
			['gtin:00012345678905', 'gtin:00012345678912', 'amazon:ATVPDKIKX0DER:B0C1234567', 'tiktok:7495001:1729384756'][number % 4 + 1],
			toDate32('2026-09-28') + intDiv(number, 4), 'UTC',
			if(number % 5 = 0, NULL, number * 100), number * 1.25, if(number % 3 = 0, 'USD', 'JPY'), number * 12.3456, number * 0.5,
			if(number % 7 = 0, NULL, 'USD'), number * 3.3333, number % 11, if(number % 2 = 0, NULL, 1000 - number),
			if(number % 2 = 0, NULL, toDate32('2026-09-27')), if(number % 3 = 0, ['serum', '=bad'], []), toString(number), 0, number
		FROM numbers(160)`,
		// A later version of product 1 on 2026-10-05 (row 7*4+1 = 29).
		`INSERT INTO product_daily (event_id, source, entity, op, version, product_key, date, date_time_zone, tiktok_views, amazon_currency, amazon_sales, _key, _partition, _offset)
		VALUES ('later', 'transform', 'product_daily', 'snapshot', 2, 'gtin:00012345678912', '2026-10-05', 'UTC', 999999, 'EUR', -5.5, 'k', 0, 1000)`)
}

// productDailyColumns are product_daily's columns less the pipeline's
// bookkeeping, written out here rather than derived.
const productDailyOracle = `SELECT * EXCEPT (event_id, source, entity, op, source_ts, ingest_ts, version, _key, _partition, _offset, is_deleted)
	FROM product_daily FINAL WHERE date >= {from:Date32} AND date <= {to:Date32} AND product_key IN {products:Array(String)}
	ORDER BY product_key, date`

// dailySheet is the product_daily sheet of products from 2026-10-01 to
// 2026-10-10, and the oracle of its rows. productsSQL is the same products as
// a ClickHouse array literal, written by hand so that the oracle does not
// share the exporter's quoting.
func (w *world) dailySheet(t *testing.T, productsSQL string, products ...string) (Sheet, result) {
	t.Helper()
	const from, to = "2026-10-01", "2026-10-10"
	s, err := TableSheet(context.Background(), w.conn, Table{Name: "product_daily", From: from, To: to, Products: products})
	if err != nil {
		t.Fatal(err)
	}
	return s, w.sql(t, productDailyOracle, map[string]string{"from": from, "to": to, "products": productsSQL})
}

// TestXLSXReadBack exports a workbook of three sheets (every awkward value
// type, the real product_daily table filtered by dates and products, a
// parameterised query) and reads it back with openpyxl: every cell equals
// SQL over the same data, typed, formatted, and never a formula.
func TestXLSXReadBack(t *testing.T) {
	w := newWorld(t)
	w.loadFixture(t)
	w.loadProductDaily(t)
	ctx := context.Background()

	daily, dailyOracle := w.dailySheet(t, `['gtin:00012345678912','tiktok:7495001:1729384756','it\'s \\ odd']`,
		"gtin:00012345678912", "tiktok:7495001:1729384756", "it's \\ odd")
	daily.Name = "Продажи 10月 / daily"
	query := `SELECT product_key, count() AS days, sum(amazon_units) AS units, sum(amazon_sales) AS amazon_sales, any(amazon_currency) AS amazon_currency
		FROM product_daily FINAL WHERE date BETWEEN {from:Date} AND {to:Date} AND product_key IN {keys:Array(String)}
		GROUP BY product_key ORDER BY product_key`
	params := map[string]string{"from": "2026-09-28", "to": "2026-10-31", "keys": ListParam("Array(String)", []string{"gtin:00012345678905", "gtin:00012345678912"})}
	sheets := []Sheet{
		{Name: "Fixture", Query: "SELECT * FROM fixture ORDER BY id"},
		daily,
		{Name: "Units per product", Query: query, Params: params},
	}
	path := filepath.Join(t.TempDir(), "book.xlsx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := WriteXLSX(ctx, f, w.conn, sheets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if stats.Sheets[0].Truncated != 1 {
		t.Errorf("truncated cells: %d, want 1 (the long title)", stats.Sheets[0].Truncated)
	}
	book := readXLSX(t, path)
	names := []string{"Fixture", "Продажи 10月 _ daily", "Units per product"}
	if len(book.Sheets) != len(names) {
		t.Fatalf("sheets %d, want %d", len(book.Sheets), len(names))
	}
	oracles := []result{
		w.sql(t, "SELECT * FROM fixture ORDER BY id", nil),
		dailyOracle,
		w.sql(t, query, params),
	}
	for i, sh := range book.Sheets {
		if sh.Name != names[i] {
			t.Errorf("sheet %d is %q, want %q", i, sh.Name, names[i])
		}
		checkXLSXSheet(t, sh, oracles[i])
	}
	if len(oracles[1].rows) != 20 || len(oracles[2].rows) != 2 {
		t.Fatalf("oracle rows %d and %d: the data is not what the test means", len(oracles[1].rows), len(oracles[2].rows))
	}
	// FINAL: the later version of gtin:00012345678912 on 2026-10-05 is the one exported.
	if !containsRow(book.Sheets[1], "gtin:00012345678912", "999999") {
		t.Errorf("product_daily sheet lacks the later version of a row (read without FINAL?)")
	}
}

// TestCSVReadBack writes the fixture and the filtered product_daily as CSV
// and reads them back with Python's csv module: every field equals SQL
// over the same data; formula-like text carries a leading apostrophe;
// records end in CRLF.
func TestCSVReadBack(t *testing.T) {
	w := newWorld(t)
	w.loadFixture(t)
	w.loadProductDaily(t)
	ctx := context.Background()
	daily, dailyOracle := w.dailySheet(t, `['gtin:00012345678912','tiktok:7495001:1729384756']`,
		"gtin:00012345678912", "tiktok:7495001:1729384756")
	for _, tc := range []struct {
		sheet  Sheet
		oracle result
		bom    bool
	}{
		{Sheet{Query: "SELECT * FROM fixture ORDER BY id"}, w.sql(t, "SELECT * FROM fixture ORDER BY id", nil), false},
		{daily, dailyOracle, true},
	} {
		path := filepath.Join(t.TempDir(), "out.csv")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		st, err := WriteCSV(ctx, f, w.conn, tc.sheet, Options{BOM: tc.bom})
		if err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		if st.Rows != int64(len(tc.oracle.rows)) {
			t.Errorf("stats say %d rows, the query has %d", st.Rows, len(tc.oracle.rows))
		}
		raw, _ := os.ReadFile(path)
		if tc.bom != strings.HasPrefix(string(raw), "\uFEFF") {
			t.Errorf("BOM %v, file starts %q", tc.bom, raw[:3])
		}
		if n := strings.Count(string(raw), "\n"); n < len(tc.oracle.rows)+1 || strings.Count(string(raw), "\r\n") < len(tc.oracle.rows)+1 {
			t.Errorf("records do not end in CRLF")
		}
		checkCSV(t, readCSV(t, path), tc.oracle)
	}
}

func containsRow(sh xlsxSheet, key, views string) bool {
	for _, r := range sh.Rows[1:] {
		if r[0].V == key && fmt.Sprint(r[3].V) == views {
			return true
		}
	}
	return false
}

// checkXLSXSheet compares a sheet read by openpyxl with the oracle.
func checkXLSXSheet(t *testing.T, sh xlsxSheet, want result) {
	t.Helper()
	if got := len(sh.Rows); got != len(want.rows)+1 {
		t.Fatalf("sheet %q: %d rows, want a header and %d", sh.Name, got, len(want.rows))
	}
	if sh.Freeze == nil || *sh.Freeze != "A2" {
		t.Errorf("sheet %q: frozen panes %v, want the header row (A2)", sh.Name, sh.Freeze)
	}
	last := columnName(len(want.names)) + strconv.Itoa(len(want.rows)+1)
	if sh.Filter == nil || strings.ReplaceAll(*sh.Filter, "$", "") != "A1:"+last {
		t.Errorf("sheet %q: autofilter %v, want A1:%s", sh.Name, sh.Filter, last)
	}
	for i, name := range want.names {
		h := sh.Rows[0][i]
		if h.V != name || h.DT != "s" {
			t.Errorf("sheet %q header %d: %+v, want %q", sh.Name, i, h, name)
		}
		if !sh.HeaderBold[i] {
			t.Errorf("sheet %q header %q is not bold", sh.Name, name)
		}
		width := sh.Widths[columnName(i+1)]
		if width < 8 || width > 61 {
			t.Errorf("sheet %q column %q width %v, want 8..60", sh.Name, name, width)
		}
	}
	currencyCol := map[string]int{}
	for i, n := range want.names {
		currencyCol[n] = i
	}
	for r, row := range want.rows {
		for c, v := range row {
			got := sh.Rows[r+1][c]
			where := fmt.Sprintf("sheet %q row %d column %q", sh.Name, r+1, want.names[c])
			code := ""
			if cur, ok := currencyOf[want.names[c]]; ok {
				if s, ok := row[currencyCol[cur]].(string); ok {
					code = strings.ToUpper(s)
				}
			}
			checkXLSXCell(t, where, want.types[c], v, got, code)
		}
	}
}

func checkXLSXCell(t *testing.T, where, typ string, want any, got xlsxCell, currency string) {
	t.Helper()
	if got.DT == "f" {
		t.Errorf("%s: a formula cell: %+v", where, got)
		return
	}
	if want == nil {
		if got.T != "null" {
			t.Errorf("%s: %+v, want an empty cell (NULL)", where, got)
		}
		return
	}
	base := unwrap(typ)
	switch {
	case strings.HasPrefix(base, "Int") || strings.HasPrefix(base, "UInt"):
		n, ok := new(big.Int).SetString(fmt.Sprint(want), 10)
		if !ok {
			t.Fatalf("%s: oracle integer %v", where, want)
		}
		limit := big.NewInt(1 << 53)
		if new(big.Int).Abs(n).Cmp(limit) <= 0 {
			if got.T != "int" || got.V != n.String() {
				t.Errorf("%s: %+v, want the number %s", where, got, n)
			}
		} else if got.T != "str" || got.V != n.String() {
			t.Errorf("%s: %+v, want the text %s (past 2^53 a number is not exact)", where, got, n)
		}
	case strings.HasPrefix(base, "Float"):
		s := fmt.Sprint(want)
		if s == "nan" || s == "inf" || s == "-inf" || s == "+inf" {
			if got.T != "str" || strings.TrimPrefix(fmt.Sprint(got.V), "+") != strings.TrimPrefix(s, "+") {
				t.Errorf("%s: %+v, want the text %s", where, got, s)
			}
			return
		}
		checkNumber(t, where, s, got)
	case strings.HasPrefix(base, "Decimal"):
		checkNumber(t, where, fmt.Sprint(want), got)
		scale, _ := strconv.Atoi(strings.TrimSpace(base[strings.LastIndex(base, ",")+1 : len(base)-1]))
		wantFmt := wantCurrencyFormat[currency]
		if wantFmt == "" {
			wantFmt = "#,##0." + strings.Repeat("0", scale)
		}
		if got.Fmt != wantFmt {
			t.Errorf("%s: number format %q, want %q (currency %q)", where, got.Fmt, wantFmt, currency)
		}
	case base == "Date" || base == "Date32":
		if got.T != "datetime" || got.V != fmt.Sprint(want)+" 00:00:00" || got.Fmt != "yyyy-mm-dd" {
			t.Errorf("%s: %+v, want the date %v", where, got, want)
		}
	case strings.HasPrefix(base, "DateTime"):
		layout, wantFmt := time.DateTime, "yyyy-mm-dd hh:mm:ss"
		if strings.HasPrefix(base, "DateTime64") {
			layout, wantFmt = time.DateTime+".000", wantFmt+".000"
		}
		wt, err := time.Parse(layout, fmt.Sprint(want))
		if err != nil {
			t.Fatalf("%s: oracle time %v: %v", where, want, err)
		}
		gt, err := time.Parse("2006-01-02 15:04:05.999999", fmt.Sprint(got.V))
		if got.T != "datetime" || err != nil || !gt.Equal(wt) || got.Fmt != wantFmt {
			t.Errorf("%s: %+v, want the time %v formatted %q", where, got, want, wantFmt)
		}
	case base == "Bool":
		if got.T != "bool" || got.V != want {
			t.Errorf("%s: %+v, want %v", where, got, want)
		}
	case strings.HasPrefix(base, "Array"):
		if got.T != "str" || !sameJSON(fmt.Sprint(got.V), want, base) {
			t.Errorf("%s: %+v, want JSON of %v", where, got, want)
		}
	default: // text
		s := fmt.Sprint(want)
		if len([]rune(s)) > 32767 {
			s = string([]rune(s)[:32767])
		}
		if s == "" {
			// An empty text is an empty cell to a reader.
			if got.T != "null" && got.V != "" {
				t.Errorf("%s: %+v, want empty", where, got)
			}
			return
		}
		if got.T != "str" || got.V != s {
			t.Errorf("%s: %+v, want the text %q", where, got, clip(s))
		}
		if dangerous[s] && got.Fmt != "@" {
			t.Errorf("%s: formula-like text %q has number format %q, want Text (@)", where, s, got.Fmt)
		}
	}
}

// checkNumber checks a numeric cell against the oracle's exact text, to
// the 15 significant digits a spreadsheet keeps.
func checkNumber(t *testing.T, where, want string, got xlsxCell) {
	t.Helper()
	w, err := strconv.ParseFloat(want, 64)
	if err != nil {
		t.Fatalf("%s: oracle number %q", where, want)
	}
	if got.T != "float" && got.T != "int" {
		t.Errorf("%s: %+v, want the number %s", where, got, want)
		return
	}
	g, err := strconv.ParseFloat(fmt.Sprint(got.V), 64)
	if err != nil || math.Abs(g-w) > 1e-14*math.Max(1, math.Abs(w)) {
		t.Errorf("%s: %v, want %s", where, got.V, want)
	}
}

// checkCSV compares CSV records read by Python with the oracle.
func checkCSV(t *testing.T, records [][]string, want result) {
	t.Helper()
	if len(records) != len(want.rows)+1 {
		t.Fatalf("%d records, want a header and %d", len(records), len(want.rows))
	}
	for i, name := range want.names {
		if dangerous[name] {
			name = "'" + name
		}
		if records[0][i] != name {
			t.Errorf("header %d: %q, want %q", i, records[0][i], name)
		}
	}
	for r, row := range want.rows {
		if len(records[r+1]) != len(want.names) {
			t.Fatalf("record %d has %d fields, want %d", r+1, len(records[r+1]), len(want.names))
		}
		for c, v := range row {
			got := records[r+1][c]
			where := fmt.Sprintf("record %d column %q", r+1, want.names[c])
			typ := unwrap(want.types[c])
			switch {
			case v == nil:
				if got != "" {
					t.Errorf("%s: %q, want empty (NULL)", where, got)
				}
			case strings.HasPrefix(typ, "Float"):
				if !sameFloatText(got, fmt.Sprint(v)) {
					t.Errorf("%s: %q, want %v", where, got, v)
				}
			case strings.HasPrefix(typ, "Decimal"):
				g, ok1 := new(big.Rat).SetString(got)
				w, ok2 := new(big.Rat).SetString(fmt.Sprint(v))
				if !ok1 || !ok2 || g.Cmp(w) != 0 {
					t.Errorf("%s: %q, want %v exactly", where, got, v)
				}
			case strings.HasPrefix(typ, "Array"):
				if !sameJSON(got, v, typ) {
					t.Errorf("%s: %q, want JSON of %v", where, got, v)
				}
			case strings.HasPrefix(typ, "Int"), strings.HasPrefix(typ, "UInt"), strings.HasPrefix(typ, "Date"), typ == "Bool":
				if got != fmt.Sprint(v) {
					t.Errorf("%s: %q, want %v", where, got, v)
				}
			default:
				s := fmt.Sprint(v)
				if dangerous[s] {
					s = "'" + s
				}
				if got != s {
					t.Errorf("%s: %q, want %q", where, clip(got), clip(s))
				}
			}
		}
	}
}

// unwrap strips LowCardinality(...) and Nullable(...) off a type name.
func unwrap(typ string) string {
	for _, w := range []string{"LowCardinality(", "Nullable("} {
		if strings.HasPrefix(typ, w) && strings.HasSuffix(typ, ")") {
			typ = typ[len(w) : len(typ)-1]
		}
	}
	return typ
}

func sameFloatText(got, want string) bool {
	if want == "nan" || want == "inf" || want == "-inf" {
		return got == want
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	return err1 == nil && err2 == nil && g == w
}

// sameJSON compares JSON text with an array the oracle decoded. The oracle
// quotes 64-bit integers (as asked, for exactness), so in arrays of them
// numbers compare as their text.
func sameJSON(text string, want any, typ string) bool {
	decode := func(b []byte) any {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		return v
	}
	g := decode([]byte(text))
	w, _ := json.Marshal(want)
	wv := decode(w)
	if strings.Contains(typ, "Int64") {
		g, wv = numbersAsText(g), numbersAsText(wv)
	}
	return reflect.DeepEqual(g, wv)
}

func numbersAsText(v any) any {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case []any:
		for i := range x {
			x[i] = numbersAsText(x[i])
		}
	}
	return v
}

func columnName(n int) string {
	s := ""
	for n > 0 {
		n--
		s = string(rune('A'+n%26)) + s
		n /= 26
	}
	return s
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// TestOtherTypes: what has no cell type of its own is text a person (and
// a JSON parser) reads: arrays of small integers as numbers rather than
// base64, UUIDs and IPs as they are written, map keys as text, FixedString
// without its NUL padding, 128-bit integers in full.
func TestOtherTypes(t *testing.T) {
	w := newWorld(t)
	query := `SELECT map('a', 1) AS m, tuple(1, 'x', toDecimal32(1.25, 2)) AS t, [[1, 2], [3]] AS aa,
		[toUUID('6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e6f')] AS au, [toIPv4('1.2.3.4')] AS aip, toFixedString('ab', 3) AS fs,
		[nan, 1.5] AS af, [toDateTime64('2026-01-01 00:00:00.123', 3, 'UTC')] AS adt, map(1, [2]) AS mi,
		toInt128('-170141183460469231731687303715884105728') AS i128, toUUID('6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e6f') AS u,
		toIPv6('::1') AS ip6, CAST('b' AS Enum8('a' = 1, 'b' = 2)) AS e, CAST(NULL AS Nullable(FixedString(2))) AS nfs`
	want := []string{`{"a":1}`, `[1,"x",1.25]`, `[[1,2],[3]]`, `["6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e6f"]`, `["1.2.3.4"]`, "ab",
		`["nan",1.5]`, `["2026-01-01T00:00:00.123Z"]`, `{"1":[2]}`, "-170141183460469231731687303715884105728",
		"6f1c0d0e-4f3b-4a7e-9d2b-1a2b3c4d5e6f", "::1", "b", ""}
	dir := t.TempDir()
	csvPath, xlsxPath := filepath.Join(dir, "t.csv"), filepath.Join(dir, "t.xlsx")
	for path, write := range map[string]func(f *os.File) error{
		csvPath: func(f *os.File) error {
			_, err := WriteCSV(context.Background(), f, w.conn, Sheet{Query: query}, Options{})
			return err
		},
		xlsxPath: func(f *os.File) error {
			_, err := WriteXLSX(context.Background(), f, w.conn, []Sheet{{Query: query}}, Options{})
			return err
		},
	} {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := write(f); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	recs := readCSV(t, csvPath)
	if len(recs) != 2 || !reflect.DeepEqual(recs[1], want) {
		t.Errorf("CSV %q\nwant %q", recs, want)
	}
	row := readXLSX(t, xlsxPath).Sheets[0].Rows[1]
	for i, c := range row {
		if wantV := want[i]; (wantV == "" && c.T != "null") || (wantV != "" && (c.T != "str" || c.V != wantV)) {
			t.Errorf("XLSX column %d: %+v, want the text %q", i, c, wantV)
		}
	}
}
