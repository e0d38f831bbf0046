package chaos

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/status"
	"github.com/shopstream/shopstream/transform/oracle"
)

// check is one printed line of the verdict.
type check struct {
	name   string
	detail string
	ok     bool
	// lost and duplicated count records for the summary.
	lost, duplicated int
}

func (c check) String() string {
	verdict := "ok"
	if !c.ok {
		verdict = "FAIL"
	}
	return fmt.Sprintf("check %-44s %-4s %s", c.name, verdict, c.detail)
}

// truthMargin leaves out what changed in the world this shortly before a
// check: a poll, its overlap and the Orders API's two-minute rule may
// legitimately not have reached it yet.
const truthMargin = 5 * time.Minute

// truthChecks compares the raw change tables with the simulators' ground
// truth at now: every order (purchased and last changed before now less
// truthMargin) in its final state, its lines, Sales & Traffic of every day
// that had settled before the pipeline started (settled figures; each row
// with units or sessions there), every catalog item and TikTok product,
// every official video, and every webhook the receiver acknowledged
// (delivered, by the simulator's record).
func truthChecks(ctx context.Context, wh *pipelinetest.Warehouse, w *simworld.World, desc descInfo, delivered []tiktokshoptest.Attempt, started, now time.Time) ([]check, error) {
	cutoff := now.Add(-truthMargin)
	truth := w.TruthAt(now)
	var out []check

	// Amazon orders and their lines.
	got, err := keyed(ctx, wh, "SELECT _key, argMax(order_status, version), toString(toUnixTimestamp(argMax(last_update_date, version))) FROM amazon_orders_changes GROUP BY _key")
	if err != nil {
		return nil, err
	}
	items, err := keyed(ctx, wh, "SELECT concat(amazon_order_id, '/', ifNull(seller_sku, '')), toString(argMax(quantity_ordered, version)) FROM amazon_order_items_changes GROUP BY amazon_order_id, seller_sku")
	if err != nil {
		return nil, err
	}
	var orders []finalState
	ci := check{name: "raw amazon_order_items_changes"}
	var ni, wrongItems int
	for _, s := range truth.AmazonOrders(w.Config().Start, cutoff) {
		if !s.LastUpdateDate.Before(cutoff) {
			continue
		}
		orders = append(orders, finalState{key: desc.marketplace + ":" + s.AmazonOrderID, status: s.Status, updated: s.LastUpdateDate})
		for _, it := range s.Items {
			ni++
			q, ok := items[s.AmazonOrderID+"/"+it.SellerSKU]
			switch {
			case !ok:
				ci.lost++
			case q[0] != strconv.Itoa(it.Quantity):
				wrongItems++
			}
		}
	}
	ci.ok = ni > 0 && ci.lost == 0 && wrongItems == 0
	ci.detail = fmt.Sprintf("%d lines of those orders, lost %d, wrong quantity %d", ni, ci.lost, wrongItems)
	out = append(out, stateCheck("raw amazon_orders_changes", got, orders), ci)

	// Sales & Traffic of the days settled before the stages first read
	// them: the latest version of every row is the settled figure.
	st, err := keyed(ctx, wh, "SELECT _key, toString(argMax(units_ordered, version)), toString(argMax(browser_sessions + mobile_app_sessions, version)), "+
		"toString(argMax(toInt64(round(ordered_product_sales * 100)), version)) FROM amazon_sales_traffic_changes GROUP BY _key")
	if err != nil {
		return nil, err
	}
	c := check{name: "raw amazon_sales_traffic_changes"}
	zone := w.Config().AmazonZone
	days, rows, wrong := 0, 0, 0
	var firstMiss string
	for d := simworld.DateOf(w.Config().Start, zone); w.SettledAt(d).Before(started); d = d.AddDays(1) {
		days++
		settled, _ := truth.SalesTrafficSettled(d)
		for _, r := range settled {
			if r.UnitsOrdered == 0 && r.Sessions() == 0 {
				continue
			}
			rows++
			key := desc.marketplace + ":" + d.String() + ":" + r.ParentASIN + ":" + r.ASIN + ":" + r.SKU
			g, ok := st[key]
			switch {
			case !ok:
				c.lost++
				firstMiss = cmpOr(firstMiss, key)
			case g[0] != strconv.Itoa(r.UnitsOrdered) || g[1] != strconv.Itoa(r.Sessions()) || g[2] != strconv.FormatInt(int64(r.OrderedProductSales), 10):
				wrong++
				firstMiss = cmpOr(firstMiss, fmt.Sprintf("%s is %v, settled %d units %d sessions %d cents", key, g, r.UnitsOrdered, r.Sessions(), r.OrderedProductSales))
			}
		}
	}
	c.ok = rows > 0 && c.lost == 0 && wrong == 0
	c.detail = fmt.Sprintf("%d rows of %d days settled before the start, %d keys in the table, lost %d, not the settled figure %d%s",
		rows, days, len(st), c.lost, wrong, example(firstMiss))
	out = append(out, c)

	// TikTok Shop orders.
	tt, err := keyed(ctx, wh, "SELECT _key, argMax(status, version), toString(toUnixTimestamp(argMax(update_time, version))) FROM tiktok_orders_changes GROUP BY _key")
	if err != nil {
		return nil, err
	}
	orders = nil
	for _, s := range truth.TikTokOrders(w.Config().Start, cutoff) {
		if s.UpdateTime.Before(cutoff) {
			orders = append(orders, finalState{key: tiktokshop.OrderKey(desc.shopID, s.ID), status: s.Status, updated: s.UpdateTime})
		}
	}
	out = append(out, stateCheck("raw tiktok_orders_changes", tt, orders))

	// Catalog items, TikTok products, official videos: every one there.
	var asins, products, videos []string
	for _, e := range truth.Catalog() {
		asins = append(asins, desc.marketplace+":"+e.ASIN)
	}
	for _, p := range truth.Products() {
		if p.OnTikTok() {
			products = append(products, tiktokshop.ProductKey(desc.shopID, p.TikTokID))
		}
	}
	for _, v := range truth.Videos() {
		if v.Account == simworld.AccountOfficial && v.PostTime.Before(cutoff) {
			videos = append(videos, v.ID)
		}
	}
	var notified []string
	for _, a := range delivered {
		notified = append(notified, a.NotificationID)
	}
	for _, p := range []struct {
		name, query string
		want        []string
	}{
		{"raw amazon_catalog_changes", "SELECT DISTINCT _key FROM amazon_catalog_changes", asins},
		{"raw tiktok_products_changes", "SELECT DISTINCT _key FROM tiktok_products_changes", products},
		{"raw tiktok_video_engagement_changes", "SELECT DISTINCT item_id FROM tiktok_video_engagement_changes", videos},
		{"raw tiktok_webhook_events_changes", "SELECT DISTINCT tts_notification_id FROM tiktok_webhook_events_changes", notified},
	} {
		have, err := keyed(ctx, wh, p.query)
		if err != nil {
			return nil, err
		}
		c := check{name: p.name}
		want := slices.Compact(slices.Sorted(slices.Values(p.want)))
		var first string
		for _, k := range want {
			if _, ok := have[k]; !ok {
				c.lost++
				first = cmpOr(first, k)
			}
		}
		c.ok = len(want) > 0 && c.lost == 0
		c.detail = fmt.Sprintf("%d in the truth, %d in the table, lost %d%s", len(want), len(have), c.lost, example(first))
		out = append(out, c)
	}
	return out, nil
}

