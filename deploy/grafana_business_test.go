package deploy_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/load"
)

// TestBusinessDashboardQueries: the business dashboard (grafana/business.json)
// is valid JSON whose panels all query the ClickHouse data source plugin, and
// every table and column its SQL names exists: the loader's tables and
// columns as the migrations (load/migrations) create them, the dbt models
// (analytics.*) as their yml describes them. Grafana cannot run here, so
// this is what keeps the dashboard in step with the schema.
func TestBusinessDashboardQueries(t *testing.T) {
	schema := warehouseSchema(t)
	var dash struct {
		UID        string
		Panels     []json.RawMessage
		Templating struct {
			List []json.RawMessage
		}
	}
	if err := json.Unmarshal(readFile(t, "grafana/business.json"), &dash); err != nil {
		t.Fatalf("grafana/business.json: %v", err)
	}
	if dash.UID == "" {
		t.Error("grafana/business.json: no uid")
	}
	queries := 0
	for _, raw := range append(dash.Panels, dash.Templating.List...) {
		var p struct {
			Type, Title, Name string
			Targets           []struct {
				RawSQL     string `json:"rawSql"`
				Datasource struct{ Type string }
			}
			Query struct {
				RawSQL string `json:"rawSql"`
			}
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			// A templating query may be a plain string (data source variable).
			continue
		}
		if p.Type == "row" || p.Type == "datasource" {
			continue
		}
		name := p.Title + p.Name
		if p.Query.RawSQL != "" {
			p.Targets = append(p.Targets, struct {
				RawSQL     string `json:"rawSql"`
				Datasource struct{ Type string }
			}{RawSQL: p.Query.RawSQL, Datasource: struct{ Type string }{"grafana-clickhouse-datasource"}})
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", name)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.Type != "grafana-clickhouse-datasource" {
				t.Errorf("panel %q queries data source %q, not the ClickHouse plugin", name, tg.Datasource.Type)
			}
			if err := schema.check(tg.RawSQL); err != nil {
				t.Errorf("panel %q: %v\n%s", name, err, tg.RawSQL)
			}
			queries++
		}
	}
	if queries < 8 {
		t.Errorf("only %d queries found; was the dashboard emptied?", queries)
	}
	// The check itself finds what is wrong.
	for _, bad := range []string{
		"SELECT no_such_column FROM product_daily FINAL",
		"SELECT product_key FROM no_such_table",
		"SELECT rank FROM analytics.no_such_model",
		"SELECT tiktok_views FROM analytics.halo_ranking",
	} {
		if schema.check(bad) == nil {
			t.Errorf("the check accepts %q", bad)
		}
	}

	// The provisioning files point Grafana at the plugin and at this directory's dashboards.
	ds := yamlDocs(t, "grafana/provisioning/datasources/clickhouse.yaml")[0]
	var types []string
	walk(ds, func(key string, v any) {
		if s, ok := v.(string); ok && key == "type" {
			types = append(types, s)
		}
	})
	if !slices.Equal(types, []string{"grafana-clickhouse-datasource"}) {
		t.Errorf("provisioned data source types %v", types)
	}
	if uid := ds["datasources"].([]any)[0].(map[string]any)["uid"]; uid == "" || uid == nil {
		t.Error("the provisioned data source has no uid")
	}
	if s := string(readFile(t, "grafana/provisioning/dashboards/shopstream.yaml")); !strings.Contains(s, "type: file") {
		t.Error("the dashboard provider does not load files")
	}
}

// schemaTables maps a table name (analytics.<model> for dbt models) to its columns.
type schemaTables map[string][]string

var (
	createTableRE = regexp.MustCompile(`(?m)^CREATE TABLE IF NOT EXISTS (\w+)\s*\(\n([\s\S]*?)\n\)`)
	columnRE      = regexp.MustCompile("(?m)^\\s*`([^`]+)`")
	viewStarRE    = regexp.MustCompile(`(?m)^CREATE VIEW IF NOT EXISTS (\w+) AS\s+SELECT \*\s+FROM (\w+)`)
	alterRE       = regexp.MustCompile(`(?m)^ALTER TABLE (\w+)\n((?:\s+ADD COLUMN IF NOT EXISTS .*\n?)+)`)
	addColumnRE   = regexp.MustCompile("ADD COLUMN IF NOT EXISTS `([^`]+)`")
)

