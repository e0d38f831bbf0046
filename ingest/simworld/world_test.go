package simworld

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

func testWorld(t *testing.T, seed uint64) *World {
	t.Helper()
	w, err := New(Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSameSeedSameWorld(t *testing.T) {
	a, b := testWorld(t, 42), testWorld(t, 42)
	at := a.Now()
	from := at.Add(-36 * time.Hour)
	// Query b in a different order from a, so memoisation cannot mask a
	// dependency on call order.
	bVideos := mustJSON(t, b.TruthAt(at).Videos())
	bOrders := mustJSON(t, b.TruthAt(at).AmazonOrders(from, at))
	checks := []struct {
		name string
		a, b string
	}{
		{"products", mustJSON(t, a.Products()), mustJSON(t, b.Products())},
		{"amazon orders", mustJSON(t, a.TruthAt(at).AmazonOrders(from, at)), bOrders},
		{"tiktok orders", mustJSON(t, a.TruthAt(at).TikTokOrders(from, at)), mustJSON(t, b.TruthAt(at).TikTokOrders(from, at))},
		{"videos", mustJSON(t, a.TruthAt(at).Videos()), bVideos},
		{"catalog", mustJSON(t, a.TruthAt(at).Catalog()), mustJSON(t, b.TruthAt(at).Catalog())},
	}
	d := DateOf(at.Add(-48*time.Hour), a.Config().AmazonZone)
	ra, sa := a.TruthAt(at).SalesTraffic(d)
	rb, sb := b.TruthAt(at).SalesTraffic(d)
	checks = append(checks, struct{ name, a, b string }{"sales traffic", mustJSON(t, []any{ra, sa}), mustJSON(t, []any{rb, sb})})
	for _, c := range checks {
		if c.a != c.b {
			t.Errorf("%s differ between two worlds with the same seed", c.name)
		}
		if len(c.a) < 10 {
			t.Errorf("%s suspiciously empty: %s", c.name, c.a)
		}
	}
	other := testWorld(t, 43)
	if mustJSON(t, other.Products()) == mustJSON(t, a.Products()) {
		t.Error("different seeds gave the same catalog")
	}
}

func TestCatalogMatchKinds(t *testing.T) {
	w := testWorld(t, 1)
	kinds := map[MatchKind]int{}
	gtinOwners := map[string][]string{}
	for _, p := range w.Products() {
		for _, v := range p.Variants {
			kinds[v.Match]++
			if v.GTIN != "" && !ValidGTIN(v.GTIN) {
				t.Errorf("%s: invalid GTIN %s", v.Key, v.GTIN)
			}
			if v.GTIN != "" {
				gtinOwners[v.GTIN] = append(gtinOwners[v.GTIN], p.Key)
			}
			switch v.Match {
			case MatchSKU:
				if v.Amazon.SellerSKU != v.TikTok.SellerSKU {
					t.Errorf("%s: SKU match with different SKUs", v.Key)
				}
			case MatchGTIN, MatchAmbiguous:
				if v.Amazon.SellerSKU == v.TikTok.SellerSKU {
					t.Errorf("%s: %s match but SKUs equal", v.Key, v.Match)
				}
				if len(v.Amazon.Identifiers) == 0 || v.TikTok.IdentifierCode == nil {
					t.Errorf("%s: %s match without identifiers on both channels", v.Key, v.Match)
				}
			case MatchNone:
				if v.Amazon.SellerSKU == v.TikTok.SellerSKU || len(v.Amazon.Identifiers) != 0 || v.TikTok.IdentifierCode != nil {
					t.Errorf("%s: unmatched variant shares something", v.Key)
				}
			case MatchAmazonOnly:
				if v.TikTok != nil || v.Amazon == nil {
					t.Errorf("%s: amazon-only listing wrong", v.Key)
				}
			case MatchTikTokOnly:
				if v.Amazon != nil || v.TikTok == nil {
					t.Errorf("%s: tiktok-only listing wrong", v.Key)
				}
			}
			for _, id := range identifiersOf(v) {
				if !ValidGTIN(id.Value) {
					t.Errorf("%s: published identifier %v fails its check digit", v.Key, id)
				}
			}
		}
	}
	for _, k := range []MatchKind{MatchSKU, MatchGTIN, MatchNone, MatchAmbiguous, MatchAmazonOnly, MatchTikTokOnly} {
		if kinds[k] == 0 {
			t.Errorf("no variant with match kind %s", k)
		}
	}
	shared := 0
	for _, owners := range gtinOwners {
		if len(owners) > 1 {
			shared++
		}
	}
	if shared == 0 {
		t.Error("no GTIN is shared by two products")
	}
}

func identifiersOf(v *Variant) []Identifier {
	var ids []Identifier
	if v.Amazon != nil {
		ids = append(ids, v.Amazon.Identifiers...)
	}
	if v.TikTok != nil && v.TikTok.IdentifierCode != nil {
		ids = append(ids, *v.TikTok.IdentifierCode)
	}
	return ids
}

func TestOrdersLifecycleAndLookup(t *testing.T) {
	w := testWorld(t, 7)
	now := w.Now()
	from := now.Add(-3 * 24 * time.Hour)
	ids := map[string]bool{}
	orders := w.AmazonOrdersPurchased(from, now)
	if len(orders) < 1000 {
		t.Fatalf("only %d Amazon orders in three days at 1/min", len(orders))
	}
	for _, o := range orders {
		if ids[o.AmazonOrderID] {
			t.Fatalf("duplicate order id %s", o.AmazonOrderID)
		}
		ids[o.AmazonOrderID] = true
		got, ok := w.AmazonOrder(o.AmazonOrderID)
		if !ok || got != o {
			t.Fatalf("lookup of %s failed", o.AmazonOrderID)
		}
		if o.History[0].Status != AmazonPending || !o.History[0].At.Equal(o.PurchaseDate) {
			t.Fatalf("%s does not start Pending at purchase", o.AmazonOrderID)
		}
		last := o.History[len(o.History)-1].At
		if last.Sub(o.PurchaseDate) > MaxAmazonLifecycle {
			t.Fatalf("%s lives longer than MaxAmazonLifecycle", o.AmazonOrderID)
		}
		for i := 1; i < len(o.History); i++ {
			if !o.History[i].At.After(o.History[i-1].At) {
				t.Fatalf("%s history not increasing", o.AmazonOrderID)
			}
		}
		for _, it := range o.Items {
			if it.ItemPrice != it.UnitPrice.Mul(it.Quantity) {
				t.Fatalf("%s: ItemPrice is not unit price × quantity", o.AmazonOrderID)
			}
			if it.ReportLag > MaxReportLag {
				t.Fatalf("report lag beyond 72h")
			}
		}
	}
	if _, ok := w.AmazonOrder("111-0000000-0000000"); ok {
		t.Error("found an order that does not exist")
	}

	tt := w.TikTokOrdersCreated(from, now)
	if len(tt) < 500 {
		t.Fatalf("only %d TikTok orders", len(tt))
	}
	attributed := 0
	for _, o := range tt {
		got, ok := w.TikTokOrder(o.ID)
		if !ok || got != o {
			t.Fatalf("lookup of TikTok order %s failed", o.ID)
		}
		if o.VideoID != "" {
			attributed++
			v, ok := w.Video(o.VideoID)
			if !ok {
				t.Fatalf("order %s attributed to unknown video", o.ID)
			}
			shows := false
			for _, li := range o.LineItems {
				if slices.Contains(v.ProductKeys, li.ProductKey) {
					shows = true
				}
			}
			if !shows {
				t.Fatalf("order %s attributed to a video that does not show its products", o.ID)
			}
		}
		if last := o.History[len(o.History)-1].At; last.Sub(o.CreateTime) > MaxTikTokLifecycle {
			t.Fatalf("TikTok order %s lives too long", o.ID)
		}
	}
	if attributed == 0 {
		t.Error("no TikTok order is attributed to a video")
	}
}

func TestOrderStateAt(t *testing.T) {
	w := testWorld(t, 3)
	o := w.AmazonOrdersPurchased(w.Now().Add(-80*time.Hour), w.Now())[0]
	if _, ok := o.At(o.PurchaseDate.Add(-time.Second)); ok {
		t.Error("order exists before its purchase")
	}
	s, _ := o.At(o.PurchaseDate)
	if s.Status != AmazonPending {
		t.Errorf("status at purchase = %s", s.Status)
	}
	final, _ := o.At(o.PurchaseDate.Add(MaxAmazonLifecycle))
	if want := o.History[len(o.History)-1]; final.Status != want.Status || !final.LastUpdateDate.Equal(want.At) {
		t.Errorf("final state %s@%s, want %s@%s", final.Status, final.LastUpdateDate, want.Status, want.At)
	}
}

func TestEngagementMonotonicAndInsightsVanish(t *testing.T) {
	w := testWorld(t, 9)
	vids := w.TruthAt(w.Now()).Videos()
	if len(vids) < 50 {
		t.Fatalf("only %d videos", len(vids))
	}
	for _, v := range vids[:20] {
		prev := v.EngagementAt(v.PostTime)
		for h := 1; h < 24*60; h += 7 {
			cur := v.EngagementAt(v.PostTime.Add(time.Duration(h) * time.Hour))
			if cur.VideoViews < prev.VideoViews || cur.Likes < prev.Likes || cur.Shares < prev.Shares ||
				cur.Favorites < prev.Favorites || cur.Comments < prev.Comments || cur.Reach < prev.Reach ||
				cur.TotalTimeWatched < prev.TotalTimeWatched {
				t.Fatalf("video %s engagement decreased at +%dh: %+v -> %+v", v.ID, h, prev, cur)
			}
			prev = cur
		}
		inactive := v.ActiveUntil().Add(InactiveInsightsAfter)
		if !v.EngagementAt(inactive).InsightsAvailable {
			t.Errorf("insights gone exactly at 7 days of inactivity")
		}
		if v.EngagementAt(inactive.Add(time.Second)).InsightsAvailable {
			t.Errorf("video %s still has insights after 7 inactive days", v.ID)
		}
		if a, b := v.EngagementAt(v.ActiveUntil()), v.EngagementAt(inactive.Add(time.Hour)); a.VideoViews != b.VideoViews {
			t.Errorf("views grew while inactive")
		}
	}
}

func TestSalesTrafficRestatement(t *testing.T) {
	w := testWorld(t, 11)
	zone := w.Config().AmazonZone
	d := DateOf(w.Now().Add(-5*24*time.Hour), zone)
	settled := w.SettledAt(d)
	var prevUnits, prevSessions int
	for h := 0; h <= 80; h += 4 {
		asOf := d.End(zone).Add(time.Duration(h) * time.Hour)
		_, sum := w.SalesTrafficDay(d, asOf)
		sessions := sum.BrowserSessions + sum.MobileAppSessions
		if sum.UnitsOrdered < prevUnits || sessions < prevSessions {
			t.Fatalf("restatement went down at +%dh", h)
		}
		if h < 24 && sessions != 0 {
			t.Fatalf("sessions reported %d before the first day settled", sessions)
		}
		prevUnits, prevSessions = sum.UnitsOrdered, sessions
	}
	rowsEarly, early := w.SalesTrafficDay(d, d.End(zone))
	rowsFinal, final := w.SalesTrafficDay(d, settled)
	if early.UnitsOrdered >= final.UnitsOrdered {
		t.Errorf("no restatement: units at day end %d, settled %d", early.UnitsOrdered, final.UnitsOrdered)
	}
	later, _ := w.SalesTrafficDay(d, settled.Add(30*24*time.Hour))
	if !reflect.DeepEqual(rowsFinal, later) {
		t.Error("figures still change after 72 hours")
	}
	// The settled units equal the day's true order lines.
	units := 0
	for _, o := range w.AmazonOrdersPurchased(d.Start(zone), d.End(zone)) {
		for _, it := range o.Items {
			units += it.Quantity
		}
	}
	if final.UnitsOrdered != units {
		t.Errorf("settled units %d, orders say %d", final.UnitsOrdered, units)
	}
	_ = rowsEarly
}

func TestPeriods(t *testing.T) {
	d, _ := ParseDate("2026-01-14") // a Wednesday
	p, err := PeriodOf(PeriodWeek, d)
	if err != nil || p.Start.String() != "2026-01-11" || p.End.String() != "2026-01-17" {
		t.Fatalf("week of %s = %+v, %v", d, p, err)
	}
	if p.Start.Weekday() != time.Sunday || p.End.Weekday() != time.Saturday {
		t.Fatal("weeks must run Sunday to Saturday")
	}
	if _, err := ExactPeriod(PeriodWeek, d, d.AddDays(6)); err == nil {
		t.Error("a Wednesday-start week was accepted")
	}
	q, _ := PeriodOf(PeriodQuarter, Date{Year: 2026, Month: time.November, Day: 3})
	if q.Start.String() != "2026-10-01" || q.End.String() != "2026-12-31" {
		t.Errorf("Q4 = %+v", q)
	}
}

func TestSearchData(t *testing.T) {
	w := testWorld(t, 5)
	p, _ := PeriodOf(PeriodWeek, DateOf(w.Now().Add(-10*24*time.Hour), w.Config().AmazonZone))
	rows := w.TruthAt(w.Now()).SearchTerms(p)
	if len(rows) == 0 {
		t.Fatal("no search term rows")
	}
	for _, r := range rows {
		if r.ClickShareRank < 1 || r.ClickShareRank > 3 || r.ClickShare < 0 || r.ClickShare > 1 {
			t.Fatalf("bad row %+v", r)
		}
	}
	if w.TruthAt(p.AvailableAt(w.Config().AmazonZone).Add(-time.Second)).SearchTerms(p) != nil {
		t.Error("search terms published before the 72h SLA")
	}
	asin := w.AmazonVariants()[0].Amazon.ASIN
	sqp := w.SearchQueryPerformance(asin, p)
	if len(sqp) == 0 {
		t.Fatal("no SQP rows")
	}
	for _, r := range sqp {
		if r.ASINImpressionCount > r.TotalQueryImpressionCount || r.ASINPurchaseCount > r.ASINCartAddCount {
			t.Fatalf("inconsistent funnel %+v", r)
		}
	}
}

func TestManualClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewManualClock(start)
	c.Advance(time.Minute)
	c.Advance(-time.Hour)
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("Now = %s", got)
	}
	c.Set(start)
	if !c.Now().Equal(start.Add(time.Minute)) {
		t.Fatal("Set moved the clock backwards")
	}
}