// finalState is an order as the truth has it once it stopped changing.
type finalState struct {
	key, status string
	updated     time.Time
}

// stateCheck compares the latest version of every order in got (status,
// update time in Unix seconds, by key) with the truth's final states.
func stateCheck(name string, got map[string][]string, want []finalState) check {
	c := check{name: name}
	wrong := 0
	var first string
	for _, s := range want {
		g, ok := got[s.key]
		switch {
		case !ok:
			c.lost++
			first = cmpOr(first, s.key)
		case g[0] != s.status || g[1] != strconv.FormatInt(s.updated.Unix(), 10):
			wrong++
			first = cmpOr(first, fmt.Sprintf("%s is %v, truth %s at %d", s.key, g, s.status, s.updated.Unix()))
		}
	}
	c.ok = len(want) > 0 && c.lost == 0 && wrong == 0
	c.detail = fmt.Sprintf("%d orders settled in the truth, %d keys in the table, lost %d, not in their final state %d%s",
		len(want), len(got), c.lost, wrong, example(first))
	return c
}

func example(s string) string {
	if s == "" {
		return ""
	}
	return " (e.g. " + s + ")"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// keyed runs a query whose first column is a key and returns the other
// columns by key.
func keyed(ctx context.Context, wh *pipelinetest.Warehouse, q string) (map[string][]string, error) {
	rows, err := wh.Rows(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(rows))
	for _, r := range rows {
		out[r[0]] = r[1:]
	}
	return out, nil
}

// duplicateChecks counts, in every raw change table, changes stored twice
// (the same key and version, or the same event id), and in every
// current-state table, keys with more than one row after FINAL.
func duplicateChecks(ctx context.Context, wh *pipelinetest.Warehouse) ([]check, error) {
	tables, err := wh.Rows(ctx, "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' "+
		"AND (endsWith(name, '_changes') OR engine = 'ReplacingMergeTree') AND name NOT LIKE 'dead_letters%' ORDER BY name FORMAT TSVRaw")
	if err != nil {
		return nil, err
	}
	var out []check
	for _, t := range tables {
		name, sortingKey := t[0], t[1]
		var q string
		if strings.HasSuffix(name, "_changes") {
			q = fmt.Sprintf("SELECT count(), count() - uniqExact(_key, version), count() - uniqExact(event_id) FROM %s", name)
		} else {
			q = fmt.Sprintf("SELECT count(), count() - uniqExact(%s), 0 FROM %s FINAL", sortingKey, name)
		}
		rows, err := wh.Rows(ctx, q)
		if err != nil {
			return nil, err
		}
		r := rows[0]
		total, _ := strconv.Atoi(r[0])
		byKey, _ := strconv.Atoi(r[1])
		byEvent, _ := strconv.Atoi(r[2])
		c := check{name: "unique " + name, duplicated: max(byKey, byEvent), ok: byKey == 0 && byEvent == 0}
		if strings.HasSuffix(name, "_changes") {
			c.detail = fmt.Sprintf("%d changes, %d twice by key and version, %d twice by event id", total, byKey, byEvent)
		} else {
			c.detail = fmt.Sprintf("%d rows after FINAL, %d keys more than once", total, byKey)
		}
		out = append(out, c)
	}
	if len(out) < 20 {
		return nil, fmt.Errorf("only %d tables to check for duplicates: the migrations did not run", len(out))
	}
	return out, nil
}

// lagCheck reads the consumer lag of the loader and the transform.
func lagCheck(ctx context.Context, brokers string) (check, int64) {
	lags, err := status.Lags(ctx, []kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...)}, loadGroup, transformGroup)
	c := check{name: "consumer lag"}
	if err != nil {
		c.detail = err.Error()
		return c, -1
	}
	per := map[string]int64{}
	topics := map[string]int{}
	for _, l := range lags {
		per[l.Group] += l.Lag
		topics[l.Group]++
	}
	c.ok = per[loadGroup] == 0 && per[transformGroup] == 0 && topics[loadGroup] > 0 && topics[transformGroup] > 0
	c.detail = fmt.Sprintf("%s %d over %d topics, %s %d over %d topics", loadGroup, per[loadGroup], topics[loadGroup],
		transformGroup, per[transformGroup], topics[transformGroup])
	return c, per[loadGroup] + per[transformGroup]
}