// warehouseSchema reads the tables of the migrations and the dbt models' yml.
func warehouseSchema(t *testing.T) schemaTables {
	t.Helper()
	migs, err := load.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	s := schemaTables{}
	for _, m := range migs {
		for _, c := range createTableRE.FindAllStringSubmatch(m.SQL, -1) {
			for _, col := range columnRE.FindAllStringSubmatch(c[2], -1) {
				s[c[1]] = append(s[c[1]], col[1])
			}
		}
		for _, a := range alterRE.FindAllStringSubmatch(m.SQL, -1) {
			for _, col := range addColumnRE.FindAllStringSubmatch(a[2], -1) {
				s[a[1]] = append(s[a[1]], col[1])
			}
		}
		for _, v := range viewStarRE.FindAllStringSubmatch(m.SQL, -1) {
			s[v[1]] = s[v[2]]
		}
	}
	ymls, err := filepath.Glob("../dbt/models/*/*.yml")
	if err != nil || len(ymls) == 0 {
		t.Fatalf("no dbt yml found: %v", err)
	}
	for _, f := range ymls {
		for _, doc := range yamlDocs(t, f) {
			models, _ := doc["models"].([]any)
			for _, m := range models {
				m := m.(map[string]any)
				cols, _ := m["columns"].([]any)
				for _, c := range cols {
					s["analytics."+m["name"].(string)] = append(s["analytics."+m["name"].(string)], c.(map[string]any)["name"].(string))
				}
			}
		}
	}
	if !slices.Contains(s["product_daily"], "tiktok_attention_provenance") || len(s["analytics.halo_ranking"]) == 0 || len(s["dbt_runs"]) == 0 {
		t.Fatalf("schema not read: product_daily %v, halo_ranking %v, dbt_runs %v", s["product_daily"], s["analytics.halo_ranking"], s["dbt_runs"])
	}
	return s
}

var (
	stringRE     = regexp.MustCompile(`'(?:[^'\\]|\\.)*'`)
	grafanaVarRE = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	tableRefRE   = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)`)
	aliasRE      = regexp.MustCompile(`(?i)\bAS\s+([A-Za-z_]\w*)`)
	identRE      = regexp.MustCompile(`[A-Za-z_][\w.]*(\s*\()?`)
	sqlWords     = map[string]bool{}
)

func init() {
	for _, w := range strings.Fields(`select from where group by order limit as and or not in is null desc asc
		final having join left inner on distinct case when then else end true false interval day with`) {
		sqlWords[w] = true
	}
}

// check finds the tables and columns sql names and reports those that do
// not exist. Grafana's $__dateFilter(col) names col; other variables are values.
func (s schemaTables) check(sql string) error {
	sql = strings.ReplaceAll(sql, "$__dateFilter(", "(")
	sql = grafanaVarRE.ReplaceAllString(stringRE.ReplaceAllString(sql, "''"), "''")
	var tables []string
	var columns []string
	for _, m := range tableRefRE.FindAllStringSubmatch(sql, -1) {
		tables = append(tables, m[1])
	}
	if len(tables) == 0 {
		return fmt.Errorf("no table")
	}
	var problems []string
	known := map[string]bool{}
	for _, tb := range tables {
		cols, ok := s[tb]
		if !ok {
			problems = append(problems, "unknown table "+tb)
		}
		for _, c := range cols {
			known[c] = true
		}
	}
	aliases := map[string]bool{}
	for _, m := range aliasRE.FindAllStringSubmatch(sql, -1) {
		aliases[m[1]] = true
	}
	for _, m := range identRE.FindAllStringSubmatch(sql, -1) {
		id := m[0]
		if m[1] != "" || sqlWords[strings.ToLower(id)] || aliases[id] || slices.Contains(tables, id) {
			continue // a function, a keyword, an alias or a table
		}
		columns = append(columns, id)
		if !known[id] {
			problems = append(problems, fmt.Sprintf("column %s is in none of %v", id, tables))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	if len(columns) == 0 {
		return fmt.Errorf("no column found")
	}
	return nil
}
