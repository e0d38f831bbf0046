package amazontest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
)

const ordersModel = "ordersV0.json"
const reportsModel = "reports_2021-06-30.json"
const catalogModel = "catalogItems_2022-04-01.json"

func TestLWATokenLifecycle(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.srv.Sim.Credentials()

	st, b, hdr := h.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"Atzr|wrong"},
		"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}})
	if st != http.StatusBadRequest {
		t.Fatalf("bad refresh token: %d", st)
	}
	if e := decode[TokenError](t, b); e.Error != "invalid_grant" || e.ErrorDescription != InvalidGrantDescription {
		t.Errorf("bad refresh token body: %s", b)
	}
	if hdr.Get("Cache-Control") != "no-store" {
		t.Error("token responses must not be cached")
	}
	st, _, _ = h.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.RefreshToken},
		"client_id": {c.ClientID}, "client_secret": {"nope"}})
	if st != http.StatusUnauthorized {
		t.Errorf("bad client secret: %d", st)
	}

	st, b, _ = h.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.RefreshToken},
		"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}})
	tr := decode[TokenResponse](t, b)
	if st != 200 || tr.ExpiresIn != 3600 || tr.TokenType != "bearer" || !strings.HasPrefix(tr.AccessToken, "Atza|") {
		t.Fatalf("token response %d %s", st, b)
	}
	if len(tr.AccessToken) > 2048 {
		t.Error("access tokens are at most 2048 bytes")
	}

	q := url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "CreatedAfter": {isoTime(h.clock.Now().Add(-time.Hour))}}
	h.token = ""
	st, b, hdr = h.get("/orders/v0/orders", q)
	if st != http.StatusForbidden || !bytes.Contains(b, []byte(DetailTokenMissing)) {
		t.Errorf("missing token: %d %s", st, b)
	}
	if hdr.Get("x-amzn-RateLimit-Limit") != "" {
		t.Error("rate-limit header on an unauthenticated response")
	}
	if hdr.Get("x-amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId")
	}
	h.token = "Atza|forged"
	if st, b, _ = h.get("/orders/v0/orders", q); st != http.StatusForbidden || !bytes.Contains(b, []byte(DetailTokenInvalid)) {
		t.Errorf("forged token: %d %s", st, b)
	}
	h.token = tr.AccessToken
	h.clock.Advance(59 * time.Minute)
	if st, b, _ = h.get("/orders/v0/orders", q); st != http.StatusOK {
		t.Fatalf("token should live an hour: %d %s", st, b)
	}
	h.clock.Advance(time.Minute)
	q.Set("CreatedAfter", isoTime(h.clock.Now().Add(-time.Hour)))
	st, b, _ = h.get("/orders/v0/orders", q)
	if st != http.StatusForbidden {
		t.Fatalf("expired token: %d %s", st, b)
	}
	e := decode[ErrorList](t, b)
	if len(e.Errors) != 1 || e.Errors[0].Code != CodeUnauthorized || e.Errors[0].Details != DetailTokenExpired {
		t.Errorf("expired token body: %s", b)
	}
	conforms(t, ordersModel, "/orders/v0/orders", "get", 403, b)
	h.token = h.refresh()
	if st, _, _ = h.get("/orders/v0/orders", q); st != http.StatusOK {
		t.Errorf("refreshed token rejected: %d", st)
	}
}

// pageOrders pages through getOrders, advancing the clock a minute between
// pages (so orders keep changing and the rate limit refills), and returns
// every order served.
func (h *harness) pageOrders(q url.Values) []Order {
	h.t.Helper()
	var all []Order
	for page := 0; ; page++ {
		st, b, hdr := h.get("/orders/v0/orders", q)
		if st != http.StatusOK {
			h.t.Fatalf("page %d: %d %s", page, st, b)
		}
		if hdr.Get("x-amzn-RateLimit-Limit") != "0.0167" {
			h.t.Errorf("rate-limit header %q", hdr.Get("x-amzn-RateLimit-Limit"))
		}
		if page == 0 {
			conforms(h.t, ordersModel, "/orders/v0/orders", "get", 200, b)
		}
		r := decode[GetOrdersResponse](h.t, b)
		all = append(all, r.Payload.Orders...)
		if r.Payload.NextToken == "" {
			return all
		}
		q = url.Values{"MarketplaceIds": q["MarketplaceIds"], "NextToken": {r.Payload.NextToken}}
		h.clock.Advance(61 * time.Second)
	}
}

