package export

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

// kind is how a column's values are written: the cell type of XLSX and the
// text form of CSV follow from it.
type kind int

const (
	kindText     kind = iota // String, FixedString, Enum, UUID, IPs: text
	kindInt                  // Int8..Int64: a number
	kindUint                 // UInt8..UInt64: a number
	kindFloat                // Float32, Float64, BFloat16: a number
	kindDecimal              // Decimal(P, S): a number with S decimals (money: the currency's format)
	kindDate                 // Date, Date32: a date
	kindDateTime             // DateTime, DateTime64(p): a date and time (p fractional digits)
	kindBool                 // Bool: TRUE/FALSE
	kindBig                  // Int128, UInt256, ...: text, as Excel cannot hold them exactly
	kindJSON                 // Array, Map, Tuple, JSON, ...: JSON text
)

// column is one column of a result, as the writers need it.
type column struct {
	name   string
	dbType string // ClickHouse type as the server names it
	kind   kind
	// scale is a Decimal's S or a DateTime64's precision.
	scale int
	// currency is the index of the column holding this decimal's currency
	// (ISO 4217 code), or -1.
	currency int
	// read returns the current row's value after a Scan: nil (NULL),
	// int64, uint64, float64, decimal.Decimal, time.Time, bool or string.
	read func() any
}

var (
	decimalType    = regexp.MustCompile(`^Decimal(?:32|64|128|256)?\((?:\s*\d+\s*,)?\s*(\d+)\s*\)$`)
	dateTime64Type = regexp.MustCompile(`^DateTime64\(\s*(\d+)`)
)

// baseType strips the wrappers that do not change how a value is written.
func baseType(t string) string {
	for _, wrapper := range []string{"LowCardinality(", "Nullable(", "SimpleAggregateFunction("} {
		for strings.HasPrefix(t, wrapper) && strings.HasSuffix(t, ")") {
			t = t[len(wrapper) : len(t)-1]
			if wrapper == "SimpleAggregateFunction(" {
				// SimpleAggregateFunction(any, T): the type follows the function.
				if i := strings.IndexByte(t, ','); i >= 0 {
					t = strings.TrimSpace(t[i+1:])
				}
			}
		}
	}
	return t
}

// kindOf maps a ClickHouse type to how it is written, with its scale.
func kindOf(dbType string) (kind, int) {
	t := baseType(dbType)
	switch t {
	case "Int8", "Int16", "Int32", "Int64":
		return kindInt, 0
	case "UInt8", "UInt16", "UInt32", "UInt64":
		return kindUint, 0
	case "Int128", "Int256", "UInt128", "UInt256":
		return kindBig, 0
	case "Float32", "Float64", "BFloat16":
		return kindFloat, 0
	case "Date", "Date32":
		return kindDate, 0
	case "Bool":
		return kindBool, 0
	case "String", "UUID", "IPv4", "IPv6":
		return kindText, 0
	}
	if m := decimalType.FindStringSubmatch(t); m != nil {
		s, _ := strconv.Atoi(m[1])
		return kindDecimal, s
	}
	if m := dateTime64Type.FindStringSubmatch(t); m != nil {
		p, _ := strconv.Atoi(m[1])
		return kindDateTime, p
	}
	switch {
	case t == "DateTime" || strings.HasPrefix(t, "DateTime("):
		return kindDateTime, 0
	case strings.HasPrefix(t, "FixedString("), strings.HasPrefix(t, "Enum8("), strings.HasPrefix(t, "Enum16("):
		return kindText, 0
	}
	return kindJSON, 0
}

// rowReader scans a resultSet into typed values, one row at a time, reusing its
// scan destinations: memory does not grow with the rows read.
type rowReader struct {
	rows resultSet
	cols []column
	dest []any
	vals []any
}

func newRowReader(rows resultSet) *rowReader {
	types := rows.ColumnTypes()
	r := &rowReader{rows: rows, cols: make([]column, len(types)), dest: make([]any, len(types)), vals: make([]any, len(types))}
	for i, ct := range types {
		k, scale := kindOf(ct.DatabaseTypeName())
		dest := reflect.New(ct.ScanType()).Interface()
		r.dest[i] = dest
		read := readerOf(dest, k)
		if k == kindDateTime && scale > 0 {
			read = unwrapDateTime64(read)
		}
		if strings.HasPrefix(baseType(ct.DatabaseTypeName()), "FixedString(") {
			read = trimPadding(read)
		}
		r.cols[i] = column{name: ct.Name(), dbType: ct.DatabaseTypeName(), kind: k, scale: scale, currency: -1, read: read}
	}
	pairCurrencies(r.cols)
	return r
}

// close releases the result.
func (r *rowReader) close() {
	if r.rows != nil {
		_ = r.rows.Close()
	}
}

// next reads the next row into r.vals; false at the end (see err).
func (r *rowReader) next() (bool, error) {
	if r.rows == nil {
		return false, nil
	}
	if !r.rows.Next() {
		return false, r.rows.Err()
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		return false, fmt.Errorf("scan row: %w", err)
	}
	for i := range r.cols {
		r.vals[i] = r.cols[i].read()
	}
	return true, nil
}

