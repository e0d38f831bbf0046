package ui

import "fmt"

// dataset is one table or chart of the page: a fixed statement whose
// inputs are server-side parameters.
type dataset struct {
	// name is the dataset's path under /api/data/.
	name string
	// title names the download (file and sheet).
	title string
	// sql is the statement. Request inputs appear only as {name:Type}
	// placeholders; [[column]] marks an optional column (see optional).
	sql string
	// params are the request parameters it takes (see paramKinds); a
	// request with others is refused.
	params []string
	// requires are the tables it reads; when one is missing the dataset
	// answers "missing" with hint instead of running.
	requires []string
	hint     string
	// optional columns: [[name]] becomes the column when its table has it,
	// else the fallback expression (a typed NULL), so a page built before a
	// schema change still works after it and the other way round.
	optional map[string]optionalColumn
	// limited: the statement takes {limit:UInt32}, the page's row bound
	// (downloads are not bounded).
	limited bool
}

type optionalColumn struct {
	table, fallback string
}

// Optional columns that newer product_daily schemas add.
var (
	colProvenance = optionalColumn{"product_daily", "CAST(NULL AS Nullable(String))"}
	colTikTokInt  = optionalColumn{"product_daily", "CAST(NULL AS Nullable(Int64))"}
)

// Hints for tables other parts of the pipeline create.
const (
	hintDbt     = "The halo marts are built by dbt: run `make venv && cd dbt && ../.cache/venv/bin/dbt build --profiles-dir .`, or let `run` build them on a schedule (dbt.schedule)."
	hintDbtRuns = "The table dbt_runs comes with migration 0006: run `shopstream migrate` (run and load apply it at start)."
	hintLoad    = "The warehouse has no shopstream tables yet: run `shopstream migrate`, then the pipeline (`shopstream run`)."
)

// linksSQL is every channel product with its identifiers, title and the
// key identity gave it: the CTE the product and identity views share.
const linksSQL = `links AS (
    SELECT
        l.product_key AS product_key,
        l.channel AS channel,
        if(l.channel = 'amazon', ifNull(l.marketplace_id, ''), ifNull(l.shop_id, '')) AS account,
        if(l.channel = 'amazon', ifNull(l.asin, ''), ifNull(l.sku_id, '')) AS channel_id,
        ifNull(l.product_id, '') AS product_id,
        ifNull(l.seller_sku, '') AS seller_sku,
        ifNull(l.gtin14, '') AS gtin14,
        l.match_rule AS match_rule,
        l.unmatched AS unmatched,
        ifNull(l.conflict_reason, '') AS conflict_reason,
        l.conflicting_product_keys AS conflicting_product_keys,
        if(l.channel = 'amazon', ifNull(c.item_name, ''), ifNull(t.title, '')) AS title
    FROM (SELECT * FROM product_links FINAL) AS l
    LEFT JOIN (SELECT marketplace_id, asin, item_name FROM amazon_catalog FINAL) AS c
        ON c.marketplace_id = ifNull(l.marketplace_id, '') AND c.asin = ifNull(l.asin, '')
    LEFT JOIN (SELECT shop_id, product_id, title FROM tiktok_products FINAL) AS t
        ON t.shop_id = ifNull(l.shop_id, '') AND t.product_id = ifNull(l.product_id, '')
)`

var linkTables = []string{"product_links", "amazon_catalog", "tiktok_products"}

// mappingLine is the SQL expression of the mapping-file line (see
// transform/identity.Mapping) that puts a channel product under the key
// key: product_key,channel,channel_id with channel_id scoped to the
// marketplace or shop (MARKETPLACE:ASIN, SHOP:SKU_ID). Every argument is
// an SQL expression.
func mappingLine(key, channel, account, id string) string {
	return fmt.Sprintf("concat(%s, ',', %s, ',', %s)", key, channel, csvField(fmt.Sprintf("concat(%s, ':', %s)", account, id)))
}

// csvField quotes the text expr evaluates to as an RFC 4180 field when it
// needs quotes.
func csvField(expr string) string {
	return fmt.Sprintf(`if(match(%[1]s, '[,"\r\n]'), concat('"', replaceAll(%[1]s, '"', '""'), '"'), %[1]s)`, expr)
}

