package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// firstLookQueries returns the SQL blocks of the README's "First look"
// section, the queries a brand's analyst runs first, so that the README
// shows what runs.
func firstLookQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## First look\n")
	if !ok {
		t.Fatal(`README.md has no "## First look" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var queries []string
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(section, -1) {
		queries = append(queries, strings.TrimSpace(m[1]))
	}
	if len(queries) != 2 {
		t.Fatalf("README's First look has %d sql blocks, want 2 (top products by halo; one product's two channels over time)", len(queries))
	}
	return queries
}

// checkFirstLook runs the README's first-look queries on the demo world
// and logs what they print (the README quotes it): the halo ranking must
// put a planted product first, and the product's days must show both
// channels.
func checkFirstLook(t *testing.T, ctx context.Context, warehouseAddr string, planted map[string]bool) {
	t.Helper()
	queries := firstLookQueries(t)
	ranking := query(t, ctx, warehouseAddr, queries[0])
	if len(ranking) == 0 || !planted[ranking[0][1]] {
		t.Errorf("first look: the halo ranking's first row %v is not a planted product's key", ranking)
	}
	days := query(t, ctx, warehouseAddr, queries[1])
	if len(days) < 10 {
		t.Errorf("first look: %d days of the top product, want the days around its TikTok peak", len(days))
	}
	for _, q := range queries {
		out, err := warehouseAt(warehouseAddr).Query(ctx, q+"\nFORMAT PrettyCompactMonoBlock")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("first look:\n%s\n%s", q, out)
	}
}
