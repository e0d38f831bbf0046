package amazon

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// generated returns when a report was finished, or now if Amazon did not say.
func (c *Client) generated(r Report) time.Time {
	if t, err := parseTime(r.ProcessingEnd); err == nil {
		return t
	}
	return c.clock.Now().UTC()
}

// ReportDoc is a report's parsed document with the report it came from.
type ReportDoc[T any] struct {
	ReportID string
	// Generated is when Amazon finished the report (processingEndTime).
	Generated time.Time
	// Report is the parsed document; nil when the report failed or was
	// cancelled.
	Report *T
}

// runDoc waits for a claimed report and parses its document with parse.
// ReportID and Generated are set whatever the error; Report only without
// one.
func runDoc[T any](ctx context.Context, c *Client, j *reportJob, parse func([]byte) (*T, error)) (ReportDoc[T], error) {
	var rep *T
	res, err := c.runJob(ctx, j, func(b []byte) error {
		var err error
		rep, err = parse(b)
		return err
	})
	d := ReportDoc[T]{ReportID: res.Report.ReportID, Generated: c.generated(res.Report)}
	if err == nil {
		d.Report = rep
	}
	return d, err
}

// SalesTrafficDay is one day's Sales & Traffic report; Report is nil when
// Amazon cancelled the report for lack of data.
type SalesTrafficDay struct {
	Day Date
	ReportDoc[SalesAndTrafficReport]
}

// SalesAndTrafficDay requests GET_SALES_AND_TRAFFIC_REPORT for one day at
// SKU granularity. Per-ASIN rows carry no date and aggregate the whole
// requested range, so per-ASIN per-day figures need one report per day. A day
// without data (CANCELLED) is not an error: Report is nil.
func (c *Client) SalesAndTrafficDay(ctx context.Context, day Date) (SalesTrafficDay, error) {
	doc, err := runDoc(ctx, c, c.reports.claim(c.salesTrafficSpec(day)), ParseSalesAndTraffic)
	out := SalesTrafficDay{Day: day, ReportDoc: doc}
	if errors.Is(err, ErrReportCancelled) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("sales and traffic %s: %w", day, err)
	}
	return out, nil
}

func (c *Client) salesTrafficSpec(day Date) ReportSpec {
	loc := c.cfg.ReportZone
	return ReportSpec{
		ReportType:    ReportSalesAndTraffic,
		DataStartTime: day.Start(loc).Format("2006-01-02T15:04:05-07:00"),
		DataEndTime:   day.End(loc).Add(-1e9).Format("2006-01-02T15:04:05-07:00"),
		ReportOptions: map[string]string{"dateGranularity": "DAY", "asinGranularity": "SKU"},
	}
}

// PrefetchSalesAndTraffic hints that SalesAndTrafficDay will be asked for
// these days soon. Prefetch hints are cheap: the client creates the hinted
// reports in the order given, only with a createReport token to spare and
// within ReportsInFlight, keeps at most twice ReportsInFlight hints
// waiting, and hands each report to the call that later asks for the same
// one, which then finds it generated or under way. A hint nobody takes
// within an hour is dropped.
func (c *Client) PrefetchSalesAndTraffic(days ...Date) {
	specs := make([]ReportSpec, len(days))
	for i, d := range days {
		specs[i] = c.salesTrafficSpec(d)
	}
	c.reports.prefetch(specs...)
}

// PrefetchBrandAnalytics hints that SearchTerms(p) and
// SearchQueryPerformance(p, asins) will be asked soon (see
// PrefetchSalesAndTraffic).
func (c *Client) PrefetchBrandAnalytics(p Period, asins []string) {
	specs := []ReportSpec{c.baSpec(ReportSearchTerms, p, nil)}
	for _, batch := range BatchASINs(asins) {
		specs = append(specs, c.sqpSpec(p, batch))
	}
	c.reports.prefetch(specs...)
}

func (c *Client) sqpSpec(p Period, batch []string) ReportSpec {
	return c.baSpec(ReportSearchQueryPerformance, p, map[string]string{"asin": strings.Join(batch, " ")})
}

// baSpec is a Brand Analytics report request for period p: dates only, the
// time component is ignored.
func (c *Client) baSpec(typ string, p Period, opts map[string]string) ReportSpec {
	o := map[string]string{"reportPeriod": p.Kind}
	for k, v := range opts {
		o[k] = v
	}
	return ReportSpec{ReportType: typ, DataStartTime: p.Start.String() + "T00:00:00Z", DataEndTime: p.End.String() + "T00:00:00Z", ReportOptions: o}
}

// SearchTermsPeriod is one period's search terms report.
type SearchTermsPeriod struct {
	Period Period
	ReportDoc[SearchTermsReport]
}

// SearchTerms requests the Brand Analytics search terms report for period p
// (use complete Sunday–Saturday weeks from CompleteWeeks). A period not yet
// published is cancelled by Amazon: the error wraps ErrReportCancelled and
// the period should be asked again later.
func (c *Client) SearchTerms(ctx context.Context, p Period) (SearchTermsPeriod, error) {
	doc, err := runDoc(ctx, c, c.reports.claim(c.baSpec(ReportSearchTerms, p, nil)), ParseSearchTerms)
	out := SearchTermsPeriod{Period: p, ReportDoc: doc}
	if err != nil {
		return out, fmt.Errorf("search terms %s %s: %w", p.Kind, p.Start, err)
	}
	return out, nil
}