func TestGetOrdersPagingReturnsEveryOrderExactlyOnce(t *testing.T) {
	h := newHarness(t, Options{})
	now := h.clock.Now()
	after := now.Add(-12 * time.Hour)
	before := now.Add(-2 * time.Minute)
	q := url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "LastUpdatedAfter": {isoTime(after)},
		"LastUpdatedBefore": {isoTime(before)}, "MaxResultsPerPage": {"37"}}
	got := h.pageOrders(q)

	want := h.world.TruthAt(now.Add(-2*time.Minute)).AmazonOrdersUpdated(after, before.Add(time.Nanosecond))
	if len(want) < 200 {
		t.Fatalf("world too quiet: %d orders", len(want))
	}
	seen := map[string]int{}
	for _, o := range got {
		seen[o.AmazonOrderID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("order %s served %d times", id, n)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("served %d orders, truth has %d", len(got), len(want))
	}
	for _, w := range want {
		if seen[w.AmazonOrderID] != 1 {
			t.Fatalf("order %s missing", w.AmazonOrderID)
		}
	}
	for i, o := range got {
		if o.LastUpdateDate != isoTime(want[i].LastUpdateDate) || o.OrderStatus != want[i].Status {
			t.Fatalf("order %s: served %s@%s, truth %s@%s", o.AmazonOrderID, o.OrderStatus, o.LastUpdateDate, want[i].Status, want[i].LastUpdateDate)
		}
	}

	// CreatedAfter paging too, with the default page size.
	now = h.clock.Now()
	h.token = h.refresh()
	q = url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "CreatedAfter": {isoTime(after)}}
	got = h.pageOrders(q)
	created := h.world.TruthAt(now.Add(-2*time.Minute)).AmazonOrders(after, now.Add(-2*time.Minute).Add(time.Nanosecond))
	if len(got) != len(created) {
		t.Errorf("CreatedAfter served %d, truth %d", len(got), len(created))
	}
}

func TestTwoMinuteRuleAndValidation(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	now := h.clock.Now()
	base := func() url.Values {
		return url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "LastUpdatedAfter": {isoTime(now.Add(-time.Hour))}}
	}
	bad := map[string]url.Values{}
	q := base()
	q.Set("LastUpdatedBefore", isoTime(now.Add(-119*time.Second)))
	bad["before within two minutes"] = q
	q = base()
	q.Set("LastUpdatedBefore", isoTime(now.Add(time.Hour)))
	bad["before in the future"] = q
	q = base()
	q.Set("LastUpdatedAfter", isoTime(now.Add(-time.Minute)))
	bad["after within two minutes"] = q
	q = base()
	q.Set("CreatedAfter", isoTime(now.Add(-time.Hour)))
	bad["created and updated together"] = q
	q = base()
	q.Del("LastUpdatedAfter")
	bad["no after"] = q
	q = base()
	q.Set("LastUpdatedBefore", isoTime(now.Add(-2*time.Hour)))
	bad["before earlier than after"] = q
	q = base()
	q.Set("MaxResultsPerPage", "101")
	bad["page size"] = q
	q = base()
	q.Del("MarketplaceIds")
	bad["no marketplace"] = q
	q = base()
	q.Set("LastUpdatedAfter", "yesterday")
	bad["not ISO 8601"] = q
	for name, q := range bad {
		st, b, hdr := h.get("/orders/v0/orders", q)
		if st != http.StatusBadRequest {
			t.Errorf("%s: status %d", name, st)
			continue
		}
		if e := decode[GetOrdersResponse](t, b); len(e.Errors) == 0 || e.Errors[0].Code != CodeInvalidInput {
			t.Errorf("%s: body %s", name, b)
		}
		if hdr.Get("x-amzn-RateLimit-Limit") == "" {
			t.Errorf("%s: 400 without the rate-limit header", name)
		}
		conforms(t, ordersModel, "/orders/v0/orders", "get", 400, b)
	}
	q = base()
	q.Set("LastUpdatedBefore", isoTime(now.Add(-2*time.Minute)))
	if st, b, _ := h.get("/orders/v0/orders", q); st != http.StatusOK {
		t.Errorf("exactly two minutes before now rejected: %d %s", st, b)
	}
}

