package export

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

func TestFormulaLike(t *testing.T) {
	for s, want := range map[string]bool{
		"=1+1": true, "=HYPERLINK(\"x\")": true, "+1-2": true, "-1+2": true, "@SUM(A1)": true,
		"\tx": true, "\rx": true, "-": true, "+": true, "=": true, "-cmd|' /C calc'!A0": true, "+44 20 7946 0958": true,
		// Plain numbers are harmless, and what does not start with a trigger.
		"-12.5": false, "+3": false, "-0": false, "-.5": false, "-1e-3": false, "1e5": false,
		"": false, "a=b": false, " =1": false, "\u00a0=1": false, "＝1": false, "\n=1": false,
	} {
		if got := formulaLike(s); got != want {
			t.Errorf("formulaLike(%q) = %v, want %v", s, got, want)
		}
	}
	if got := csvSafe("=1+1"); got != "'=1+1" {
		t.Errorf("csvSafe: %q", got)
	}
	if got := csvSafe("-12.5"); got != "-12.5" {
		t.Errorf("csvSafe of a number: %q", got)
	}
}

func TestWriteRecord(t *testing.T) {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	if err := writeRecord(w, []string{"a", "", "b,c", `say "hi"`, "line\nbreak", "cr\ronly", " pad", "x"}); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	want := "a,,\"b,c\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\ronly\",\" pad\",x\r\n"
	if b.String() != want {
		t.Errorf("record %q\nwant   %q", b.String(), want)
	}
}

func TestPlaceholders(t *testing.T) {
	q := `SELECT '{not:String}', "{nor:String}", ` + "`{nor_this:UInt8}`" + ` -- {comment:Date}
		/* {block:Date} */ {from : Date}, {keys:Array(String)}, {at:DateTime64(3, 'UTC')}, {x}, {1bad:Int8}
		FROM t WHERE s = 'it''s {quoted:String}' AND y = {from:Date}`
	got := Placeholders(q)
	want := map[string]string{"from": "Date", "keys": "Array(String)", "at": "DateTime64(3, 'UTC')"}
	if !maps.Equal(got, want) {
		t.Errorf("Placeholders = %v, want %v", got, want)
	}
}

func TestListParam(t *testing.T) {
	for _, tc := range []struct {
		typ   string
		items []string
		want  string
	}{
		{"Array(String)", []string{"a", "it's", `back\slash`}, `['a','it\'s','back\\slash']`},
		{"Array(LowCardinality(String))", []string{"x"}, `['x']`},
		{"Array(UInt64)", []string{"1", " 2"}, `[1,2]`},
		{"Array(Date)", []string{"2026-10-01"}, `['2026-10-01']`},
		{"Array(String)", nil, `[]`},
	} {
		if got := ListParam(tc.typ, tc.items); got != tc.want {
			t.Errorf("ListParam(%s, %q) = %s, want %s", tc.typ, tc.items, got, tc.want)
		}
	}
}

func TestCheckParams(t *testing.T) {
	err := checkParams(Sheet{Name: "s", Query: "SELECT {a:UInt8}, {b:String}", Params: map[string]string{"a": "1", "c": "x"}})
	if err == nil || !strings.Contains(err.Error(), "no value for parameter b") || !strings.Contains(err.Error(), "parameter c is not in the query") {
		t.Errorf("checkParams: %v", err)
	}
	if err := checkParams(Sheet{Query: "SELECT {a:UInt8}", Params: map[string]string{"a": "1"}}); err != nil {
		t.Error(err)
	}
}

func TestKindOf(t *testing.T) {
	for typ, want := range map[string]struct {
		k     kind
		scale int
	}{
		"Int64": {kindInt, 0}, "Nullable(UInt32)": {kindUint, 0}, "LowCardinality(Nullable(String))": {kindText, 0},
		"Decimal(18, 4)": {kindDecimal, 4}, "Nullable(Decimal(38, 10))": {kindDecimal, 10}, "Decimal64(2)": {kindDecimal, 2},
		"Date32": {kindDate, 0}, "DateTime('UTC')": {kindDateTime, 0}, "DateTime64(3, 'UTC')": {kindDateTime, 3},
		"Nullable(DateTime64(6))": {kindDateTime, 6}, "Float64": {kindFloat, 0}, "Bool": {kindBool, 0}, "UUID": {kindText, 0},
		"Enum8('a' = 1)": {kindText, 0}, "FixedString(3)": {kindText, 0}, "Int128": {kindBig, 0},
		"Array(String)": {kindJSON, 0}, "Map(String, UInt8)": {kindJSON, 0}, "Tuple(a UInt8)": {kindJSON, 0},
		"SimpleAggregateFunction(sum, UInt64)": {kindUint, 0},
	} {
		k, s := kindOf(typ)
		if k != want.k || s != want.scale {
			t.Errorf("kindOf(%s) = %v %d, want %v %d", typ, k, s, want.k, want.scale)
		}
	}
}