// productSearch finds products by key, identifiers or title and sums both
// channels' figures over the period. Brand Analytics search figures are
// weekly totals carried on every day of their week: they are summed once
// per week, over the weeks that lie within the period.
var productSearch = dataset{
	name:  "products",
	title: "Products",
	sql: `WITH ` + linksSQL + `,
keys AS (
    SELECT
        product_key,
        argMax(title, (title != '', channel = 'amazon')) AS product_title,
        arrayStringConcat(arraySort(groupUniqArrayIf(channel_id, channel = 'amazon')), ' ') AS asins,
        arrayStringConcat(arraySort(groupUniqArrayIf(channel_id, channel = 'tiktok')), ' ') AS tiktok_skus,
        arrayStringConcat(arraySort(groupUniqArray(match_rule)), ' ') AS match_rule,
        arrayStringConcat(groupArray(concat(channel_id, ' ', product_id, ' ', seller_sku, ' ', gtin14, ' ', title)), ' ') AS haystack
    FROM links
    GROUP BY product_key
),
days AS (
    SELECT
        product_key,
        sum(tiktok_views) AS views,
        sum(tiktok_watch_time_seconds) / 3600 AS watch_hours,
        sum(tiktok_saves) AS saves,
        sum(tiktok_shares) AS shares,
        sum(tiktok_orders) AS tt_orders,
        if(uniqExact(tiktok_currency) > 1, NULL, sum(tiktok_gmv)) AS tt_gmv,
        any(tiktok_currency) AS tt_currency,
        sum(amazon_sessions) AS sessions,
        sum(amazon_units) AS units,
        sum(amazon_orders) AS amz_orders,
        if(uniqExact(amazon_currency) > 1, NULL, sum(amazon_sales)) AS sales,
        any(amazon_currency) AS amz_currency,
        min(amazon_best_sellers_rank_best) AS bsr_best
    FROM product_daily FINAL
    WHERE date BETWEEN {from:Date32} AND {to:Date32}
    GROUP BY product_key
),
weeks AS (
    SELECT product_key, sum(impressions) AS search_impressions, sum(clicks) AS search_clicks
    FROM (
        SELECT product_key, amazon_search_period_start,
            any(amazon_search_impressions) AS impressions, any(amazon_search_clicks) AS clicks
        FROM product_daily FINAL
        WHERE amazon_search_period_start >= {from:Date32} AND amazon_search_period_end <= {to:Date32}
        GROUP BY product_key, amazon_search_period_start
    )
    GROUP BY product_key
)
SELECT
    product_key, k.product_title AS title, k.asins AS asins, k.tiktok_skus AS tiktok_skus, k.match_rule AS match_rule,
    d.views AS tiktok_views, d.watch_hours AS tiktok_watch_hours, d.saves AS tiktok_saves, d.shares AS tiktok_shares,
    d.tt_orders AS tiktok_orders, d.tt_gmv AS tiktok_gmv, d.tt_currency AS tiktok_currency,
    w.search_impressions AS amazon_search_impressions, w.search_clicks AS amazon_search_clicks,
    d.sessions AS amazon_sessions, d.units AS amazon_units, d.amz_orders AS amazon_orders,
    d.sales AS amazon_sales, d.amz_currency AS amazon_currency, d.bsr_best AS amazon_bsr_best
FROM keys AS k
FULL OUTER JOIN days AS d USING (product_key)
LEFT JOIN weeks AS w USING (product_key)
WHERE positionCaseInsensitiveUTF8(concat(product_key, ' ', k.haystack), {q:String}) > 0
ORDER BY ifNull(d.tt_orders, 0) + ifNull(d.amz_orders, 0) DESC, ifNull(d.views, 0) DESC, product_key
LIMIT {limit:UInt32}`,
	params:   []string{"q", "from", "to"},
	requires: append([]string{"product_daily"}, linkTables...),
	hint:     hintLoad,
	limited:  true,
}

// productLinks lists the channel products behind one product key.
var productLinks = dataset{
	name:  "product_links",
	title: "Channel products",
	sql: `WITH ` + linksSQL + `
SELECT channel, account, channel_id, product_id, seller_sku, gtin14, title, match_rule, conflict_reason
FROM links
WHERE product_key = {key:String}
ORDER BY channel, account, channel_id`,
	params:   []string{"key"},
	requires: linkTables,
	hint:     hintLoad,
}