func TestVisibilityDelay(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	// Find the next order after now and move the clock just past it.
	now := h.clock.Now()
	next := h.world.AmazonOrdersPurchased(now, now.Add(time.Hour))[0]
	h.clock.Set(next.PurchaseDate.Add(time.Minute))
	path := "/orders/v0/orders/" + next.AmazonOrderID + "/orderItems"
	if st, b, hdr := h.get(path, nil); st != http.StatusNotFound || hdr.Get("x-amzn-RateLimit-Limit") == "" {
		t.Fatalf("order visible one minute after purchase: %d %s", st, b)
	}
	q := url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "CreatedAfter": {isoTime(next.PurchaseDate.Add(-time.Hour))}}
	_, b, _ := h.get("/orders/v0/orders", q)
	if bytes.Contains(b, []byte(next.AmazonOrderID)) {
		t.Fatal("getOrders served an order younger than two minutes")
	}
	h.clock.Set(next.PurchaseDate.Add(2 * time.Minute))
	st, b, _ := h.get(path, nil)
	if st != http.StatusOK {
		t.Fatalf("order invisible after two minutes: %d %s", st, b)
	}
	conforms(t, ordersModel, "/orders/v0/orders/{orderId}/orderItems", "get", 200, b)
	items := decode[GetOrderItemsResponse](t, b)
	if len(items.Payload.OrderItems) != len(next.Items) {
		t.Fatalf("items: %d, want %d", len(items.Payload.OrderItems), len(next.Items))
	}
	// Pending orders carry no prices.
	if items.Payload.OrderItems[0].ItemPrice != nil {
		t.Error("Pending order item has a price")
	}
	h.clock.Set(next.PurchaseDate.Add(simworld.MaxAmazonLifecycle))
	h.token = h.refresh()
	_, b, _ = h.get(path, nil)
	items = decode[GetOrderItemsResponse](t, b)
	if next.History[len(next.History)-1].Status != simworld.AmazonCanceled {
		if p := items.Payload.OrderItems[0].ItemPrice; p == nil || p.Amount != next.Items[0].ItemPrice.String() {
			t.Errorf("settled order item price %+v, want %s", p, next.Items[0].ItemPrice)
		}
	}
	st, b, _ = h.get("/orders/v0/orders/"+next.AmazonOrderID, nil)
	if st != 200 {
		t.Fatalf("getOrder: %d", st)
	}
	conforms(t, ordersModel, "/orders/v0/orders/{orderId}", "get", 200, b)
}

func TestThrottlingReturnsQuotaExceeded(t *testing.T) {
	h := newHarness(t, Options{})
	q := url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "CreatedAfter": {isoTime(h.clock.Now().Add(-time.Hour))}}
	for i := 0; i < 20; i++ {
		if st, b, _ := h.get("/orders/v0/orders", q); st != http.StatusOK {
			t.Fatalf("request %d within burst: %d %s", i, st, b)
		}
	}
	st, b, hdr := h.get("/orders/v0/orders", q)
	if st != http.StatusTooManyRequests {
		t.Fatalf("21st request: %d", st)
	}
	if string(bytes.TrimSpace(b)) != `{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}` {
		t.Errorf("429 body %s", b)
	}
	if hdr.Get("x-amzn-RateLimit-Limit") != "" {
		t.Error("rate-limit header on a 429")
	}
	conforms(t, ordersModel, "/orders/v0/orders", "get", 429, b)
	// 0.0167 tokens per second: one token takes about 60 seconds.
	h.clock.Advance(59 * time.Second)
	if st, _, _ = h.get("/orders/v0/orders", q); st != http.StatusTooManyRequests {
		t.Errorf("token refilled too early: %d", st)
	}
	h.clock.Advance(2 * time.Second)
	if st, _, _ = h.get("/orders/v0/orders", q); st != http.StatusOK {
		t.Errorf("token not refilled after 61 s: %d", st)
	}
	// Buckets are per operation.
	for i := 0; i < 2; i++ {
		if st, _, _ := h.get("/catalog/2022-04-01/items/"+h.world.AmazonVariants()[0].Amazon.ASIN, url.Values{"marketplaceIds": {"ATVPDKIKX0DER"}}); st != 200 {
			t.Fatalf("catalog call %d throttled by another operation's bucket: %d", i, st)
		}
	}
	st, b, _ = h.get("/catalog/2022-04-01/items/"+h.world.AmazonVariants()[0].Amazon.ASIN, url.Values{"marketplaceIds": {"ATVPDKIKX0DER"}})
	if st != http.StatusTooManyRequests {
		t.Errorf("getCatalogItem burst is 2: third call got %d", st)
	}
	conforms(t, catalogModel, "/catalog/2022-04-01/items/{asin}", "get", 429, b)
}

