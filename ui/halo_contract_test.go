package ui_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestHaloFixtureMatchesDbt: the halo marts the browser test writes have
// the columns the dbt models declare (dbt/models/marts/_halo.yml), so the
// page is tested against the tables dbt builds.
func TestHaloFixtureMatchesDbt(t *testing.T) {
	b, err := os.ReadFile("../dbt/models/marts/_halo.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Models []struct {
			Name    string
			Columns []struct{ Name string }
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	declared := map[string][]string{}
	for _, m := range doc.Models {
		for _, c := range m.Columns {
			declared[m.Name] = append(declared[m.Name], c.Name)
		}
	}
	table := regexp.MustCompile(`CREATE TABLE (\w+) \(`)
	column := regexp.MustCompile(`(?:^|, |\n\s*)(\w+) [A-Z]\w*`)
	for _, ddl := range haloMartsDDL {
		name := table.FindStringSubmatch(ddl)[1]
		body := ddl[strings.Index(ddl, "(")+1 : strings.Index(ddl, "ENGINE")]
		var got []string
		for _, m := range column.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		want := declared[name]
		if want == nil {
			t.Errorf("%s is not a model in _halo.yml", name)
			continue
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: fixture columns %v, dbt declares %v", name, got, want)
		}
	}
}
