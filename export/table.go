package export

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Table is a table or view (a dbt model) to export, with the filters a
// person asks of one.
type Table struct {
	// Database holds it; empty: the connection's database.
	Database string
	Name     string
	// From and To (YYYY-MM-DD, both included, either may be empty) keep
	// the rows whose DateColumn falls between them.
	From, To string
	// DateColumn is the column From and To apply to; default "date".
	DateColumn string
	// Products, if any, keep the rows whose product_key is one of them.
	Products []string
	// AllColumns keeps the pipeline's bookkeeping columns (change metadata
	// and Kafka coordinates), which are left out by default.
	AllColumns bool
}

// bookkeeping are the columns every pipeline table carries for the
// pipeline's sake (DESIGN.md's change metadata, the loader's Kafka
// coordinates and delete flag): noise in a spreadsheet.
var bookkeeping = []string{"event_id", "source", "entity", "op", "source_ts", "ingest_ts", "version", "_key", "_partition", "_offset", "is_deleted"}

// TableSheet looks t up in the warehouse's catalogue and returns the Sheet
// that reads it: its columns (less the bookkeeping ones), FINAL for the
// engines that collapse rows on merge (current-state tables), the filters
// as parameters, ordered by the table's sorting key. Names come from the
// catalogue, so nothing t holds is spliced into SQL but names that exist.
func TableSheet(ctx context.Context, q Querier, t Table) (Sheet, error) {
	if t.Name == "" {
		return Sheet{}, fmt.Errorf("no table name")
	}
	for _, bound := range []struct{ name, value string }{{"from", t.From}, {"to", t.To}} {
		if _, err := time.Parse(time.DateOnly, bound.value); bound.value != "" && err != nil {
			return Sheet{}, fmt.Errorf("%s date %q is not YYYY-MM-DD", bound.name, bound.value)
		}
	}
	if t.From != "" && t.To != "" && t.From > t.To {
		return Sheet{}, fmt.Errorf("from %s is after to %s", t.From, t.To)
	}
	label := t.Name
	if t.Database != "" {
		label = t.Database + "." + t.Name
	}
	catalog := Sheet{
		Query: `SELECT database, engine, sorting_key FROM system.tables
			WHERE database = if({db:String} = '', currentDatabase(), {db:String}) AND name = {name:String}`,
		Params: map[string]string{"db": t.Database, "name": t.Name},
	}
	rows, err := open(ctx, q, catalog)
	if err != nil {
		return Sheet{}, fmt.Errorf("look up table %s: %w", label, err)
	}
	var db, engine, sortingKey string
	found := rows.Next()
	if found {
		err = rows.Scan(&db, &engine, &sortingKey)
	}
	if err == nil {
		err = rows.Err()
	}
	_ = rows.Close()
	if err != nil {
		return Sheet{}, fmt.Errorf("look up table %s: %w", label, err)
	}
	if !found {
		return Sheet{}, fmt.Errorf("no table or view %s in the warehouse", label)
	}

	catalog = Sheet{
		Query:  "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {name:String} ORDER BY position",
		Params: map[string]string{"db": db, "name": t.Name},
	}
	if rows, err = open(ctx, q, catalog); err != nil {
		return Sheet{}, fmt.Errorf("columns of %s: %w", label, err)
	}
	var names, dateColumns []string
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			_ = rows.Close()
			return Sheet{}, fmt.Errorf("columns of %s: %w", label, err)
		}
		names = append(names, name)
		types[name] = typ
		if k, _ := kindOf(typ); k == kindDate || k == kindDateTime {
			dateColumns = append(dateColumns, name)
		}
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return Sheet{}, fmt.Errorf("columns of %s: %w", label, err)
	}

	var selected []string
	pipeline := types["event_id"] != "" && types["version"] != ""
	for _, n := range names {
		if t.AllColumns || !pipeline || !slices.Contains(bookkeeping, n) {
			selected = append(selected, QuoteIdent(n))
		}
	}
	if len(selected) == 0 {
		return Sheet{}, fmt.Errorf("table %s has no columns to export", label)
	}

	s := Sheet{Name: t.Name, Params: map[string]string{}}
	var where []string
	if t.From != "" || t.To != "" {
		col := t.DateColumn
		if col == "" {
			col = "date"
		}
		if k, _ := kindOf(types[col]); k != kindDate && k != kindDateTime {
			return Sheet{}, fmt.Errorf("table %s has no date column %q for --from/--to; its date columns: %s", label, col, listOrNone(dateColumns))
		}
		day := QuoteIdent(col)
		if k, _ := kindOf(types[col]); k == kindDateTime {
			day = "toDate32(" + day + ")"
		}
		for _, bound := range []struct{ name, value, op string }{{"from", t.From, ">="}, {"to", t.To, "<="}} {
			if bound.value == "" {
				continue
			}
			where = append(where, day+" "+bound.op+" {"+bound.name+":Date32}")
			s.Params[bound.name] = bound.value
		}
	}
	if len(t.Products) > 0 {
		if _, ok := types["product_key"]; !ok {
			return Sheet{}, fmt.Errorf("table %s has no product_key column to filter products on", label)
		}
		where = append(where, "product_key IN {products:Array(String)}")
		s.Params["products"] = ListParam("Array(String)", t.Products)
	}

	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(selected, ", ") + " FROM " + QuoteIdent(db) + "." + QuoteIdent(t.Name))
	if collapses(engine) {
		b.WriteString(" FINAL")
	}
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	if sortingKey != "" {
		b.WriteString(" ORDER BY " + sortingKey)
	}
	s.Query = b.String()
	return s, nil
}

// collapses reports whether an engine merges rows by key, so that only
// SELECT ... FINAL reads what the table means.
func collapses(engine string) bool {
	for _, e := range []string{"ReplacingMergeTree", "CollapsingMergeTree", "SummingMergeTree", "AggregatingMergeTree"} {
		if strings.HasSuffix(engine, e) {
			return true
		}
	}
	return false
}

// QuoteIdent quotes a name from the catalogue as a SQL identifier.
func QuoteIdent(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