// deadLetterCheck accounts for every open dead letter: only an entity the
// simulators broke (an entity fault, by the id they recorded) may be one,
// parked by the ingest stage that read it; anything else, of any stage, is
// a failure. An entity broken in a window whose transaction a kill
// aborted leaves no dead letter, so fewer may be planted than broken.
func deadLetterCheck(ctx context.Context, wh *pipelinetest.Warehouse, broken []string) (check, error) {
	rows, err := wh.Rows(ctx, "SELECT stage, source_topic, JSONExtractString(value, 'item_id'), replaceAll(substring(reason, 1, 120), '\\t', ' '), count() "+
		"FROM dead_letters_open GROUP BY ALL ORDER BY ALL FORMAT TSVRaw")
	if err != nil {
		return check{}, err
	}
	c := check{name: "open dead letters", ok: true}
	planted, other := 0, 0
	var unexplained []string
	for _, r := range rows {
		n, _ := strconv.Atoi(r[4])
		if strings.HasPrefix(r[0], "ingest") && r[2] != "" && slices.Contains(broken, r[2]) {
			planted += n
			continue
		}
		other += n
		unexplained = append(unexplained, strings.Join(r, " | "))
	}
	c.ok = other == 0
	c.detail = fmt.Sprintf("%d planted by the %d entity faults (each a broken entity's id), %d unaccounted for", planted, len(broken), other)
	if other > 0 {
		c.detail += ": " + strings.Join(unexplained, "; ")
	}
	return c, nil
}

