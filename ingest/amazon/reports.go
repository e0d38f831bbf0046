package amazon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/shopstream/shopstream/internal/retry"
)

// Report types the client requests.
const (
	ReportSalesAndTraffic        = "GET_SALES_AND_TRAFFIC_REPORT"
	ReportSearchTerms            = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
	ReportSearchQueryPerformance = "GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT"
	ReportAllOrdersByLastUpdate  = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
)

// Report processing statuses.
const (
	StatusInQueue    = "IN_QUEUE"
	StatusInProgress = "IN_PROGRESS"
	StatusDone       = "DONE"
	StatusCancelled  = "CANCELLED"
	StatusFatal      = "FATAL"
)

// ReportSpec is a createReport request.
type ReportSpec struct {
	ReportType     string            `json:"reportType"`
	MarketplaceIDs []string          `json:"marketplaceIds"`
	DataStartTime  string            `json:"dataStartTime,omitempty"`
	DataEndTime    string            `json:"dataEndTime,omitempty"`
	ReportOptions  map[string]string `json:"reportOptions,omitempty"`
}

// Report is getReport's answer.
type Report struct {
	ReportID         string   `json:"reportId"`
	ReportType       string   `json:"reportType"`
	MarketplaceIDs   []string `json:"marketplaceIds"`
	DataStartTime    string   `json:"dataStartTime"`
	DataEndTime      string   `json:"dataEndTime"`
	CreatedTime      string   `json:"createdTime"`
	ProcessingStatus string   `json:"processingStatus"`
	ProcessingEnd    string   `json:"processingEndTime"`
	ReportDocumentID string   `json:"reportDocumentId"`
}

// ReportDocument is getReportDocument's answer. URL is a pre-signed
// credential valid for five minutes; it is never logged.
type ReportDocument struct {
	ReportDocumentID     string `json:"reportDocumentId"`
	URL                  string `json:"url"`
	CompressionAlgorithm string `json:"compressionAlgorithm"`
}

// CreateReport requests a report and returns its id. If a response is cut
// short after Amazon accepted the request, the retry creates a second
// report and the first is left to expire: reports cannot be looked up by
// request, and an abandoned one costs only a createReport token.
func (c *Client) CreateReport(ctx context.Context, spec ReportSpec) (string, error) {
	if len(spec.MarketplaceIDs) == 0 {
		spec.MarketplaceIDs = []string{c.cfg.MarketplaceID}
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("create report %s: %w", spec.ReportType, err)
	}
	type created struct {
		ReportID string `json:"reportId"`
	}
	resp, err := callKeyed(ctx, c, request{op: OpCreateReport, method: "POST", path: "/reports/2021-06-30/reports", body: body},
		"create report "+spec.ReportType, "reportId", func(r created) string { return r.ReportID })
	if err != nil {
		return "", err
	}
	return resp.ReportID, nil
}

// GetReport returns a report's status.
func (c *Client) GetReport(ctx context.Context, id string) (Report, error) {
	return callKeyed(ctx, c, request{op: OpGetReport, method: "GET", path: "/reports/2021-06-30/reports/" + url.PathEscape(id)},
		"get report "+id, "processingStatus", func(r Report) string { return r.ProcessingStatus })
}

// GetReportDocument returns a document's pre-signed URL.
func (c *Client) GetReportDocument(ctx context.Context, docID string) (ReportDocument, error) {
	return callKeyed(ctx, c, request{op: OpGetReportDocument, method: "GET", path: "/reports/2021-06-30/documents/" + url.PathEscape(docID)},
		"get report document "+docID, "url", func(d ReportDocument) string { return d.URL })
}

// documentURLTTL is how long Amazon's pre-signed document URLs work; the
// client asks for a new URL when less than documentURLMargin of it is left.
const (
	documentURLTTL    = 5 * time.Minute
	documentURLMargin = 30 * time.Second
	maxDocument       = 1 << 30
)

// errURLExpired marks a download refused because the pre-signed URL expired.
var errURLExpired = errors.New("document url expired")

// FetchDocument downloads a report document, decompresses it, and hands it
// to accept (nil accepts anything). A download that fails, is cut short or
// that accept refuses is retried; an expired URL is replaced with a fresh
// one from getReportDocument.
func (c *Client) FetchDocument(ctx context.Context, docID string, accept func([]byte) error) ([]byte, error) {
	var doc ReportDocument
	var fetched time.Time
	var body []byte
	err := retry.Do(ctx, c.retryPolicy("fetch report document "+docID), func(attempt int) error {
		if attempt > 1 {
			c.count(OpDownload, func(s *OperationStats) { s.Retries++ })
		}
		if doc.URL == "" || c.clock.Now().After(fetched.Add(documentURLTTL-documentURLMargin)) {
			var err error
			if doc, err = c.GetReportDocument(ctx, docID); err != nil {
				return err
			}
			fetched = c.clock.Now()
		}
		b, err := c.download(ctx, doc)
		if err == nil && accept != nil {
			if aerr := accept(b); aerr != nil {
				c.count(OpDownload, func(s *OperationStats) { s.Malformed++ })
				err = errMalformed{aerr}
			}
		}
		switch {
		case err == nil:
			body = b
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("fetch report document %s: %w", docID, ctx.Err())
		case errors.Is(err, errURLExpired):
			doc.URL = "" // ask for a new URL at once
			return retry.Immediately(err)
		}
		return retry.Retryable(err)
	})
	return body, err
}

