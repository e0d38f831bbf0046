package oracle

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file is the comparison itself, shared by the package's tests and by
// whole-pipeline tests (test/chaos) that land a simulated world: the SQL
// oracles and the queries that print both sides one line per row.

//go:embed oracle.sql
var oracleSQL string

//go:embed identity.sql
var identitySQL string

// linkLine prints a link as one line.
const linkLine = "SELECT arrayStringConcat([channel, account, id, product_key, match_rule], ' | ') AS line FROM (%s) ORDER BY line SETTINGS join_use_nulls = 1"

// actualLinks are the current links of product_links.
const actualLinks = "SELECT channel, ifNull(marketplace_id, shop_id) AS account, ifNull(asin, sku_id) AS id, product_key, match_rule FROM product_links FINAL WHERE is_deleted = 0"

var zdayCall = regexp.MustCompile(`ZDAY\(([^,()]+(?:\([^()]*\))?[^,()]*), ([a-z_]+)\)`)

// expandZDAY replaces ZDAY(day, zone_column) by the UTC day that holds the
// midpoint of the source zone's day, over the given zones.
func expandZDAY(sql string, zones []string) string {
	return zdayCall.ReplaceAllStringFunc(sql, func(m string) string {
		g := zdayCall.FindStringSubmatch(m)
		d, z := g[1], g[2]
		var arms []string
		for _, zone := range zones {
			arms = append(arms, fmt.Sprintf("%s = '%s', toDate32(toDateTime(intDiv(toUnixTimestamp(toDateTime(toDate32(%s), '%s')) + toUnixTimestamp(toDateTime(addDays(toDate32(%s), 1), '%s')), 2), 'UTC'))",
				z, zone, d, zone, d, zone))
		}
		return fmt.Sprintf("multiIf(%s, %s IN ('', 'UTC'), toDate32(%s), NULL)", strings.Join(arms, ", "), z, d)
	})
}

// columns are the compared columns of product_daily and how to print
// them, so that both sides print a value the same way.
var columns = []struct{ name, kind string }{
	{"tiktok_views", "int"}, {"tiktok_watch_time_seconds", "float"}, {"tiktok_saves", "int"},
	{"tiktok_shares", "int"}, {"tiktok_likes", "int"}, {"tiktok_comments", "int"},
	{"tiktok_product_impressions", "int"}, {"tiktok_product_clicks", "int"}, {"tiktok_attention_provenance", "string"},
	{"tiktok_currency", "string"}, {"tiktok_video_gmv", "money"}, {"tiktok_orders", "int"},
	{"tiktok_units", "int"}, {"tiktok_gmv", "money"},
	{"amazon_search_period_start", "date"}, {"amazon_search_period_end", "date"},
	{"amazon_search_impressions", "int"}, {"amazon_search_clicks", "int"}, {"amazon_search_purchases", "int"},
	{"search_terms", "string"},
	{"amazon_best_sellers_rank_best", "int"}, {"amazon_best_sellers_rank_avg", "float"},
	{"amazon_sessions", "int"}, {"amazon_page_views", "int"}, {"amazon_units", "int"},
	{"amazon_currency", "string"}, {"amazon_sales", "money"}, {"amazon_orders", "int"},
}

// lineQuery prints each row of relation as one line: key, day and the
// compared columns, NULL as ∅.
func lineQuery(relation string) string {
	parts := []string{"product_key", "toString(date)"}
	for _, c := range columns {
		var e string
		switch c.kind {
		case "int", "date":
			e = "toString(" + c.name + ")"
		case "float":
			e = "toString(round(" + c.name + ", 6))"
		case "money":
			e = "toString(toDecimal128(" + c.name + ", 4))"
		default:
			e = c.name
		}
		parts = append(parts, "ifNull("+e+", '∅')")
	}
	return "SELECT arrayStringConcat([" + strings.Join(parts, ", ") + "], ' | ') AS line FROM (" + relation + ") ORDER BY line" +
		" SETTINGS join_use_nulls = 1"
}

// actualRelation is product_daily as a user reads it.
const actualRelation = `SELECT *,
    arrayStringConcat(arrayMap((t, d, f, r, cs, cv) -> concat(t, '/', ifNull(d, ''), '/', toString(f), '/', toString(r), '/',
                                                              toString(round(ifNull(cs, 0), 6)), '/', toString(round(ifNull(cv, 0), 6))),
        ` + "`amazon_search_term_ranks.search_term`, `amazon_search_term_ranks.department_name`, `amazon_search_term_ranks.search_frequency_rank`," + `
        ` + "`amazon_search_term_ranks.click_share_rank`, `amazon_search_term_ranks.click_share`, `amazon_search_term_ranks.conversion_share`" + `), '; ') AS search_terms
FROM product_daily FINAL WHERE is_deleted = 0`

func columnNames() string {
	var ns []string
	for _, c := range columns {
		ns = append(ns, c.name)
	}
	return strings.Join(ns, " | ")
}

// diff lists the lines only in got (-) and only in want (+).
func diff(got, want []string) string {
	var out []string
	for _, g := range got {
		if _, found := slices.BinarySearch(want, g); !found {
			out = append(out, "- "+g)
		}
	}
	for _, w := range want {
		if _, found := slices.BinarySearch(got, w); !found {
			out = append(out, "+ "+w)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(a[2:], b[2:]) })
	return strings.Join(out, "\n")
}

// MappingTable creates the (empty) mapping table identity.sql reads, for a
// transform that runs without a mapping file.
const MappingTable = "CREATE TABLE IF NOT EXISTS oracle_mapping (product_key String, channel String, channel_id String) ENGINE = Memory"

// relation is the join oracle over the raw change tables, for the
// attribution (even split or full credit) and the source zones the raw
// tables hold (date_time_zone values).
func relation(evenSplit bool, zones []string) string {
	return strings.ReplaceAll(expandZDAY(oracleSQL, zones), "EVEN_SPLIT", strconv.FormatBool(evenSplit))
}

// Queries compare the transform's output tables with the oracles. Each
// prints one line per row, ordered, so that equal tables give equal lines.
type Queries struct {
	// Daily is product_daily FINAL; WantDaily is the join oracle.
	Daily, WantDaily string
	// Links is product_links FINAL; WantLinks is the identity oracle.
	Links, WantLinks string
}

// NewQueries returns the comparison for a transform with the given
// attribution (even split or full credit) over raw tables whose source
// zones (date_time_zone) are zones. The identity oracle reads the table
// MappingTable creates.
func NewQueries(evenSplit bool, zones []string) Queries {
	return Queries{Daily: lineQuery(actualRelation), WantDaily: lineQuery(relation(evenSplit, zones)),
		Links: fmt.Sprintf(linkLine, actualLinks), WantLinks: fmt.Sprintf(linkLine, identitySQL)}
}

// Columns names the fields of a Daily line after product_key and date.
func Columns() string { return columnNames() }

// Diff lists the lines only in got (-) and only in want (+); both sorted.
func Diff(got, want []string) string { return diff(got, want) }