// productDays is one product's days: the figures the product charts and
// its daily table show. Search figures are the week's totals on each of its
// days (the chart draws them as steps).
var productDays = dataset{
	name:  "product_days",
	title: "Product by day",
	sql: `SELECT
    date,
    tiktok_views, tiktok_watch_time_seconds / 3600 AS tiktok_watch_hours, tiktok_saves, tiktok_shares,
    tiktok_likes, tiktok_comments,
    [[tiktok_product_impressions]] AS tiktok_product_impressions,
    [[tiktok_product_clicks]] AS tiktok_product_clicks,
    [[tiktok_attention_provenance]] AS tiktok_attention_provenance,
    amazon_search_impressions, amazon_search_clicks, amazon_search_period_start, amazon_search_period_end,
    amazon_sessions, amazon_page_views, amazon_units, amazon_best_sellers_rank_best,
    tiktok_orders, tiktok_units, tiktok_gmv, tiktok_currency,
    amazon_orders, amazon_sales, amazon_currency
FROM product_daily FINAL
WHERE product_key = {key:String} AND date BETWEEN {from:Date32} AND {to:Date32}
ORDER BY date`,
	params:   []string{"key", "from", "to"},
	requires: []string{"product_daily"},
	hint:     hintLoad,
	optional: map[string]optionalColumn{
		"tiktok_attention_provenance": colProvenance,
		"tiktok_product_impressions":  colTikTokInt,
		"tiktok_product_clicks":       colTikTokInt,
	},
}

// dataRange is the first and last day product_daily holds: the page's
// default period ends on the last.
var dataRange = dataset{
	name:     "range",
	title:    "Days held",
	sql:      `SELECT min(date) AS first_day, max(date) AS last_day, count() AS rows FROM product_daily FINAL`,
	requires: []string{"product_daily"},
	hint:     hintLoad,
}

// identityRules counts the channel products each rule linked.
var identityRules = dataset{
	name:  "identity_rules",
	title: "Links per rule",
	sql: `SELECT
    match_rule,
    countIf(channel = 'amazon') AS amazon_products,
    countIf(channel = 'tiktok') AS tiktok_products,
    uniqExact(product_key) AS product_keys,
    countIf(conflict_reason IS NOT NULL) AS in_conflict
FROM product_links FINAL
GROUP BY match_rule
ORDER BY indexOf(['mapping_file', 'gtin', 'seller_sku', 'unmatched'], match_rule) = 0, indexOf(['mapping_file', 'gtin', 'seller_sku', 'unmatched'], match_rule), match_rule`,
	requires: []string{"product_links"},
	hint:     hintLoad,
}

