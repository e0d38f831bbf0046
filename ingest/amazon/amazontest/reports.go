package amazontest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/simapi"
)

// Report types the simulator generates.
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

// reportRetention is how long reports stay visible ("Reports are retained for
// a maximum of 90 days").
const reportRetention = 90 * 24 * time.Hour

// CreateReportSpecification is createReport's body.
type CreateReportSpecification struct {
	ReportType     string            `json:"reportType"`
	MarketplaceIDs []string          `json:"marketplaceIds"`
	DataStartTime  string            `json:"dataStartTime,omitempty"`
	DataEndTime    string            `json:"dataEndTime,omitempty"`
	ReportOptions  map[string]string `json:"reportOptions,omitempty"`
}

// Report is getReport's body.
type Report struct {
	MarketplaceIDs      []string `json:"marketplaceIds,omitempty"`
	ReportID            string   `json:"reportId"`
	ReportType          string   `json:"reportType"`
	DataStartTime       string   `json:"dataStartTime,omitempty"`
	DataEndTime         string   `json:"dataEndTime,omitempty"`
	ReportScheduleID    string   `json:"reportScheduleId,omitempty"`
	CreatedTime         string   `json:"createdTime"`
	ProcessingStatus    string   `json:"processingStatus"`
	ProcessingStartTime string   `json:"processingStartTime,omitempty"`
	ProcessingEndTime   string   `json:"processingEndTime,omitempty"`
	ReportDocumentID    string   `json:"reportDocumentId,omitempty"`
}

// ReportDocument is getReportDocument's body.
type ReportDocument struct {
	ReportDocumentID     string `json:"reportDocumentId"`
	URL                  string `json:"url"`
	CompressionAlgorithm string `json:"compressionAlgorithm,omitempty"`
}

// report is one report's whole life. Its outcome is a pure function of its
// specification, its processing end time and the world, so it is resolved
// lazily, the first time anyone looks after processing ends.
type report struct {
	id          string
	spec        CreateReportSpecification
	dataStart   time.Time
	dataEnd     time.Time
	created     time.Time
	procStart   time.Time
	procEnd     time.Time
	randomFatal bool
	cancelled   bool
	cancelledAt time.Time
	resolved    bool
	status      string
	doc         *document
}

type document struct {
	id          string
	contentType string
	body        []byte // uncompressed
	gzip        []byte // nil when the document is served uncompressed
}

func supportedReport(t string) bool {
	switch t {
	case ReportSalesAndTraffic, ReportSearchTerms, ReportSearchQueryPerformance, ReportAllOrdersByLastUpdate:
		return true
	}
	return false
}

func writeReportError(w http.ResponseWriter, status int, code, msg string) {
	writeError(w, status, code, msg, "")
}

// createReport is POST /reports/2021-06-30/reports.
func (s *Simulator) createReport(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeReportError(w, http.StatusUnsupportedMediaType, CodeUnsupported, "The request payload must be application/json.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "Could not read the request body.")
		return
	}
	var spec CreateReportSpecification
	if err := json.Unmarshal(body, &spec); err != nil {
		writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "Invalid input: the request body is not valid JSON.")
		return
	}
	now := s.Clock().Now()
	switch {
	case spec.ReportType == "":
		writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "reportType is required.")
		return
	case len(spec.MarketplaceIDs) == 0 || len(spec.MarketplaceIDs) > 25:
		writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "marketplaceIds must contain between 1 and 25 marketplace ids.")
		return
	case !supportedReport(spec.ReportType):
		writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "Report type "+spec.ReportType+" is not supported by this simulator.")
		return
	}
	rep := &report{spec: spec, created: now, dataStart: now, dataEnd: now}
	for _, f := range []struct {
		raw  string
		dst  *time.Time
		name string
	}{{spec.DataStartTime, &rep.dataStart, "dataStartTime"}, {spec.DataEndTime, &rep.dataEnd, "dataEndTime"}} {
		if f.raw == "" {
			continue
		}
		t, err := parseISO(f.raw)
		if err != nil {
			writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "Invalid "+f.name+": "+err.Error())
			return
		}
		if t.After(now) {
			writeReportError(w, http.StatusBadRequest, CodeInvalidInput, f.name+" must not be in the future.")
			return
		}
		*f.dst = t
	}
	if rep.dataEnd.Before(rep.dataStart) {
		writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "dataEndTime must not be before dataStartTime.")
		return
	}
	s.mu.Lock()
	s.reportN++
	rep.id = strconv.FormatInt(50_000_000_000+s.reportN*7919, 10)
	s.mu.Unlock()
	rq := s.unit("queue", rep.id)
	rp := s.unit("processing", rep.id)
	q, p := s.opts.ReportQueueTime, s.opts.ReportProcessingTime
	rep.procStart = now.Add(q[0] + time.Duration(rq*float64(q[1]-q[0]))).Truncate(time.Second)
	rep.procEnd = rep.procStart.Add(p[0] + time.Duration(rp*float64(p[1]-p[0]))).Truncate(time.Second)
	rep.randomFatal = s.unit("fatal", rep.id) < s.opts.ReportFatalRate
	s.mu.Lock()
	s.reports[rep.id] = rep
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]string{"reportId": rep.id})
}