func salesTrafficSpec(day simworld.Date, markets ...string) CreateReportSpecification {
	if len(markets) == 0 {
		markets = []string{"ATVPDKIKX0DER"}
	}
	return CreateReportSpecification{ReportType: ReportSalesAndTraffic, MarketplaceIDs: markets,
		DataStartTime: day.String() + "T00:00:00Z", DataEndTime: day.String() + "T00:00:00Z",
		ReportOptions: map[string]string{"dateGranularity": "DAY", "asinGranularity": "SKU"}}
}

func TestReportStateMachineAndSalesTrafficDocument(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	zone := h.world.Config().AmazonZone
	day := simworld.DateOf(h.clock.Now().Add(-4*24*time.Hour), zone)
	st, b, hdr := h.call(http.MethodPost, "/reports/2021-06-30/reports", nil, salesTrafficSpec(day))
	if st != http.StatusAccepted || hdr.Get("x-amzn-RateLimit-Limit") != "0.0167" {
		t.Fatalf("createReport: %d %s", st, b)
	}
	conforms(t, reportsModel, "/reports/2021-06-30/reports", "post", 202, b)
	id := decode[map[string]string](t, b)["reportId"]

	seen := []string{}
	var rep Report
	for i := 0; i < 100; i++ {
		_, b, _ = h.get("/reports/2021-06-30/reports/"+id, nil)
		conforms(t, reportsModel, "/reports/2021-06-30/reports/{reportId}", "get", 200, b)
		rep = decode[Report](t, b)
		if len(seen) == 0 || seen[len(seen)-1] != rep.ProcessingStatus {
			seen = append(seen, rep.ProcessingStatus)
		}
		if rep.ProcessingStatus == StatusDone {
			break
		}
		h.clock.Advance(5 * time.Second)
	}
	if strings.Join(seen, ">") != "IN_QUEUE>IN_PROGRESS>DONE" {
		t.Fatalf("statuses %v", seen)
	}
	if rep.ReportDocumentID == "" || rep.ProcessingStartTime == "" || rep.ProcessingEndTime == "" {
		t.Fatalf("DONE report incomplete: %+v", rep)
	}

	st, b, _ = h.get("/reports/2021-06-30/documents/"+rep.ReportDocumentID, nil)
	if st != 200 {
		t.Fatalf("getReportDocument %d", st)
	}
	conforms(t, reportsModel, "/reports/2021-06-30/documents/{reportDocumentId}", "get", 200, b)
	body, doc := h.fetchDocument(rep.ReportDocumentID)
	if doc.CompressionAlgorithm != "GZIP" {
		t.Errorf("compressionAlgorithm %q", doc.CompressionAlgorithm)
	}
	sch := model(t, "sellerSalesAndTrafficReport.json")
	if err := sch.Validate(body, ""); err != nil {
		t.Fatalf("document does not match the report schema: %v", err)
	}
	// The document equals the world as of the report's processing end.
	end, _ := time.Parse(time.RFC3339, rep.ProcessingEndTime)
	rows, _ := h.world.TruthAt(end).SalesTraffic(day)
	var d struct {
		ByAsin []struct {
			ChildAsin   string `json:"childAsin"`
			SKU         string `json:"sku"`
			SalesByAsin struct {
				UnitsOrdered int `json:"unitsOrdered"`
			} `json:"salesByAsin"`
			TrafficByAsin struct {
				Sessions int `json:"sessions"`
			} `json:"trafficByAsin"`
		} `json:"salesAndTrafficByAsin"`
	}
	_ = json.Unmarshal(body, &d)
	if len(d.ByAsin) != len(rows) {
		t.Fatalf("%d ASIN rows, truth %d", len(d.ByAsin), len(rows))
	}
	byChild := map[string]int{}
	for i, r := range d.ByAsin {
		byChild[r.ChildAsin] = i
	}
	for i, r := range rows {
		if got := d.ByAsin[byChild[r.ASIN]]; got.ChildAsin != r.ASIN || got.SKU != r.SKU || got.SalesByAsin.UnitsOrdered != r.UnitsOrdered || got.TrafficByAsin.Sessions != r.Sessions() {
			t.Fatalf("row %d = %+v, truth %+v", i, got, r)
		}
	}
	// Test the ?enableContentEncodingUrlHeader path: Go's client decompresses.
	_, b, _ = h.get("/reports/2021-06-30/documents/"+rep.ReportDocumentID, url.Values{"enableContentEncodingUrlHeader": {"true"}})
	u := decode[ReportDocument](t, b).URL
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if st, plain, _ := h.do(req); st != 200 || !json.Valid(plain) {
		t.Errorf("content-encoded download: %d, valid JSON %v", st, json.Valid(plain))
	}
}

