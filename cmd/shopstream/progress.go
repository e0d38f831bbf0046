package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/load"
)

// joinedQuery is what `run` suggests to look at the joined table: the latest
// days of products linked across both channels (unmatched products keep an
// amazon: or tiktok: key).
const joinedQuery = "SELECT product_key, date, tiktok_views, tiktok_saves, tiktok_video_gmv, tiktok_orders, " +
	"amazon_search_impressions, amazon_best_sellers_rank_best, amazon_sessions, amazon_units, amazon_sales " +
	"FROM product_daily FINAL WHERE NOT (startsWith(product_key, 'amazon:') OR startsWith(product_key, 'tiktok:')) " +
	"ORDER BY date DESC, product_key LIMIT 20 FORMAT PrettyCompact"

// metricTransformRows is the transform's metric the progress line reads;
// the ingest stages and the loader declare theirs (stage.Metric*,
// load.Metric*). TestProgressReadsRegisteredMetrics fails when a registered
// name changes.
const metricTransformRows = "shopstream_transform_rows_emitted_total"

// progressMetrics are every name readProgress reads.
var progressMetrics = []string{stage.MetricRecords, stage.MetricBackfillDays, stage.MetricBackfillDaysDone, stage.MetricBackfillDone,
	metricTransformRows, load.MetricRowsInserted, load.MetricConsumerLag, load.MetricFreshness, load.MetricNewestChange,
	load.MetricRetries, load.MetricWarehouseUp, load.MetricBrokersUp}

// progress is a reading of the pipeline's counters.
type progress struct {
	ingested, transformed, loaded, lag float64
	freshSum, freshCount               float64
	newest                             float64 // newest source_ts loaded, Unix seconds
	// loadRetries counts the loader's retried attempts; away lists what
	// the loader waits for (warehouse, kafka) during an outage.
	loadRetries float64
	away        []string
	// backfill is each source stage's backfill, by source.
	backfill map[string]*sourceBackfill
}

// sourceBackfill is how far one source's backfill is.
type sourceBackfill struct {
	days, done float64 // days of history, days read
	doneAt     float64 // when it finished, Unix seconds; 0 while it runs
}

func readProgress(g prometheus.Gatherer) (progress, error) {
	families, err := g.Gather()
	if err != nil {
		return progress{}, fmt.Errorf("gather metrics: %w", err)
	}
	p := progress{backfill: map[string]*sourceBackfill{}}
	source := func(m *dto.Metric) *sourceBackfill {
		for _, l := range m.GetLabel() {
			if l.GetName() == "source" {
				b := p.backfill[l.GetValue()]
				if b == nil {
					b = &sourceBackfill{}
					p.backfill[l.GetValue()] = b
				}
				return b
			}
		}
		return &sourceBackfill{}
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case stage.MetricRecords:
				p.ingested += m.GetCounter().GetValue()
			case stage.MetricBackfillDays:
				source(m).days = m.GetGauge().GetValue()
			case stage.MetricBackfillDaysDone:
				source(m).done = m.GetGauge().GetValue()
			case stage.MetricBackfillDone:
				source(m).doneAt = m.GetGauge().GetValue()
			case metricTransformRows:
				p.transformed += m.GetCounter().GetValue()
			case load.MetricRowsInserted:
				p.loaded += m.GetCounter().GetValue()
			case load.MetricConsumerLag:
				p.lag += m.GetGauge().GetValue()
			case load.MetricFreshness:
				p.freshSum += m.GetHistogram().GetSampleSum()
				p.freshCount += float64(m.GetHistogram().GetSampleCount())
			case load.MetricNewestChange:
				p.newest = max(p.newest, m.GetGauge().GetValue())
			case load.MetricRetries:
				p.loadRetries += m.GetCounter().GetValue()
			case load.MetricWarehouseUp, load.MetricBrokersUp:
				if m.GetGauge().GetValue() == 0 {
					p.away = append(p.away, map[string]string{load.MetricWarehouseUp: "warehouse", load.MetricBrokersUp: "kafka"}[f.GetName()])
				}
			}
		}
	}
	return p, nil
}