// unit returns a deterministic number in [0,1) for a purpose and a key.
func (s *Simulator) unit(purpose, key string) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|%s", s.World().Seed(), purpose, key)
	return float64(h.Sum64()>>11) / (1 << 53)
}

func (s *Simulator) documentID(reportID string, kind string) string {
	h := fnv.New128a()
	fmt.Fprintf(h, "%d|%s|%s", s.World().Seed(), reportID, kind)
	b := h.Sum(nil)
	return fmt.Sprintf("amzn1.spdoc.1.4.na.%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// view returns the report as getReport shows it at now. The caller holds s.mu.
func (s *Simulator) view(rep *report, now time.Time) Report {
	out := Report{
		MarketplaceIDs: rep.spec.MarketplaceIDs, ReportID: rep.id, ReportType: rep.spec.ReportType,
		DataStartTime: isoTime(rep.dataStart), DataEndTime: isoTime(rep.dataEnd), CreatedTime: isoTime(rep.created),
	}
	switch {
	case rep.cancelled:
		out.ProcessingStatus = StatusCancelled
		out.ProcessingEndTime = isoTime(rep.cancelledAt)
		return out
	case now.Before(rep.procStart):
		out.ProcessingStatus = StatusInQueue
		return out
	case now.Before(rep.procEnd):
		out.ProcessingStatus = StatusInProgress
		out.ProcessingStartTime = isoTime(rep.procStart)
		return out
	}
	if !rep.resolved {
		s.resolve(rep)
	}
	out.ProcessingStatus = rep.status
	out.ProcessingStartTime = isoTime(rep.procStart)
	out.ProcessingEndTime = isoTime(rep.procEnd)
	if rep.doc != nil {
		out.ReportDocumentID = rep.doc.id
	}
	return out
}

// resolve generates the report's outcome as of its processing end. The
// caller holds s.mu.
func (s *Simulator) resolve(rep *report) {
	rep.resolved = true
	res := s.generate(rep)
	switch {
	case res.fatal != "":
		rep.status = StatusFatal
		rep.doc = reasonDocument(s.documentID(rep.id, "error"), res.fatal)
	case rep.randomFatal:
		rep.status = StatusFatal
		rep.doc = reasonDocument(s.documentID(rep.id, "error"), "An internal error occurred while generating the report. Please try again.")
	case res.empty:
		// "an automatic cancellation if there is no data to return"
		rep.status = StatusCancelled
	default:
		rep.status = StatusDone
		rep.doc = &document{id: s.documentID(rep.id, "data"), contentType: res.contentType, body: res.body, gzip: gzipBytes(res.body)}
	}
	if rep.doc != nil {
		s.docs[rep.doc.id] = rep
	}
}

// reasonDocument is the document a FATAL report points to. Its shape follows
// the error documents Brand Analytics reports return ({"errorDetails": ...});
// the reference confirms only that the reason lives in the document
// (inferred). It is served uncompressed, so clients meet both encodings.
func reasonDocument(id, reason string) *document {
	b, _ := json.Marshal(map[string]string{"errorDetails": reason})
	return &document{id: id, contentType: "application/json", body: b}
}

// getReport is GET /reports/2021-06-30/reports/{reportId}.
func (s *Simulator) getReport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("reportId")
	now := s.Clock().Now()
	s.mu.Lock()
	rep, ok := s.reports[id]
	if ok && now.Sub(rep.created) > reportRetention {
		ok = false
	}
	var v Report
	if ok {
		v = s.view(rep, now)
	}
	s.mu.Unlock()
	if !ok {
		writeReportError(w, http.StatusNotFound, CodeNotFound, "Report "+id+" not found.")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// cancelReport is DELETE /reports/2021-06-30/reports/{reportId}. Only
// IN_QUEUE reports can be cancelled.
func (s *Simulator) cancelReport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("reportId")
	now := s.Clock().Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rep, ok := s.reports[id]
	if !ok {
		writeReportError(w, http.StatusNotFound, CodeNotFound, "Report "+id+" not found.")
		return
	}
	if v := s.view(rep, now); v.ProcessingStatus != StatusInQueue {
		writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "Only reports with processingStatus IN_QUEUE can be cancelled; report "+id+" is "+v.ProcessingStatus+".")
		return
	}
	rep.cancelled, rep.cancelledAt = true, now
	w.WriteHeader(http.StatusOK)
}

type reportsPage struct {
	Types    []string  `json:"t,omitempty"`
	Statuses []string  `json:"s,omitempty"`
	Markets  []string  `json:"m,omitempty"`
	Size     int       `json:"n"`
	Since    time.Time `json:"a"`
	Until    time.Time `json:"b"`
	Offset   int       `json:"o"`
}

// getReports is GET /reports/2021-06-30/reports.
func (s *Simulator) getReports(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.Clock().Now()
	var pg reportsPage
	if tok := q.Get("nextToken"); tok != "" {
		if len(q) != 1 {
			writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "nextToken must be the only parameter.")
			return
		}
		if err := simapi.DecodeToken(tok, &pg); err != nil || pg.Size == 0 {
			writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "Invalid nextToken.")
			return
		}
	} else {
		pg = reportsPage{Types: listParam(q, "reportTypes"), Statuses: listParam(q, "processingStatuses"),
			Markets: listParam(q, "marketplaceIds"), Size: 10, Since: now.Add(-reportRetention), Until: now}
		if len(pg.Types) == 0 || len(pg.Types) > 10 {
			writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "reportTypes must contain between 1 and 10 report types.")
			return
		}
		if v := q.Get("pageSize"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "pageSize must be between 1 and 100.")
				return
			}
			pg.Size = n
		}
		for _, p := range []struct {
			name string
			dst  *time.Time
		}{{"createdSince", &pg.Since}, {"createdUntil", &pg.Until}} {
			if v := q.Get(p.name); v != "" {
				t, err := parseISO(v)
				if err != nil {
					writeReportError(w, http.StatusBadRequest, CodeInvalidInput, "Invalid "+p.name+".")
					return
				}
				*p.dst = t
			}
		}
	}
	s.mu.Lock()
	var all []Report
	for _, rep := range s.reports {
		if rep.created.Before(pg.Since) || rep.created.After(pg.Until) || now.Sub(rep.created) > reportRetention || !slices.Contains(pg.Types, rep.spec.ReportType) {
			continue
		}
		v := s.view(rep, now)
		if len(pg.Statuses) > 0 && !slices.Contains(pg.Statuses, v.ProcessingStatus) {
			continue
		}
		if len(pg.Markets) > 0 && !anyIn(pg.Markets, rep.spec.MarketplaceIDs) {
			continue
		}
		all = append(all, v)
	}
	s.mu.Unlock()
	// Newest first; report ids grow with creation, so they break ties.
	sort.Slice(all, func(i, j int) bool {
		if all[i].CreatedTime != all[j].CreatedTime {
			return all[i].CreatedTime > all[j].CreatedTime
		}
		a, _ := strconv.ParseInt(all[i].ReportID, 10, 64)
		b, _ := strconv.ParseInt(all[j].ReportID, 10, 64)
		return a > b
	})
	end := min(pg.Offset+pg.Size, len(all))
	start := min(pg.Offset, end)
	resp := map[string]any{"reports": append([]Report{}, all[start:end]...)}
	if end < len(all) {
		next := pg
		next.Offset = end
		resp["nextToken"] = simapi.EncodeToken(next)
	}
	writeJSON(w, http.StatusOK, resp)
}