// download makes one GET of a pre-signed URL. The URL carries its own
// signature, so no access token is sent.
func (c *Client) download(ctx context.Context, doc ReportDocument) ([]byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(actx, http.MethodGet, doc.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("download: invalid document url: %w", redactURLError(err))
	}
	hr.Header.Set("user-agent", c.ua)
	resp, err := c.http.Do(hr)
	c.count(OpDownload, func(s *OperationStats) { s.Requests++ })
	if err != nil {
		c.count(OpDownload, func(s *OperationStats) { s.ServerErrors++ })
		return nil, fmt.Errorf("download: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument))
	if err != nil {
		return nil, fmt.Errorf("download: read: %w", redactURLError(err))
	}
	switch {
	case resp.StatusCode == http.StatusForbidden && bytes.Contains(b, []byte("expired")):
		return nil, errURLExpired
	case resp.StatusCode != http.StatusOK:
		c.count(OpDownload, func(s *OperationStats) { s.ServerErrors++ })
		return nil, fmt.Errorf("download: HTTP %d", resp.StatusCode)
	}
	// The transport may already have undone a Content-Encoding: gzip, so
	// look at the bytes rather than trust compressionAlgorithm alone.
	if doc.CompressionAlgorithm == "GZIP" && len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("download: gunzip: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, maxDocument))
		if err != nil {
			return nil, fmt.Errorf("download: gunzip: %w", err)
		}
		return out, nil
	}
	return b, nil
}

// ReportResult is a finished report's document.
type ReportResult struct {
	Report   Report
	Document []byte
}

// outcome turns a terminal report into the report queue's answer: DONE
// returns the report, CANCELLED ErrReportCancelled, FATAL a
// *ReportFatalError carrying the reason document's content (fetched here).
func (c *Client) outcome(ctx context.Context, r Report) (Report, error) {
	switch r.ProcessingStatus {
	case StatusDone:
		if r.ReportDocumentID == "" {
			return r, fmt.Errorf("report %s is DONE without a reportDocumentId", r.ReportID)
		}
		return r, nil
	case StatusCancelled:
		return r, fmt.Errorf("report %s (%s): %w", r.ReportID, r.ReportType, ErrReportCancelled)
	case StatusFatal:
		fe := &ReportFatalError{ReportID: r.ReportID, ReportType: r.ReportType}
		if r.ReportDocumentID != "" {
			b, err := c.FetchDocument(ctx, r.ReportDocumentID, acceptReason)
			if err != nil {
				fe.Reason = "reason document unavailable: " + err.Error()
			} else {
				fe.Reason = parseReason(b)
			}
		}
		c.log.Warn().Str("report_id", r.ReportID).Str("report_type", r.ReportType).Str("reason", fe.Reason).Msg("report FATAL")
		return r, fe
	}
	return r, fmt.Errorf("report %s: %s is not a terminal status", r.ReportID, clip(r.ProcessingStatus))
}

// RunReport creates a report, waits for it and downloads its document;
// parse (nil accepts anything) is applied to the document so that a
// document cut short in transit is downloaded again. Reports run through the
// client's queue: a report prefetched with the same specification is taken
// over, and while RunReport waits, the other callers' and prefetched reports
// are created and polled too.
func (c *Client) RunReport(ctx context.Context, spec ReportSpec, parse func([]byte) error) (ReportResult, error) {
	return c.runJob(ctx, c.reports.claim(spec), parse)
}

// runJob waits for a claimed report and downloads its document.
func (c *Client) runJob(ctx context.Context, j *reportJob, parse func([]byte) error) (ReportResult, error) {
	r, err := c.reports.await(ctx, j)
	if err != nil {
		return ReportResult{Report: r}, err
	}
	return c.fetchResult(ctx, r, parse)
}

// fetchResult downloads a DONE report's document.
func (c *Client) fetchResult(ctx context.Context, r Report, parse func([]byte) error) (ReportResult, error) {
	doc, err := c.FetchDocument(ctx, r.ReportDocumentID, parse)
	if err != nil {
		return ReportResult{Report: r}, fmt.Errorf("report %s: %w", r.ReportID, err)
	}
	return ReportResult{Report: r, Document: doc}, nil
}

// acceptReason refuses a JSON reason document cut short in transit.
func acceptReason(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' && !json.Valid(t) {
		return errors.New("reason document is not valid JSON")
	}
	return nil
}