func TestSalesTrafficIsRestatedForSeventyTwoHours(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	zone := h.world.Config().AmazonZone
	day := simworld.DateOf(h.clock.Now(), zone)
	h.jump(day.End(zone).Add(time.Hour))
	units := func() (int, int) {
		rep := h.waitReport(h.createReport(salesTrafficSpec(day)))
		body, _ := h.fetchDocument(rep.ReportDocumentID)
		var d struct {
			ByDate []struct {
				Sales struct {
					Units int `json:"unitsOrdered"`
				} `json:"salesByDate"`
				Traffic struct {
					Sessions int `json:"sessions"`
				} `json:"trafficByDate"`
			} `json:"salesAndTrafficByDate"`
		}
		_ = json.Unmarshal(body, &d)
		return d.ByDate[0].Sales.Units, d.ByDate[0].Traffic.Sessions
	}
	u1, s1 := units()
	h.jump(day.End(zone).Add(30 * time.Hour))
	u2, s2 := units()
	h.jump(day.End(zone).Add(73 * time.Hour))
	u3, s3 := units()
	_, settled := h.world.TruthAt(h.clock.Now()).SalesTrafficSettled(day)
	if !(u1 < u3 && u1 <= u2 && u2 <= u3) || s1 != 0 || s2 == 0 || s2 > s3 {
		t.Errorf("restatement: units %d→%d→%d, sessions %d→%d→%d", u1, u2, u3, s1, s2, s3)
	}
	if u3 != settled.UnitsOrdered {
		t.Errorf("settled units %d, truth %d", u3, settled.UnitsOrdered)
	}
}

func TestFatalReportsHaveAReasonDocument(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	zone := h.world.Config().AmazonZone
	day := simworld.DateOf(h.clock.Now().Add(-3*24*time.Hour), zone)
	wed := day
	for wed.Weekday() != time.Wednesday {
		wed = wed.AddDays(-1)
	}
	specs := map[string]CreateReportSpecification{
		"S&T with two marketplaces": salesTrafficSpec(day, "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"),
		"SQP week not starting Sunday": {ReportType: ReportSearchQueryPerformance, MarketplaceIDs: []string{"ATVPDKIKX0DER"},
			DataStartTime: wed.AddDays(-7).String(), DataEndTime: wed.AddDays(-1).String(),
			ReportOptions: map[string]string{"reportPeriod": "WEEK", "asin": h.world.AmazonVariants()[0].Amazon.ASIN}},
	}
	for name, spec := range specs {
		rep := h.waitReport(h.createReport(spec))
		if rep.ProcessingStatus != StatusFatal || rep.ReportDocumentID == "" {
			t.Errorf("%s: %+v", name, rep)
			continue
		}
		body, doc := h.fetchDocument(rep.ReportDocumentID)
		var reason map[string]string
		if err := json.Unmarshal(body, &reason); err != nil || reason["errorDetails"] == "" || doc.CompressionAlgorithm != "" {
			t.Errorf("%s: reason document %q (%v)", name, body, err)
		}
	}
	// A configured fatal rate of 1 fails otherwise valid reports.
	h2 := newHarness(t, Options{DisableRateLimits: true, ReportFatalRate: 1})
	if rep := h2.waitReport(h2.createReport(salesTrafficSpec(day))); rep.ProcessingStatus != StatusFatal {
		t.Errorf("fatal rate 1: %s", rep.ProcessingStatus)
	}
}