func anyIn(want, have []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

// getReportDocument is GET /reports/2021-06-30/documents/{reportDocumentId}.
func (s *Simulator) getReportDocument(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("reportDocumentId")
	s.mu.Lock()
	rep, ok := s.docs[id]
	var doc *document
	if ok {
		doc = rep.doc
	}
	s.mu.Unlock()
	if !ok {
		writeReportError(w, http.StatusNotFound, CodeNotFound, "Report document "+id+" not found.")
		return
	}
	ce := r.URL.Query().Get("enableContentEncodingUrlHeader") == "true" && doc.gzip != nil
	out := ReportDocument{ReportDocumentID: id, URL: s.presign(r, id, ce)}
	if doc.gzip != nil {
		out.CompressionAlgorithm = "GZIP"
	}
	writeJSON(w, http.StatusOK, out)
}

// presign returns a URL for a document that works for DocumentURLTTL, in the
// shape of an S3 pre-signed URL, on the host the client used.
func (s *Simulator) presign(r *http.Request, docID string, contentEncoding bool) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	date := s.Clock().Now().UTC().Format("20060102T150405Z")
	expires := strconv.Itoa(int(s.opts.DocumentURLTTL / time.Second))
	ce := ""
	if contentEncoding {
		ce = "gzip"
	}
	sig := s.sign(docID, date, expires, ce)
	u := fmt.Sprintf("%s://%s%s%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=%s&X-Amz-Expires=%s&X-Amz-SignedHeaders=host", scheme, r.Host, DocumentPathPrefix, docID, date, expires)
	if ce != "" {
		u += "&response-content-encoding=" + ce
	}
	return u + "&X-Amz-Signature=" + sig
}