// reportProgress prints a line per interval: records per stage, the loader's
// lag, the mean freshness (source change to ClickHouse) of the interval, and
// each source's backfill (history read, time left, or how long it took
// after started).
func reportProgress(ctx context.Context, out io.Writer, g prometheus.Gatherer, every time.Duration, started time.Time) {
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
		fmt.Fprintln(out, progressLine(p, last, time.Now(), started))
		last = p
	}
}

// progressLine says what happened since last. Freshness is the mean, over
// the interval's loaded changes, of source change to ClickHouse, with the
// age of the newest change loaded. While a backfill runs both are the age
// of history (hundreds of hours), which says nothing about the pipeline:
// the line says "backfilling" and how far the history is read instead.
func progressLine(p, last progress, now, started time.Time) string {
	fresh := "-"
	if n := p.freshCount - last.freshCount; n > 0 {
		fresh = (time.Duration((p.freshSum - last.freshSum) / n * float64(time.Second))).Round(time.Millisecond).String()
	}
	if p.newest > 0 {
		age := max(now.Sub(time.UnixMilli(int64(p.newest*1000))), 0).Round(time.Second)
		fresh += fmt.Sprintf(" (newest change %s ago)", age)
	}
	if done, days, ok := backfilling(p.backfill); ok {
		fresh = fmt.Sprintf("backfilling, %.0f of %.0f days", done, days)
	}
	line := fmt.Sprintf("progress  ingested %.0f records | joined %.0f rows | loaded %.0f rows | load lag %.0f | freshness %s",
		p.ingested, p.transformed, p.loaded, p.lag, fresh)
	if b := backfillPart(p.backfill, now, started); b != "" {
		line += " | " + b
	}
	if len(p.away) > 0 {
		line += fmt.Sprintf(" | load waiting for %s (retries %.0f)", strings.Join(p.away, ", "), p.loadRetries)
	}
	return line
}

// backfilling reports whether a source's backfill still runs, and how far
// the history is read: the days done of the source furthest behind (the
// one freshness waits for), of its days.
func backfilling(bs map[string]*sourceBackfill) (done, days float64, ok bool) {
	for _, b := range bs {
		if b.doneAt > 0 || b.days <= 0 {
			continue
		}
		if !ok || b.done/b.days < done/days {
			done, days, ok = b.done, b.days, true
		}
	}
	return done, days, ok
}

// backfillPart describes the sources' backfills: while one runs, per source
// the days of history read of those there are and an estimate of the time
// left (at the pace since started); once all are done, how long each took
// after started.
func backfillPart(bs map[string]*sourceBackfill, now, started time.Time) string {
	if len(bs) == 0 {
		return ""
	}
	names := make([]string, 0, len(bs))
	for n := range bs {
		names = append(names, n)
	}
	sort.Strings(names)
	took := func(b *sourceBackfill) time.Duration {
		return max(time.UnixMilli(int64(b.doneAt*1000)).Sub(started), 0).Round(time.Second)
	}
	var parts []string
	var slowest time.Duration
	running := false
	for _, n := range names {
		b := bs[n]
		switch {
		case b.doneAt > 0:
			parts = append(parts, fmt.Sprintf("%s done in %s", n, took(b)))
			slowest = max(slowest, took(b))
		case b.days > 0:
			running = true
			eta := "?"
			if elapsed := now.Sub(started); b.done > 0 && elapsed > 0 {
				eta = time.Duration(float64(elapsed) * (b.days - b.done) / b.done).Round(time.Second).String()
			}
			parts = append(parts, fmt.Sprintf("%s %.1f/%.0f days ETA %s", n, b.done, b.days, eta))
		default:
			running = true
			parts = append(parts, n+" starting")
		}
	}
	if !running {
		return fmt.Sprintf("backfill done in %s (%s)", slowest, strings.Join(parts, ", "))
	}
	return "backfill " + strings.Join(parts, ", ")
}