func TestDocumentURLExpiresAfterFiveMinutes(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	day := simworld.DateOf(h.clock.Now().Add(-4*24*time.Hour), h.world.Config().AmazonZone)
	rep := h.waitReport(h.createReport(salesTrafficSpec(day)))
	_, b, _ := h.get("/reports/2021-06-30/documents/"+rep.ReportDocumentID, nil)
	u := decode[ReportDocument](t, b).URL
	download := func(u string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		st, body, _ := h.do(req)
		return st, body
	}
	h.clock.Advance(5 * time.Minute)
	if st, _ := download(u); st != 200 {
		t.Fatalf("URL dead at exactly five minutes: %d", st)
	}
	if st, body := download(strings.Replace(u, "X-Amz-Expires=300", "X-Amz-Expires=900", 1)); st != http.StatusForbidden || !bytes.Contains(body, []byte("SignatureDoesNotMatch")) {
		t.Errorf("tampered URL: %d %s", st, body)
	}
	h.clock.Advance(time.Second)
	st, body := download(u)
	if st != http.StatusForbidden || !bytes.Contains(body, []byte("Request has expired")) {
		t.Fatalf("URL still works after five minutes: %d %s", st, body)
	}
	// A fresh getReportDocument gives a fresh URL.
	if got, _ := h.fetchDocument(rep.ReportDocumentID); !json.Valid(got) {
		t.Error("fresh URL failed")
	}
}

func TestBrandAnalyticsReports(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	zone := h.world.Config().AmazonZone
	week, _ := simworld.PeriodOf(simworld.PeriodWeek, simworld.DateOf(h.clock.Now().Add(-10*24*time.Hour), zone))
	asins := h.world.AmazonVariants()[0].Amazon.ASIN + " " + h.world.AmazonVariants()[1].Amazon.ASIN

	rep := h.waitReport(h.createReport(CreateReportSpecification{ReportType: ReportSearchTerms, MarketplaceIDs: []string{"ATVPDKIKX0DER"},
		DataStartTime: week.Start.String(), DataEndTime: week.End.String(), ReportOptions: map[string]string{"reportPeriod": "WEEK"}}))
	if rep.ProcessingStatus != StatusDone {
		t.Fatalf("search terms: %+v", rep)
	}
	body, _ := h.fetchDocument(rep.ReportDocumentID)
	if err := model(t, "sellingPartnerSearchTermsReport.json").Validate(body, ""); err != nil {
		t.Errorf("search terms document: %v", err)
	}

	rep = h.waitReport(h.createReport(CreateReportSpecification{ReportType: ReportSearchQueryPerformance, MarketplaceIDs: []string{"ATVPDKIKX0DER"},
		DataStartTime: week.Start.String(), DataEndTime: week.End.String(), ReportOptions: map[string]string{"reportPeriod": "WEEK", "asin": asins}}))
	if rep.ProcessingStatus != StatusDone {
		t.Fatalf("SQP: %+v", rep)
	}
	body, _ = h.fetchDocument(rep.ReportDocumentID)
	if err := model(t, "sellingPartnerSearchQueryPerformanceReport.json").Validate(body, ""); err != nil {
		t.Errorf("SQP document: %v", err)
	}

	// The current week is not published yet: no data, so CANCELLED.
	cur, _ := simworld.PeriodOf(simworld.PeriodWeek, simworld.DateOf(h.clock.Now(), zone))
	rep = h.waitReport(h.createReport(CreateReportSpecification{ReportType: ReportSearchTerms, MarketplaceIDs: []string{"ATVPDKIKX0DER"},
		DataStartTime: cur.Start.String(), DataEndTime: isoTime(h.clock.Now()), ReportOptions: map[string]string{"reportPeriod": "WEEK"}}))
	if rep.ProcessingStatus != StatusFatal && rep.ProcessingStatus != StatusCancelled {
		t.Errorf("unfinished week: %s", rep.ProcessingStatus)
	}
}