func TestVideoPerformanceAttributesOrders(t *testing.T) {
	w := testWorld(t, 13)
	zone := w.Config().ShopZone
	to := DateOf(w.Now(), zone)
	from := to.AddDays(-7)
	perf := w.VideoPerformances(from, to)
	var gmv Money
	for _, vp := range perf {
		gmv += vp.GMV
		var sum Money
		for _, p := range vp.Products {
			sum += p.GMV
		}
		if sum > vp.GMV {
			t.Fatalf("product GMV exceeds video GMV for %s", vp.Video.ID)
		}
	}
	var want Money
	for _, o := range w.TikTokOrdersCreated(from.Start(zone).Add(-time.Hour), to.Start(zone)) {
		if o.VideoID != "" && !o.PaidTime.IsZero() && !o.PaidTime.Before(from.Start(zone)) && o.PaidTime.Before(to.Start(zone)) {
			want += o.SubTotal()
		}
	}
	if gmv != want || gmv == 0 {
		t.Fatalf("video GMV %s, attributed orders %s", gmv, want)
	}
}

// TestIDMinutesInvert: an order id's digits turn back into its minute, for
// minutes across the whole range the digits can tell apart.
func TestIDMinutesInvert(t *testing.T) {
	for name, s := range map[string]idMinutes{"amazon": amazonIDMinutes, "tiktok": tiktokIDMinutes} {
		if 7919*s.inv%s.mod != 1 {
			t.Errorf("%s: %d is not 7919's inverse modulo %d", name, s.inv, s.mod)
		}
		for _, rel := range []int64{0, 1, 59, 1440, 525_600, s.mod / 2, s.mod - 1} {
			if got := s.minute(s.digits(rel)); got != rel {
				t.Errorf("%s: minute(digits(%d)) = %d", name, rel, got)
			}
		}
	}
}