func TestPairCurrencies(t *testing.T) {
	cols := []column{
		{name: "tiktok_currency", kind: kindText}, {name: "tiktok_gmv", kind: kindDecimal}, {name: "tiktok_video_gmv", kind: kindDecimal},
		{name: "amazon_currency", kind: kindText}, {name: "amazon_sales", kind: kindDecimal}, {name: "rate", kind: kindDecimal},
		{name: "currency", kind: kindText},
	}
	pairCurrencies(cols)
	got := map[string]int{}
	for _, c := range cols {
		if c.kind == kindDecimal {
			got[c.name] = c.currency
		}
	}
	want := map[string]int{"tiktok_gmv": 0, "tiktok_video_gmv": 0, "amazon_sales": 3, "rate": 6}
	if !maps.Equal(got, want) {
		t.Errorf("pairs %v, want %v", got, want)
	}
	solo := []column{{name: "price", kind: kindDecimal}, {name: "amazon_currency", kind: kindText}}
	pairCurrencies(solo)
	if solo[0].currency != -1 {
		t.Errorf("price paired with %d, want none", solo[0].currency)
	}
}

func TestCurrencyFormat(t *testing.T) {
	for code, want := range map[string]string{
		"USD": "[$$]#,##0.00", "EUR": "[$€]#,##0.00", "GBP": "[$£]#,##0.00", "JPY": "[$¥]#,##0",
		"KWD": "[$KWD]#,##0.000", "CAD": "[$CA$]#,##0.00", "usd": "[$$]#,##0.00",
	} {
		if got, ok := currencyFormat(code); !ok || got != want {
			t.Errorf("currencyFormat(%s) = %q %v, want %q", code, got, ok, want)
		}
	}
	for _, bad := range []string{"", "XYZ", "dollars", "US"} {
		if f, ok := currencyFormat(bad); ok {
			t.Errorf("currencyFormat(%q) = %q, want none", bad, f)
		}
	}
}

func TestSheetName(t *testing.T) {
	b := newBook(t.TempDir(), Options{})
	defer b.f.Close()
	got := []string{
		b.sheetName("product_daily"), b.sheetName("PRODUCT_DAILY"), b.sheetName("a/b:c?d*e[f]g\\h"),
		b.sheetName("'quoted'"), b.sheetName(""), b.sheetName(strings.Repeat("長", 40)), b.sheetName(strings.Repeat("長", 40)),
		b.sheetName("Продажи"),
	}
	want := []string{
		"product_daily", "PRODUCT_DAILY (2)", "a_b_c_d_e_f_g_h", "quoted", "Sheet",
		strings.Repeat("長", 31), strings.Repeat("長", 27) + " (2)", "Продажи",
	}
	if !slices.Equal(got, want) {
		t.Errorf("sheet names\n%q\nwant\n%q", got, want)
	}
}

func TestFloatText(t *testing.T) {
	for f, want := range map[float64]string{0.1: "0.1", -2.5: "-2.5", 1e300: "1e+300", 1.5e-7: "1.5e-07", 123456789: "123456789", 0: "0"} {
		if got := floatText(f); got != want {
			t.Errorf("floatText(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestUnwrapDateTime64(t *testing.T) {
	want := time.Date(2299, 12, 31, 23, 59, 59, 0, time.UTC)
	// What ch-go hands back for it: the nanoseconds since 1970 wrapped
	// around int64.
	wrapped := time.Unix(0, want.Unix()*1e9) // int64 multiplication wraps
	if !wrapped.Before(minDateTime64) {
		t.Fatalf("the wrapped time %v is not before 1900: the case does not arise", wrapped)
	}
	got := unwrapDateTime64(func() any { return wrapped })()
	if !got.(time.Time).Equal(want) {
		t.Errorf("unwrapped %v, want %v", got, want)
	}
	inRange := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if got := unwrapDateTime64(func() any { return inRange })(); !got.(time.Time).Equal(inRange) {
		t.Errorf("an ordinary time changed: %v", got)
	}
}

// readonlyQuerier answers like a server to a user with readonly = 1: it
// refuses queries that change a setting.
type readonlyQuerier struct{ calls int }

var errSecond = errors.New("second call")

func (q *readonlyQuerier) Query(context.Context, string, ...any) (driver.Rows, error) {
	q.calls++
	if q.calls == 1 {
		return nil, errors.New("code: 164, message: Cannot modify 'max_block_size' setting in readonly mode")
	}
	return nil, errSecond
}

func TestOpenRetriesWithoutSettingsForReadonlyUsers(t *testing.T) {
	q := &readonlyQuerier{}
	_, err := open(context.Background(), q, Sheet{Query: "SELECT 1"})
	if !errors.Is(err, errSecond) || q.calls != 2 {
		t.Errorf("calls %d, error %v: want a second try without the setting", q.calls, err)
	}
}