func TestAllOrdersFlatFile(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	now := h.clock.Now()
	from, to := now.Add(-6*time.Hour), now.Add(-3*time.Hour)
	rep := h.waitReport(h.createReport(CreateReportSpecification{ReportType: ReportAllOrdersByLastUpdate,
		MarketplaceIDs: []string{"ATVPDKIKX0DER"}, DataStartTime: isoTime(from), DataEndTime: isoTime(to)}))
	if rep.ProcessingStatus != StatusDone {
		t.Fatalf("flat file: %+v", rep)
	}
	body, _ := h.fetchDocument(rep.ReportDocumentID)
	lines := strings.Split(strings.TrimRight(string(body), "\n"), "\n")
	if lines[0] != strings.Join(AllOrdersColumns, "\t") {
		t.Fatalf("header %q", lines[0])
	}
	end, _ := time.Parse(time.RFC3339, rep.ProcessingEndTime)
	want := 0
	for _, o := range h.world.TruthAt(end.Add(-2*time.Minute)).AmazonOrdersUpdated(from, to.Add(time.Nanosecond)) {
		want += len(o.Items)
	}
	if len(lines)-1 != want || want == 0 {
		t.Errorf("%d order lines, truth %d", len(lines)-1, want)
	}
	for _, l := range lines[1:] {
		if n := len(strings.Split(l, "\t")); n != len(AllOrdersColumns) {
			t.Fatalf("line has %d fields: %q", n, l)
		}
	}
}

func TestCancelOnlyInQueue(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	day := simworld.DateOf(h.clock.Now().Add(-4*24*time.Hour), h.world.Config().AmazonZone)
	id := h.createReport(salesTrafficSpec(day))
	if st, b, _ := h.call(http.MethodDelete, "/reports/2021-06-30/reports/"+id, nil, nil); st != 200 {
		t.Fatalf("cancel IN_QUEUE: %d %s", st, b)
	}
	if rep := h.waitReport(id); rep.ProcessingStatus != StatusCancelled || rep.ReportDocumentID != "" {
		t.Errorf("cancelled report: %+v", rep)
	}
	id = h.createReport(salesTrafficSpec(day))
	h.waitReport(id)
	if st, _, _ := h.call(http.MethodDelete, "/reports/2021-06-30/reports/"+id, nil, nil); st != http.StatusBadRequest {
		t.Errorf("cancel DONE: %d", st)
	}
	st, b, _ := h.get("/reports/2021-06-30/reports", url.Values{"reportTypes": {ReportSalesAndTraffic}, "pageSize": {"1"}})
	if st != 200 {
		t.Fatalf("getReports: %d %s", st, b)
	}
	conforms(t, reportsModel, "/reports/2021-06-30/reports", "get", 200, b)
	page := decode[map[string]json.RawMessage](t, b)
	var tok string
	_ = json.Unmarshal(page["nextToken"], &tok)
	if tok == "" {
		t.Fatal("getReports did not page")
	}
	if st, _, _ := h.get("/reports/2021-06-30/reports", url.Values{"nextToken": {tok}}); st != 200 {
		t.Errorf("getReports page 2: %d", st)
	}
	st, b, _ = h.get("/reports/2021-06-30/reports/nope", nil)
	if st != 404 {
		t.Errorf("unknown report: %d", st)
	}
	conforms(t, reportsModel, "/reports/2021-06-30/reports/{reportId}", "get", 404, b)
}

