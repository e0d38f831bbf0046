package amazontest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon/amazontest/modelcheck"
	"github.com/shopstream/shopstream/ingest/simworld"
)

// The tests below serve responses over several seeds and check them against
// the models' prose rules (modelcheck.Check*), besides their schemas: each
// would have caught one defect an independent validation found (issue 8,
// point 5), and fails if it comes back.

// seededHarness is newHarness for a given seed, with a planted halo so that
// the rules are checked where the world moves most, and without rate limits
// (the rules are about content).
func seededHarness(t *testing.T, seed uint64) *harness {
	t.Helper()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(40 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: seed, Clock: clock, Halo: simworld.HaloConfig{Planted: 3, SpikeControls: 2, FirstSpikeDay: 3, LastSpikeDay: 30}})
	srv := NewServer(w, Options{DisableRateLimits: true})
	t.Cleanup(srv.Close)
	h := &harness{t: t, world: w, clock: clock, srv: srv}
	h.token = h.refresh()
	return h
}

var ruleSeeds = []uint64{1, 7, 42, 1234, 9505}

// TestOrdersCarryShippingAddressOnlyWhereTheModelSays: getOrders and
// getOrder over every status an order passes through; an address on a
// Pending or Canceled order breaks the Orders model's note.
func TestOrdersCarryShippingAddressOnlyWhereTheModelSays(t *testing.T) {
	for _, seed := range ruleSeeds {
		h := seededHarness(t, seed)
		now := h.clock.Now()
		// Orders purchased in the last hours are still Pending or just
		// Unshipped; older ones Shipped; some of every age Canceled.
		q := url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "LastUpdatedAfter": {isoTime(now.Add(-30 * time.Hour))}}
		statuses := map[string]int{}
		var ids []string
		for page := 0; ; page++ {
			st, b, _ := h.get("/orders/v0/orders", q)
			if st != http.StatusOK {
				t.Fatalf("seed %d: getOrders: %d %s", seed, st, b)
			}
			conforms(t, ordersModel, "/orders/v0/orders", "get", 200, b)
			if err := modelcheck.CheckOrderRules(b); err != nil {
				t.Errorf("seed %d page %d: %v", seed, page, err)
			}
			r := decode[GetOrdersResponse](t, b)
			for _, o := range r.Payload.Orders {
				statuses[o.OrderStatus]++
				if len(ids) < 5 || o.OrderStatus != simworld.AmazonShipped && len(ids) < 40 {
					ids = append(ids, o.AmazonOrderID)
				}
			}
			if r.Payload.NextToken == "" {
				break
			}
			q = url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "NextToken": {r.Payload.NextToken}}
		}
		for _, want := range []string{simworld.AmazonPending, simworld.AmazonUnshipped, simworld.AmazonShipped, simworld.AmazonCanceled} {
			if statuses[want] == 0 {
				t.Fatalf("seed %d: no %s order served (%v): the rule was not exercised", seed, want, statuses)
			}
		}
		for _, id := range ids {
			st, b, _ := h.get("/orders/v0/orders/"+id, nil)
			if st != http.StatusOK {
				t.Fatalf("seed %d: getOrder %s: %d %s", seed, id, st, b)
			}
			if err := modelcheck.CheckOrderRules(b); err != nil {
				t.Errorf("seed %d getOrder: %v", seed, err)
			}
		}
	}
}