// SQPBatch is one SQP report: a period and the ASINs it was asked for. Err
// is set when that report failed (a *ReportFatalError, ErrReportCancelled,
// ...); other batches are unaffected.
type SQPBatch struct {
	Period Period
	ASINs  []string
	ReportDoc[SearchQueryPerformanceReport]
	Err error
}

// maxSQPAsinOption is the limit of the SQP report's asin option:
// space-separated ASINs, at most 200 characters.
const maxSQPAsinOption = 200

// BatchASINs splits asins into space-joined groups of at most 200
// characters, as the SQP report's asin option allows.
func BatchASINs(asins []string) [][]string {
	var out [][]string
	var cur []string
	n := 0
	for _, a := range asins {
		if a == "" {
			continue
		}
		add := len(a)
		if len(cur) > 0 {
			add++
		}
		if len(cur) > 0 && n+add > maxSQPAsinOption {
			out = append(out, cur)
			cur, n, add = nil, 0, len(a)
		}
		cur = append(cur, a)
		n += add
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// SearchQueryPerformance requests the SQP report for period p, one report
// per batch of ASINs; the batches are queued together, so they are generated
// concurrently. A failed batch is reported in its Err; the error returned is
// only for a cancelled context.
func (c *Client) SearchQueryPerformance(ctx context.Context, p Period, asins []string) ([]SQPBatch, error) {
	batches := BatchASINs(asins)
	jobs := make([]*reportJob, len(batches))
	for i, batch := range batches {
		jobs[i] = c.reports.claim(c.sqpSpec(p, batch))
	}
	var out []SQPBatch
	defer func() {
		// Batches not waited for (ctx ended) stay queued for a retry.
		for _, j := range jobs[len(out):] {
			c.reports.release(j, true)
		}
	}()
	for i, batch := range batches {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		doc, err := runDoc(ctx, c, jobs[i], ParseSearchQueryPerformance)
		b := SQPBatch{Period: p, ASINs: batch, ReportDoc: doc}
		if err != nil {
			b.Err = fmt.Errorf("search query performance %s %s: %w", p.Kind, p.Start, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// CatalogItem is a Catalog Items 2022-04-01 Item with the datasets
// shopstream reads: identifiers, salesRanks and summaries.
type CatalogItem struct {
	ASIN        string `json:"asin"`
	Identifiers []struct {
		MarketplaceID string `json:"marketplaceId"`
		Identifiers   []struct {
			IdentifierType string `json:"identifierType"`
			Identifier     string `json:"identifier"`
		} `json:"identifiers"`
	} `json:"identifiers"`
	SalesRanks []struct {
		MarketplaceID       string `json:"marketplaceId"`
		ClassificationRanks []struct {
			ClassificationID string `json:"classificationId"`
			Title            string `json:"title"`
			Link             string `json:"link"`
			Rank             int64  `json:"rank"`
		} `json:"classificationRanks"`
		DisplayGroupRanks []struct {
			WebsiteDisplayGroup string `json:"websiteDisplayGroup"`
			Title               string `json:"title"`
			Link                string `json:"link"`
			Rank                int64  `json:"rank"`
		} `json:"displayGroupRanks"`
	} `json:"salesRanks"`
	Summaries []struct {
		MarketplaceID        string `json:"marketplaceId"`
		Brand                string `json:"brand"`
		BrowseClassification *struct {
			DisplayName      string `json:"displayName"`
			ClassificationID string `json:"classificationId"`
		} `json:"browseClassification"`
		Color                   string `json:"color"`
		ItemClassification      string `json:"itemClassification"`
		ItemName                string `json:"itemName"`
		Manufacturer            string `json:"manufacturer"`
		ModelNumber             string `json:"modelNumber"`
		PackageQuantity         *int64 `json:"packageQuantity"`
		PartNumber              string `json:"partNumber"`
		Size                    string `json:"size"`
		Style                   string `json:"style"`
		WebsiteDisplayGroup     string `json:"websiteDisplayGroup"`
		WebsiteDisplayGroupName string `json:"websiteDisplayGroupName"`
		ReleaseDate             string `json:"releaseDate"`
	} `json:"summaries"`
}

// GetCatalogItem reads an ASIN's identifiers, sales ranks and summary in the
// client's marketplace.
func (c *Client) GetCatalogItem(ctx context.Context, asin string) (CatalogItem, error) {
	q := url.Values{"marketplaceIds": {c.cfg.MarketplaceID}, "includedData": {"identifiers,salesRanks,summaries"}}
	return callKeyed(ctx, c, request{op: OpGetCatalogItem, method: "GET", path: "/catalog/2022-04-01/items/" + url.PathEscape(asin), query: q},
		"get catalog item "+asin, "asin", func(it CatalogItem) string { return it.ASIN })
}

// CatalogSnapshot reads every ASIN of the list (the stage calls it on its
// schedule, e.g. hourly for sales ranks). Failures are per ASIN, so one
// unknown ASIN does not stop the others; only a cancelled context stops it.
func (c *Client) CatalogSnapshot(ctx context.Context, asins []string) ([]CatalogItem, map[string]error, error) {
	var items []CatalogItem
	errs := map[string]error{}
	for _, a := range asins {
		if err := ctx.Err(); err != nil {
			return items, errs, err
		}
		it, err := c.GetCatalogItem(ctx, a)
		if err != nil {
			errs[a] = err
			continue
		}
		items = append(items, it)
	}
	return items, errs, nil
}
