package ui

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// placeholderTypes are the ClickHouse types each request parameter is
// sent as: a dataset must use the type its check was written for.
var placeholderTypes = map[string]string{"from": "Date32", "to": "Date32", "q": "String", "key": "String", "side": "String", "limit": "UInt32"}

var placeholder = regexp.MustCompile(`\{([a-z_]+):([A-Za-z0-9()]+)\}`)

// TestDatasetsTakeOnlyParameters: every input of every statement is a
// server-side parameter the dataset declares (or the row bound), of the
// type its check expects, and every declared parameter is used. A value
// spliced into SQL would show up as a missing placeholder here.
func TestDatasetsTakeOnlyParameters(t *testing.T) {
	for name, d := range datasets {
		used := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(d.sql, -1) {
			used[m[1]] = true
			if want := placeholderTypes[m[1]]; want != m[2] {
				t.Errorf("%s: {%s:%s}, want type %s", name, m[1], m[2], want)
			}
			if m[1] == "limit" {
				if !d.limited {
					t.Errorf("%s takes {limit} but is not limited", name)
				}
				continue
			}
			if !slices.Contains(d.params, m[1]) {
				t.Errorf("%s: placeholder {%s} is not a declared parameter", name, m[1])
			}
		}
		for _, p := range d.params {
			if !used[p] {
				t.Errorf("%s declares %s but its statement does not use it", name, p)
			}
			if _, ok := paramKinds[p]; !ok {
				t.Errorf("%s: parameter %s has no check", name, p)
			}
		}
		if d.limited != used["limit"] {
			t.Errorf("%s: limited %v but {limit} used %v", name, d.limited, used["limit"])
		}
		for _, m := range optionalMarker.FindAllStringSubmatch(d.sql, -1) {
			if _, ok := d.optional[m[1]]; !ok {
				t.Errorf("%s: optional column [[%s]] has no fallback", name, m[1])
			}
		}
		if len(d.requires) == 0 || d.hint == "" {
			t.Errorf("%s: says neither which tables it needs nor what to run without them", name)
		}
	}
}

// TestDatasetParamsRefuse: what is not a valid value of its parameter is
// refused with a message naming it, before any query.
func TestDatasetParamsRefuse(t *testing.T) {
	products, unmatched := datasets["products"], datasets["identity_unmatched"]
	for _, c := range []struct {
		d     *dataset
		query string
		want  string
	}{
		{products, "from=2026-03-01' OR '1'='1&to=2026-03-28", `from: "2026-03-01' OR '1'='1" is not a date`},
		{products, "from=2026-03-01&to=2026-02-28", "to: 2026-02-28 is before from 2026-03-01"},
		{products, "from=2016-01-01&to=2026-12-31", "longer than 3700 days"},
		{products, "from=2026-03-01&to=2026-03-28&limit=100000", "limit: products takes no such parameter"},
		{products, "from=2026-03-01&to=2026-03-28&q=a&q=b", "q: given 2 times"},
		{products, "from=2026-03-01&to=2026-03-28&q=" + strings.Repeat("x", 201), "q: is longer than 200 characters"},
		{products, "from=2026-03-01&to=2026-03-28&q=%00", "q: contains a NUL"},
		{products, "from=2026-03-01&to=2026-03-28&q=%ff", "q: is not UTF-8"},
		{products, "to=2026-03-28", "from: required"},
		{unmatched, "side=amazon'+OR+1=1", `side: "amazon' OR 1=1" is not one of amazon, tiktok`},
		{datasets["product_days"], "key=+&from=2026-03-01&to=2026-03-28", "key: is empty"},
	} {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		_, err = datasetParams(c.d, q, "format")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s?%s: %v, want %q", c.d.name, c.query, err, c.want)
		}
	}
	q, _ := url.ParseQuery("from=2026-03-01&to=2026-03-28&format=csv")
	got, err := datasetParams(products, q, "format")
	if err != nil || got["q"] != "" || got["from"] != "2026-03-01" || len(got) != 3 {
		t.Errorf("valid products request: %v, %v", got, err)
	}
}

// TestServerParamsEscape: values reach the server as the text typed (the
// server unescapes parameter values, so backslashes and line breaks are
// escaped on the way).
func TestServerParamsEscape(t *testing.T) {
	got := serverParams(map[string]string{"q": "a\\b\tc\nd'e"})
	if want := `a\\b\tc\nd'e`; got["q"] != want {
		t.Errorf("sent %q, want %q", got["q"], want)
	}
}

// TestOptionalColumnsFallBack: on a warehouse migrated before the
// provenance columns (migration 0005) the product's days read typed NULLs
// in their place; after it, the columns.
func TestOptionalColumnsFallBack(t *testing.T) {
	d := datasets["product_days"]
	older := d.statement(schema{"product_daily": {"date", "tiktok_views"}}, "")
	newer := d.statement(schema{"product_daily": {"date", "tiktok_views", "tiktok_attention_provenance", "tiktok_product_impressions", "tiktok_product_clicks"}}, "")
	for _, c := range []struct{ sql, want string }{
		{older, "CAST(NULL AS Nullable(String)) AS tiktok_attention_provenance"},
		{older, "CAST(NULL AS Nullable(Int64)) AS tiktok_product_clicks"},
		{newer, "tiktok_attention_provenance AS tiktok_attention_provenance"},
		{newer, "tiktok_product_impressions AS tiktok_product_impressions"},
	} {
		if !strings.Contains(c.sql, c.want) || strings.Contains(c.sql, "[[") {
			t.Errorf("statement lacks %q or keeps a marker:\n%s", c.want, c.sql)
		}
	}
}