func TestCatalogItems(t *testing.T) {
	h := newHarness(t, Options{DisableRateLimits: true})
	var child, ambiguous *simworld.Variant
	for _, v := range h.world.AmazonVariants() {
		if v.Match == simworld.MatchSKU && v.Product().ParentASIN != "" && child == nil {
			child = v
		}
		if v.Match == simworld.MatchAmbiguous && ambiguous == nil {
			ambiguous = v
		}
	}
	mq := url.Values{"marketplaceIds": {"ATVPDKIKX0DER"}, "includedData": {"identifiers,salesRanks,summaries,relationships,classifications,productTypes"}}
	st, b, _ := h.get("/catalog/2022-04-01/items/"+child.Amazon.ASIN, mq)
	if st != 200 {
		t.Fatalf("getCatalogItem: %d %s", st, b)
	}
	conforms(t, catalogModel, "/catalog/2022-04-01/items/{asin}", "get", 200, b)
	truth, _ := h.world.TruthAt(h.clock.Now()).CatalogItem(child.Amazon.ASIN)
	if !bytes.Contains(b, []byte(`"rank":`+strconv.Itoa(truth.SalesRank.ClassificationRank))) || !bytes.Contains(b, []byte(child.Product().ParentASIN)) {
		t.Errorf("item does not carry the true rank / parent: %s", b)
	}
	if st, b, hdr := h.get("/catalog/2022-04-01/items/B000000000", mq); st != 404 || hdr.Get("x-amzn-RateLimit-Limit") != "2" {
		t.Errorf("unknown ASIN: %d %s", st, b)
	} else {
		conforms(t, catalogModel, "/catalog/2022-04-01/items/{asin}", "get", 404, b)
	}

	search := func(typ, id string) []string {
		q := url.Values{"marketplaceIds": {"ATVPDKIKX0DER"}, "identifiersType": {typ}, "identifiers": {id}, "includedData": {"identifiers"}}
		st, b, _ := h.get("/catalog/2022-04-01/items", q)
		if st != 200 {
			t.Fatalf("search %s %s: %d %s", typ, id, st, b)
		}
		conforms(t, catalogModel, "/catalog/2022-04-01/items", "get", 200, b)
		var res struct {
			Items []struct {
				ASIN string `json:"asin"`
			} `json:"items"`
		}
		_ = json.Unmarshal(b, &res)
		var out []string
		for _, it := range res.Items {
			out = append(out, it.ASIN)
		}
		return out
	}
	if got := search("GTIN", child.GTIN); len(got) != 1 || got[0] != child.Amazon.ASIN {
		t.Errorf("GTIN search: %v", got)
	}
	if got := search("EAN", child.GTIN[1:]); len(got) != 1 {
		t.Errorf("EAN search: %v", got)
	}
	if got := search("GTIN", ambiguous.GTIN); len(got) != 2 {
		t.Errorf("ambiguous GTIN found %d items, want 2", len(got))
	}
	if st, b, _ := h.get("/catalog/2022-04-01/items", url.Values{"marketplaceIds": {"ATVPDKIKX0DER"}, "identifiers": {"x"}, "keywords": {"y"}}); st != 400 {
		t.Errorf("identifiers+keywords: %d", st)
	} else {
		conforms(t, catalogModel, "/catalog/2022-04-01/items", "get", 400, b)
	}
}

func TestFaultInjection(t *testing.T) {
	for _, tc := range []struct {
		cfg    fault.Config
		status []int
		code   string
	}{
		{fault.Config{ServerErrorRate: 1}, []int{500, 503}, ""},
		{fault.Config{ThrottleRate: 1}, []int{429}, CodeQuotaExceeded},
		{fault.Config{MalformedRate: 1}, []int{200}, ""},
	} {
		tc.cfg.PathPrefixes = []string{"/orders/"}
		h := newHarness(t, Options{Faults: tc.cfg})
		q := url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "CreatedAfter": {isoTime(h.clock.Now().Add(-time.Hour))}}
		st, b, _ := h.get("/orders/v0/orders", q)
		ok := false
		for _, s := range tc.status {
			ok = ok || s == st
		}
		if !ok {
			t.Errorf("%+v: status %d", tc.cfg, st)
		}
		if tc.code != "" && !bytes.Contains(b, []byte(tc.code)) {
			t.Errorf("%+v: body %s", tc.cfg, b)
		}
		if st >= 500 {
			conforms(t, ordersModel, "/orders/v0/orders", "get", st, b)
		}
		if tc.cfg.MalformedRate == 1 && json.Valid(b) {
			t.Errorf("malformed fault served valid JSON")
		}
		if h.srv.Sim.Faults().Counts()[fault.ServerError]+h.srv.Sim.Faults().Counts()[fault.Throttle]+h.srv.Sim.Faults().Counts()[fault.Malformed] != 1 {
			t.Errorf("fault counts %v", h.srv.Sim.Faults().Counts())
		}
	}
}