// oracleCheck compares product_daily and product_links with the oracle of
// package transform/oracle, computed in SQL over the raw change tables.
// It returns the lines of both sides that are equal and the oracle's.
func oracleCheck(ctx context.Context, wh *pipelinetest.Warehouse) (check, int, int, error) {
	if _, err := wh.Query(ctx, oracle.MappingTable); err != nil {
		return check{}, 0, 0, err
	}
	zones, err := wh.Rows(ctx, "SELECT DISTINCT date_time_zone FROM (SELECT date_time_zone FROM amazon_sales_traffic_changes UNION ALL "+
		"SELECT date_time_zone FROM amazon_search_query_performance_changes UNION ALL SELECT date_time_zone FROM amazon_search_terms_changes UNION ALL "+
		"SELECT date_time_zone FROM tiktok_video_performance_changes) WHERE date_time_zone NOT IN ('', 'UTC')")
	if err != nil {
		return check{}, 0, 0, err
	}
	var zs []string
	for _, z := range zones {
		zs = append(zs, z[0])
	}
	q := oracle.NewQueries(false, zs)
	lines := func(sql string) ([]string, error) {
		body, err := wh.Query(ctx, sql+" FORMAT TSVRaw")
		if err != nil {
			return nil, err
		}
		var out []string
		for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
		return out, nil
	}
	var res [4][]string
	for i, sql := range []string{q.Daily, q.WantDaily, q.Links, q.WantLinks} {
		if res[i], err = lines(sql); err != nil {
			return check{}, 0, 0, err
		}
	}
	// Lines sort as strings in Go and in ClickHouse alike only for ASCII;
	// sort here so that Diff's binary searches hold.
	for i := range res {
		slices.Sort(res[i])
	}
	equal := func(got, want []string) int {
		n := 0
		for _, w := range want {
			if _, ok := slices.BinarySearch(got, w); ok {
				n++
			}
		}
		return n
	}
	eqDaily, eqLinks := equal(res[0], res[1]), equal(res[2], res[3])
	okDaily := slices.Equal(res[0], res[1]) && len(res[1]) > 0
	okLinks := slices.Equal(res[2], res[3]) && len(res[3]) > 0
	c := check{name: "oracle product_daily, product_links", ok: okDaily && okLinks,
		detail: fmt.Sprintf("product_daily %d rows, oracle %d, equal %d; product_links %d, oracle %d, equal %d",
			len(res[0]), len(res[1]), eqDaily, len(res[2]), len(res[3]), eqLinks)}
	if !c.ok {
		c.detail += fmt.Sprintf("\n  product_daily diff (- table, + oracle; columns product_key | date | %s):\n%s\n  product_links diff:\n%s",
			oracle.Columns(), tailOf(oracle.Diff(res[0], res[1]), 6000), tailOf(oracle.Diff(res[2], res[3]), 3000))
	}
	return c, eqDaily + eqLinks, len(res[1]) + len(res[3]), nil
}
