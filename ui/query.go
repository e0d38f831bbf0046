package ui

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/shopstream/shopstream/export"
)

// Querier runs read queries; server-side parameters travel in ctx
// (clickhouse.Context). clickhouse-go's driver.Conn is one.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// schema is what the warehouse holds: each table's columns.
type schema map[string][]string

// readSchema reads the columns of tables: the dbt models (modelTables)
// in the database models (empty: the current one), the others in the
// current database.
func readSchema(ctx context.Context, q Querier, tables []string, models string) (schema, error) {
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"tables": arrayParam(tables), "model_tables": arrayParam(modelTables), "models": models}))
	rows, err := q.Query(ctx, `SELECT table, name FROM system.columns WHERE table IN {tables:Array(String)}
    AND database = if(table IN {model_tables:Array(String)} AND {models:String} != '', {models:String}, currentDatabase())`)
	if err != nil {
		return nil, fmt.Errorf("read the warehouse's tables: %w", err)
	}
	defer rows.Close()
	s := schema{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			return nil, fmt.Errorf("read the warehouse's tables: %w", err)
		}
		s[table] = append(s[table], col)
	}
	return s, rows.Err()
}

// arrayParam is a server-side parameter value of type Array(String).
func arrayParam(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	return "[" + strings.Join(quoted, ",") + "]"
}

// missing are the tables d needs that s lacks.
func (s schema) missing(d *dataset) []string {
	var out []string
	for _, t := range d.requires {
		if _, ok := s[t]; !ok {
			out = append(out, t)
		}
	}
	return out
}

// tables are every table the datasets name.
func (d *dataset) tables() []string {
	out := slices.Clone(d.requires)
	for _, c := range d.optional {
		out = append(out, c.table)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var optionalMarker = regexp.MustCompile(`\[\[([a-z0-9_]+)\]\]`)

// modelTables are the tables dbt builds; a dataset's SQL names them
// after modelsMarker, which statement replaces with their database.
var modelTables = []string{"halo_ranking", "product_halo", "halo_by_lag"}

const modelsMarker = "$models."

// statement is d's SQL for a warehouse with schema s and the dbt models
// in the database models (empty: the current one): each optional column
// the column itself where its table has it, else its fallback.
func (d *dataset) statement(s schema, models string) string {
	sql := d.sql
	if models != "" {
		sql = strings.ReplaceAll(sql, modelsMarker, export.QuoteIdent(models)+".")
	}
	sql = strings.ReplaceAll(sql, modelsMarker, "")
	return optionalMarker.ReplaceAllStringFunc(sql, func(m string) string {
		name := m[2 : len(m)-2]
		c := d.optional[name]
		if slices.Contains(s[c.table], name) {
			return name
		}
		return c.fallback
	})
}

// column is a result column as the page gets it.
type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// result is a dataset's answer to the page.
type result struct {
	Columns []column `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Truncated: the page's row bound cut the rows (a download has all).
	Truncated bool `json:"truncated,omitempty"`
	// Missing tables the dataset needs, and what to run to get them.
	Missing []string `json:"missing,omitempty"`
	Hint    string   `json:"hint,omitempty"`
}

// paramEscaper escapes a parameter value the way the server reads it
// (TSV-escaped text): unescaped, a backslash in a search would change what
// it means, and a tab or line break would end the value.
var paramEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)

// serverParams are params as the server's query parameters.
func serverParams(params map[string]string) clickhouse.Parameters {
	out := make(clickhouse.Parameters, len(params))
	for k, v := range params {
		out[k] = paramEscaper.Replace(v)
	}
	return out
}

// readResult runs sql with params and reads at most maxRows rows into
// JSON-ready values.
func readResult(ctx context.Context, q Querier, sql string, params map[string]string, maxRows int) (result, error) {
	ctx, cancel := withoutDeadline(ctx)
	defer cancel()
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(serverParams(params)))
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return result{}, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	res := result{Columns: make([]column, len(types)), Rows: [][]any{}}
	dest := make([]any, len(types))
	for i, ct := range types {
		res.Columns[i] = column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	for rows.Next() {
		if len(res.Rows) == maxRows {
			res.Truncated = true
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return result{}, err
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = jsonValue(reflect.ValueOf(d).Elem(), res.Columns[i].Type)
		}
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}

// jsonValue is v as the page reads it: NULL null, decimals as exact
// strings, dates as YYYY-MM-DD, instants in RFC 3339, NaN and infinities
// null, the rest as encoding/json writes it.
func jsonValue(v reflect.Value, typ string) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		if isDateType(typ) {
			return x.Format(dateLayout)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case decimal.Decimal:
		return x.String()
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case float32:
		return jsonValue(reflect.ValueOf(float64(x)), typ)
	case int64:
		if x > 1<<53 || x < -(1<<53) {
			return strconv.FormatInt(x, 10)
		}
		return x
	case uint64:
		if x > 1<<53 {
			return strconv.FormatUint(x, 10)
		}
		return x
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i), elementType(typ))
		}
		return out
	}
	return v.Interface()
}

// isDateType: Date, Date32 and their Nullable forms, not DateTime.
func isDateType(typ string) bool {
	typ = strings.TrimSuffix(strings.TrimPrefix(typ, "Nullable("), ")")
	return typ == "Date" || typ == "Date32"
}

func elementType(typ string) string {
	return strings.TrimSuffix(strings.TrimPrefix(typ, "Array("), ")")
}