// suggestSQL gives every channel product the key a mapping line would
// put it under, consistently across the identity tables, so their lines
// together form a valid mapping file (no channel product under two keys):
//
//   - products already linked keep their group: every product under the
//     same product_key gets the same key, so a line never splits a link;
//   - an unmatched product whose closest unmatched product on the other
//     channel (title trigram distance at most 0.5) has it as its own closest
//     too is paired with it: both get the pair's key. Only titles that
//     start with the same two words (brand and product, as a rule) are
//     compared, so that the work grows with the products that could match,
//     not with the square of all unmatched ones;
//   - any other product gets a key of its own.
//
// A key is the group's title (the Amazon one first) in lower-case words
// joined by hyphens, with the group's ASIN or SKU id appended when several
// groups would get the same words.
var suggestSQL = `,
candidates AS (
    SELECT product_key, channel, title,
        arrayStringConcat(arraySlice(splitByNonAlpha(lowerUTF8(title)), 1, 2), ' ') AS block
    FROM links WHERE unmatched AND title != ''
),
distances AS (
    SELECT a.product_key AS amazon_key, b.product_key AS tiktok_key,
        ngramDistanceCaseInsensitiveUTF8(a.title, b.title) AS distance
    FROM (SELECT * FROM candidates WHERE channel = 'amazon') AS a
    INNER JOIN (SELECT * FROM candidates WHERE channel = 'tiktok') AS b ON b.block = a.block
),
ranked AS (
    SELECT amazon_key, tiktok_key, distance,
        row_number() OVER (PARTITION BY amazon_key ORDER BY distance, tiktok_key) AS amazon_rank,
        row_number() OVER (PARTITION BY tiktok_key ORDER BY distance, amazon_key) AS tiktok_rank
    FROM distances
),
pairs AS (
    SELECT pair.1 AS product_key, pair.2 AS other_key
    FROM (SELECT amazon_key, tiktok_key FROM ranked WHERE amazon_rank = 1 AND tiktok_rank = 1 AND distance <= 0.5)
    ARRAY JOIN [(amazon_key, tiktok_key), (tiktok_key, amazon_key)] AS pair
),
grouped AS (
    SELECT l.product_key AS product_key, l.channel AS channel, l.account AS account, l.channel_id AS channel_id,
        l.title AS title, p.other_key AS paired_with,
        if(p.other_key = '' OR l.channel = 'amazon', l.product_key, p.other_key) AS group_key
    FROM links AS l LEFT JOIN pairs AS p ON p.product_key = l.product_key
),
titled AS (
    SELECT *,
        argMax(title, (title != '', channel = 'amazon')) OVER (PARTITION BY group_key) AS group_title,
        argMax(channel_id, channel = 'amazon') OVER (PARTITION BY group_key) AS group_id
    FROM grouped
),
worded AS (
    SELECT *, ` + slug("group_title") + ` AS words FROM titled
),
suggested AS (
    SELECT product_key, channel, account, channel_id, paired_with,
        multiIf(words = '', lower(group_id), uniqExact(group_key) OVER (PARTITION BY words) > 1, concat(words, '-', lower(group_id)), words) AS suggested_key,
        ` + mappingLine("suggested_key", "channel", "account", "channel_id") + ` AS mapping_line
    FROM worded
)`

// slug is the SQL expression of the lower-case words of the text expr
// evaluates to, joined by hyphens, at most 60 characters: never one of the
// generated key prefixes, which all end in a colon.
func slug(expr string) string {
	return fmt.Sprintf(`trim(BOTH '-' FROM left(trim(BOTH '-' FROM replaceRegexpAll(lowerUTF8(%s), '[^a-z0-9]+', '-')), 60))`, expr)
}

// identityConflicts lists, per conflict, every channel product it involves
// (the product that reports it and every product under the keys it names),
// each with the mapping line that settles it by hand.
var identityConflicts = dataset{
	name:  "identity_conflicts",
	title: "Identity conflicts",
	sql: `WITH ` + linksSQL + suggestSQL + `,
involved AS (
    SELECT DISTINCT c.conflict_reason AS conflict, involved_key
    FROM links AS c
    ARRAY JOIN arrayConcat([c.product_key], c.conflicting_product_keys) AS involved_key
    WHERE c.conflict_reason != ''
)
SELECT i.conflict AS conflict, p.channel AS channel, p.account AS account, p.channel_id AS channel_id,
    p.title AS title, p.gtin14 AS gtin14, p.seller_sku AS seller_sku, p.product_key AS product_key,
    s.mapping_line AS mapping_line
FROM involved AS i
INNER JOIN links AS p ON p.product_key = i.involved_key
INNER JOIN suggested AS s ON s.channel = p.channel AND s.account = p.account AND s.channel_id = p.channel_id
ORDER BY conflict, channel, account, channel_id
LIMIT {limit:UInt32}`,
	requires: linkTables,
	hint:     hintLoad,
	limited:  true,
}

// identityUnmatched lists one side's unmatched products, each with the
// mapping line that links it and, when it has one (see suggestSQL), the
// unmatched product on the other channel that is most likely the same,
// with its line under the same key.
var identityUnmatched = dataset{
	name:  "identity_unmatched",
	title: "Unmatched products",
	sql: `WITH ` + linksSQL + suggestSQL + `
SELECT u.channel AS channel, u.account AS account, u.channel_id AS channel_id, u.title AS title,
    u.seller_sku AS seller_sku, u.gtin14 AS gtin14, u.conflict_reason AS conflict_reason,
    s.mapping_line AS mapping_line,
    if(s.paired_with = '', '', concat(o.channel_id, ' ', o.title)) AS likely_same_as,
    if(s.paired_with = '', '', ` + mappingLine("s.suggested_key", "o.channel", "o.account", "o.channel_id") + `) AS likely_same_line
FROM links AS u
INNER JOIN suggested AS s ON s.channel = u.channel AND s.account = u.account AND s.channel_id = u.channel_id
LEFT JOIN links AS o ON o.product_key = s.paired_with
WHERE u.unmatched AND u.channel = {side:String}
ORDER BY u.title = '', u.title, u.account, u.channel_id
LIMIT {limit:UInt32}`,
	params:   []string{"side"},
	requires: linkTables,
	hint:     hintLoad,
	limited:  true,
}