func (s *Simulator) sign(parts ...string) string {
	m := hmac.New(sha256.New, []byte(fmt.Sprintf("sim-s3-%d-%s", s.World().Seed(), s.Credentials().ClientSecret)))
	m.Write([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(m.Sum(nil))
}

// s3Error writes an S3-style XML error, as a pre-signed URL answers.
func s3Error(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<Error><Code>%s</Code><Message>%s</Message></Error>\n", code, msg)
}

// downloadDocument serves a document at its pre-signed URL.
func (s *Simulator) downloadDocument(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("docId")
	q := r.URL.Query()
	date, expires, ce := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), q.Get("response-content-encoding")
	if !hmac.Equal([]byte(q.Get("X-Amz-Signature")), []byte(s.sign(id, date, expires, ce))) {
		s3Error(w, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	issued, err := time.Parse("20060102T150405Z", date)
	secs, err2 := strconv.Atoi(expires)
	if err != nil || err2 != nil {
		s3Error(w, "AccessDenied", "Invalid pre-signed URL.")
		return
	}
	if s.Clock().Now().After(issued.Add(time.Duration(secs) * time.Second)) {
		s3Error(w, "AccessDenied", "Request has expired")
		return
	}
	s.mu.Lock()
	rep, ok := s.docs[id]
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	doc := rep.doc
	w.Header().Set("Content-Type", doc.contentType)
	body := doc.body
	if doc.gzip != nil {
		body = doc.gzip
		if ce == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
		} else {
			w.Header().Set("Content-Encoding", "identity")
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// dateOf returns the calendar date a report date-time names: "the time
// component is ignored", so the date is read in the offset the client wrote.
func dateOf(t time.Time) simworld.Date {
	y, m, d := t.Date()
	return simworld.Date{Year: y, Month: m, Day: d}
}