// TestCatalogHonoursTheMarketplacesAsked: the world lists its items in its
// seller's marketplace only. Asked for another marketplace, getCatalogItem
// finds nothing (404) and searchCatalogItems no item; asked for several, the
// datasets are those of the marketplaces asked for, never keyed to one that
// was not.
func TestCatalogHonoursTheMarketplacesAsked(t *testing.T) {
	const us, uk, de = "ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"
	inc := "identifiers,salesRanks,summaries,relationships,classifications,productTypes,images,dimensions,vendorDetails,attributes"
	for _, seed := range ruleSeeds {
		h := seededHarness(t, seed)
		entries := h.world.TruthAt(h.clock.Now()).Catalog()
		for i, e := range entries {
			if i%4 != 0 {
				continue
			}
			for _, asked := range [][]string{{us}, {uk, us}, {us, de}} {
				q := url.Values{"marketplaceIds": {strings.Join(asked, ",")}, "includedData": {inc}}
				st, b, _ := h.get("/catalog/2022-04-01/items/"+e.ASIN, q)
				if st != http.StatusOK {
					t.Fatalf("seed %d: getCatalogItem %s %v: %d %s", seed, e.ASIN, asked, st, b)
				}
				conforms(t, catalogModel, "/catalog/2022-04-01/items/{asin}", "get", 200, b)
				if err := modelcheck.CheckCatalogMarketplaces(b, asked); err != nil {
					t.Errorf("seed %d: %v", seed, err)
				}
			}
			for _, asked := range [][]string{{uk}, {uk, de}} {
				q := url.Values{"marketplaceIds": {strings.Join(asked, ",")}, "includedData": {inc}}
				st, b, _ := h.get("/catalog/2022-04-01/items/"+e.ASIN, q)
				if st != http.StatusNotFound {
					t.Errorf("seed %d: getCatalogItem %s in %v: %d %s, want 404 (not listed there)", seed, e.ASIN, asked, st, b)
					continue
				}
				conforms(t, catalogModel, "/catalog/2022-04-01/items/{asin}", "get", 404, b)
			}
		}
		// A search finds the seller's items in its marketplace, none in
		// another.
		e := entries[0]
		for _, c := range []struct {
			mkt  string
			want int
		}{{us, 1}, {uk, 0}} {
			q := url.Values{"marketplaceIds": {c.mkt}, "identifiersType": {"ASIN"}, "identifiers": {e.ASIN}, "includedData": {inc}}
			st, b, _ := h.get("/catalog/2022-04-01/items", q)
			if st != http.StatusOK {
				t.Fatalf("seed %d: search in %s: %d %s", seed, c.mkt, st, b)
			}
			conforms(t, catalogModel, "/catalog/2022-04-01/items", "get", 200, b)
			if err := modelcheck.CheckCatalogMarketplaces(b, []string{c.mkt}); err != nil {
				t.Errorf("seed %d: search: %v", seed, err)
			}
			if n := decode[struct {
				N int `json:"numberOfResults"`
			}](t, b).N; n != c.want {
				t.Errorf("seed %d: search for %s in %s: %d results, want %d", seed, e.ASIN, c.mkt, n, c.want)
			}
		}
	}
}

// TestSearchTermsReportsAreRankingsOfShares: Search Terms documents of
// weeks, months, a quarter and days, over seeds: each term's click and
// conversion shares are parts of one total, and search frequency ranks rank
// the terms of a department.
func TestSearchTermsReportsAreRankingsOfShares(t *testing.T) {
	for _, seed := range ruleSeeds {
		h := seededHarness(t, seed)
		zone := h.world.Config().AmazonZone
		today := simworld.DateOf(h.clock.Now(), zone)
		var periods []simworld.Period
		for back := 7; back <= 35; back += 7 {
			p, _ := simworld.PeriodOf(simworld.PeriodWeek, today.AddDays(-back-3))
			periods = append(periods, p)
		}
		for _, kind := range []string{simworld.PeriodDay, simworld.PeriodMonth} {
			p, _ := simworld.PeriodOf(kind, simworld.DateOf(simworld.DefaultStart, zone).AddDays(3))
			periods = append(periods, p)
		}
		p, _ := simworld.PeriodOf(simworld.PeriodQuarter, simworld.DateOf(simworld.DefaultStart, zone).AddDays(-10))
		periods = append(periods, p)
		rows := 0
		for _, p := range periods {
			rep := h.waitReport(h.createReport(CreateReportSpecification{ReportType: ReportSearchTerms, MarketplaceIDs: []string{"ATVPDKIKX0DER"},
				DataStartTime: p.Start.String(), DataEndTime: p.End.String(), ReportOptions: map[string]string{"reportPeriod": p.Kind}}))
			if rep.ProcessingStatus != StatusDone {
				t.Fatalf("seed %d %s %s: %+v", seed, p.Kind, p.Start, rep)
			}
			body, _ := h.fetchDocument(rep.ReportDocumentID)
			if err := model(t, "sellingPartnerSearchTermsReport.json").Validate(body, ""); err != nil {
				t.Errorf("seed %d %s %s: schema: %v", seed, p.Kind, p.Start, err)
			}
			if err := modelcheck.CheckSearchTermsReport(body); err != nil {
				t.Errorf("seed %d %s %s: %v", seed, p.Kind, p.Start, err)
			}
			rows += strings.Count(string(body), `"searchTerm"`)
		}
		if rows < 100 {
			t.Fatalf("seed %d: only %d rows checked", seed, rows)
		}
	}
}