// haloRanking is the halo mart's ranking (dbt model halo_ranking), with
// the products' titles.
var haloRanking = dataset{
	name:  "halo",
	title: "Halo ranking",
	sql: `WITH ` + linksSQL + `,
titles AS (SELECT product_key, argMax(title, (title != '', channel = 'amazon')) AS product_title FROM links GROUP BY product_key)
SELECT r.rank AS rank, r.product_key AS product_key, t.product_title AS title, r.halo_score AS halo_score,
    r.significant AS significant, r.best_outcome AS best_outcome, r.best_lag_days AS best_lag_days,
    r.best_attention_metric AS best_attention_metric, r.strength AS strength, r.lift AS lift,
    r.p_value_adjusted AS p_value_adjusted, r.outcomes_significant AS outcomes_significant,
    r.outcomes_tested AS outcomes_tested, r.first_date AS first_date, r.last_date AS last_date
FROM $models.halo_ranking AS r
LEFT JOIN titles AS t ON t.product_key = r.product_key
ORDER BY rank
LIMIT {limit:UInt32}`,
	requires: append([]string{"halo_ranking"}, linkTables...),
	hint:     hintDbt,
	limited:  true,
}

// productHalo is one product's halo per Amazon outcome (dbt model
// product_halo): the best lag and attention metric, and whether it holds
// after correcting for every lag and metric tried.
var productHalo = dataset{
	name:  "product_halo",
	title: "Halo by outcome",
	sql: `SELECT outcome, grain, best_attention_metric, best_lag_days, strength, significant, p_value_adjusted, lift, spikes, n
FROM $models.product_halo
WHERE product_key = {key:String}
ORDER BY significant DESC, strength DESC, outcome`,
	params:   []string{"key"},
	requires: []string{"product_halo"},
	hint:     hintDbt,
}

// haloByLag is one product's correlation at every lag for each outcome,
// with the attention metric that outcome's best lag uses (dbt models
// halo_by_lag and product_halo).
var haloByLag = dataset{
	name:  "halo_by_lag",
	title: "Halo by lag",
	sql: `SELECT h.outcome AS outcome, h.attention_metric AS attention_metric, h.lag_days AS lag_days,
    h.correlation AS correlation, h.p_value AS p_value, h.n AS n
FROM $models.halo_by_lag AS h
INNER JOIN $models.product_halo AS p
    ON p.product_key = h.product_key AND p.outcome = h.outcome AND p.best_attention_metric = h.attention_metric
WHERE h.product_key = {key:String}
ORDER BY outcome, lag_days`,
	params:   []string{"key"},
	requires: []string{"halo_by_lag", "product_halo"},
	hint:     hintDbt,
}

// dbtRuns are the scheduled dbt runs (table dbt_runs, migration 0006),
// newest first.
var dbtRuns = dataset{
	name:  "dbt_runs",
	title: "dbt runs",
	sql: `SELECT started_at, status, duration_seconds, waited_seconds, models_ok, models_failed, failed_models,
    tests_ok, tests_failed, failed_tests, skipped, error, run_id
FROM dbt_runs
ORDER BY started_at DESC, run_id
LIMIT {limit:UInt32}`,
	requires: []string{"dbt_runs"},
	hint:     hintDbtRuns,
	limited:  true,
}

// datasets are the page's datasets by name.
var datasets = map[string]*dataset{}

func init() {
	for _, d := range []*dataset{&productSearch, &productLinks, &productDays, &dataRange,
		&identityRules, &identityConflicts, &identityUnmatched, &haloRanking, &productHalo, &haloByLag, &dbtRuns} {
		datasets[d.name] = d
	}
}
