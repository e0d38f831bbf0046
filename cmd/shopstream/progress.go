package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// joinedQuery is what `run` suggests to look at the joined table: the latest
// days of products linked across both channels (unmatched products keep an
// amazon: or tiktok: key).
const joinedQuery = "SELECT product_key, date, tiktok_views, tiktok_saves, tiktok_video_gmv, tiktok_orders, " +
	"amazon_search_impressions, amazon_best_sellers_rank_best, amazon_sessions, amazon_units, amazon_sales " +
	"FROM product_daily FINAL WHERE NOT (startsWith(product_key, 'amazon:') OR startsWith(product_key, 'tiktok:')) " +
	"ORDER BY date DESC, product_key LIMIT 20 FORMAT PrettyCompact"

// progress is a reading of the pipeline's counters.
type progress struct {
	ingested, transformed, loaded, lag float64
	freshSum, freshCount               float64
	newest                             float64 // newest source_ts loaded, Unix seconds
}

func readProgress(g prometheus.Gatherer) (progress, error) {
	families, err := g.Gather()
	if err != nil {
		return progress{}, fmt.Errorf("gather metrics: %w", err)
	}
	var p progress
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "shopstream_ingest_records_total":
				p.ingested += m.GetCounter().GetValue()
			case "shopstream_transform_rows_emitted_total":
				p.transformed += m.GetCounter().GetValue()
			case "shopstream_load_rows_inserted_total":
				p.loaded += m.GetCounter().GetValue()
			case "shopstream_load_consumer_lag":
				p.lag += m.GetGauge().GetValue()
			case "shopstream_load_freshness_seconds":
				p.freshSum += m.GetHistogram().GetSampleSum()
				p.freshCount += float64(m.GetHistogram().GetSampleCount())
			case "shopstream_load_newest_change_seconds":
				p.newest = max(p.newest, m.GetGauge().GetValue())
			}
		}
	}
	return p, nil
}

// reportProgress prints a line per interval: records per stage, the loader's
// lag and the mean freshness (source change to ClickHouse) of the interval.
func reportProgress(ctx context.Context, out io.Writer, g prometheus.Gatherer, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last progress
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p, err := readProgress(g)
		if err != nil {
			continue
		}
		fmt.Fprintln(out, progressLine(p, last, time.Now()))
		last = p
	}
}

// progressLine says what happened since last. Freshness is the mean, over
// the interval's loaded changes, of source change to ClickHouse: while
// history is backfilled that is hours, so the age of the newest change
// loaded comes with it.
func progressLine(p, last progress, now time.Time) string {
	fresh := "-"
	if n := p.freshCount - last.freshCount; n > 0 {
		fresh = (time.Duration((p.freshSum - last.freshSum) / n * float64(time.Second))).Round(time.Millisecond).String()
	}
	if p.newest > 0 {
		age := max(now.Sub(time.UnixMilli(int64(p.newest*1000))), 0).Round(time.Second)
		fresh += fmt.Sprintf(" (newest change %s ago)", age)
	}
	return fmt.Sprintf("progress  ingested %.0f records | joined %.0f rows | loaded %.0f rows | load lag %.0f | freshness %s",
		p.ingested, p.transformed, p.loaded, p.lag, fresh)
}