// pairCurrencies gives each decimal column the column that holds its
// currency: a column named "currency" or "<prefix>currency" (text) applies
// to the decimals whose names start with <prefix>, the longest prefix
// winning (tiktok_currency for tiktok_gmv, amazon_currency for amazon_sales).
func pairCurrencies(cols []column) {
	for i := range cols {
		if cols[i].kind != kindDecimal {
			continue
		}
		best := -1
		for j := range cols {
			c := cols[j]
			if c.kind != kindText || !strings.HasSuffix(strings.ToLower(c.name), "currency") {
				continue
			}
			prefix := c.name[:len(c.name)-len("currency")]
			if strings.HasPrefix(cols[i].name, prefix) && (best < 0 || len(prefix) > len(cols[best].name)-len("currency")) {
				best = j
			}
		}
		cols[i].currency = best
	}
}

// readerOf returns the function that turns the scan destination dest (a
// *T, or a **T for a Nullable column) into one of the values the writers
// know.
func readerOf(dest any, k kind) func() any {
	v := reflect.ValueOf(dest).Elem()
	if v.Kind() != reflect.Pointer {
		return func() any { return convert(dest, k) }
	}
	return func() any {
		if v.IsNil() {
			return nil
		}
		return convert(v.Interface(), k)
	}
}

// convert reads the value p points to as int64, uint64, float64,
// decimal.Decimal, time.Time, bool or string.
func convert(p any, k kind) any {
	switch x := p.(type) {
	case *int8:
		return int64(*x)
	case *int16:
		return int64(*x)
	case *int32:
		return int64(*x)
	case *int64:
		return *x
	case *uint8:
		return uint64(*x)
	case *uint16:
		return uint64(*x)
	case *uint32:
		return uint64(*x)
	case *uint64:
		return *x
	case *float32:
		return float64(*x)
	case *float64:
		return *x
	case *decimal.Decimal:
		return *x
	case *time.Time:
		return *x
	case *string:
		return *x
	case *bool:
		return *x
	}
	// Anything else (UUID, IPs, big integers, arrays, maps, tuples) becomes
	// text: its own string form, or JSON for containers.
	return textOf(reflect.ValueOf(p).Elem().Interface(), k)
}

// trimPadding drops the NUL bytes a FixedString is padded with, which no
// spreadsheet shows (and XML cannot hold).
func trimPadding(read func() any) func() any {
	return func() any {
		if s, ok := read().(string); ok {
			return strings.TrimRight(s, "\x00")
		}
		return nil
	}
}

// minDateTime64 is the earliest time a DateTime64 holds.
var minDateTime64 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// unwrapDateTime64 corrects the DateTime64 values past 2262-04-11 that
// ch-go (under clickhouse-go) decodes through int64 nanoseconds, which wrap
// around by 2^64 ns to before 1900, where no DateTime64 can be: adding the
// 2^64 ns back gives the time the server sent (up to 2299-12-31).
func unwrapDateTime64(read func() any) func() any {
	return func() any {
		v := read()
		if t, ok := v.(time.Time); ok && t.Before(minDateTime64) {
			const half = time.Duration(math.MaxInt64) // 2^63 - 1 ns
			return t.Add(half).Add(half).Add(2)
		}
		return v
	}
}

// textOf renders a value with no cell type of its own.
func textOf(v any, k kind) string {
	if k != kindJSON {
		switch x := v.(type) {
		case big.Int:
			return x.String()
		case fmt.Stringer:
			return x.String()
		}
		return fmt.Sprint(v)
	}
	b, err := json.Marshal(jsonValue(reflect.ValueOf(v)))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonValue prepares a container for encoding/json: lists of UInt8 as
// numbers (not base64), map keys as text, values as the writers show them.
func jsonValue(v reflect.Value) any {
	if k := v.Kind(); (k == reflect.Array || k == reflect.Slice) && v.Type().Implements(stringer) {
		return v.Interface().(fmt.Stringer).String() // UUID, IPs
	}
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return jsonValue(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			out[fmt.Sprint(jsonValue(it.Key()))] = jsonValue(it.Value())
		}
		return out
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case decimal.Decimal:
		return json.Number(x.String())
	case big.Int:
		return json.Number(x.String())
	case float32, float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return floatText(f)
		}
		return f
	}
	return v.Interface()
}

var stringer = reflect.TypeFor[fmt.Stringer]()

// maxExactInt is the largest integer a spreadsheet cell (an IEEE double)
// holds exactly; larger integers are written as text.
const maxExactInt = 1 << 53

// floatText is a float as text: plain digits where a person reads them so,
// exponent notation far from 1, and ClickHouse's words for the values a
// spreadsheet has no number for.
func floatText(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// dateTimeLayout is the text form of a DateTime64(p) (p = 0: DateTime).
func dateTimeLayout(precision int) string {
	if precision <= 0 {
		return time.DateTime
	}
	return time.DateTime + "." + strings.Repeat("0", min(precision, 9))
}

// Compile-time check: clickhouse-go's rows are a resultSet.
var _ resultSet = driver.Rows(nil)
