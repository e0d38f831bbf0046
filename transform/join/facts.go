package join

import (
	"github.com/shopstream/shopstream/transform/identity"
)

// Amazon order status that does not count as an order.
const amazonCanceled = "Canceled"

// TikTok order status that does not count as an order.
const tiktokCancelled = "CANCELLED"

func amazonRef(mkt, asin string) identity.Ref {
	return identity.Ref{Channel: identity.ChannelAmazon, Account: mkt, ID: asin}
}

func tiktokRef(shop, sku string) identity.Ref {
	return identity.Ref{Channel: identity.ChannelTikTok, Account: shop, ID: sku}
}

// ApplyBestSellersRank applies an amazon.catalog snapshot. Each snapshot is
// one observation of the ASIN's rank on the day of its source_ts: they are
// kept side by side (best and average of the day), so a snapshot that
// arrives late still counts. A delete retracts every observation of the
// ASIN and ignores snapshots older than it.
func (j *Join) ApplyBestSellersRank(s BestSellersRank) []Row {
	ref := amazonRef(s.MarketplaceID, s.ASIN)
	t := touched{}
	if s.deleted() {
		if s.Version <= j.bsrTomb[ref] {
			return nil
		}
		j.bsrTomb[ref] = s.Version
		for _, f := range j.bsrFacts[ref] {
			j.setFact(f, nil, t)
		}
		delete(j.bsrFacts, ref)
		return j.emit(t, s.Meta)
	}
	if s.Version <= j.bsrTomb[ref] || len(s.DisplayGroupRanks) == 0 {
		return nil
	}
	if _, dup := j.bsrFacts[ref][s.Version]; dup {
		return nil
	}
	best := s.DisplayGroupRanks[0]
	for _, r := range s.DisplayGroupRanks[1:] {
		best = min(best, r)
	}
	if j.bsrFacts[ref] == nil {
		j.bsrFacts[ref] = map[int64]*fact{}
	}
	f := &fact{}
	j.bsrFacts[ref][s.Version] = f
	j.setFact(f, []cellContrib{{ref, DayOf(s.SourceTS, j.zone), &rankContrib{best}}}, t)
	return j.emit(t, s.Meta)
}

// ApplySalesTraffic applies an amazon.sales_traffic row; a restated day
// (higher version) replaces the earlier figures.
func (j *Join) ApplySalesTraffic(s SalesTraffic) ([]Row, error) {
	id := "st|" + s.Key
	var cs []cellContrib
	if !s.deleted() {
		day, err := j.reportDay(s.Date)
		if err != nil {
			return nil, err
		}
		cs = []cellContrib{{amazonRef(s.MarketplaceID, s.ASIN), day, &stContrib{sessions: s.Sessions,
			pageViews: s.PageViews, units: s.Units, currency: j.intern(s.Currency), amount: amountOf(s.Sales)}}}
	}
	f, _ := j.accept(id, s.Meta)
	if f == nil {
		return nil, nil
	}
	t := touched{}
	j.setFact(f, cs, t)
	return j.emit(t, s.Meta), nil
}

// reportDay converts a source day to the reporting zone.
func (j *Join) reportDay(d ZonedDay) (Day, error) { return reportDay(d, j.zone) }

// periodDays returns the reporting days a Brand Analytics period covers and
// the period with its bounds converted to reporting days.
func (j *Join) periodDays(p Period) ([]Day, Period, error) { return periodDays(p, j.zone) }

// ApplySearchQuery applies an amazon.search_query_performance row. Its
// figures are weekly (or monthly, quarterly) totals: they are carried,
// whole, on every day of the period, together with the period's bounds,
// and must not be summed over days. A day covered by periods of several
// kinds shows the shortest.
func (j *Join) ApplySearchQuery(s SearchQuery) ([]Row, error) {
	id := "sqp|" + s.Key
	var cs []cellContrib
	if !s.deleted() {
		days, p, err := j.periodDays(s.Period)
		if err != nil {
			return nil, err
		}
		ref := amazonRef(s.MarketplaceID, s.ASIN)
		c := &sqpContrib{period: p, impressions: s.Impressions, clicks: s.Clicks, purchases: s.Purchases}
		for _, d := range days {
			cs = append(cs, cellContrib{ref, d, c})
		}
	}
	f, _ := j.accept(id, s.Meta)
	if f == nil {
		return nil, nil
	}
	t := touched{}
	j.setFact(f, cs, t)
	return j.emit(t, s.Meta), nil
}

// ApplySearchTerm applies an amazon.search_terms row: the term is listed on
// every day of its period for each clicked ASIN. Clicked ASINs that are not
// the seller's (no identity link) are kept but make no row of their own.
func (j *Join) ApplySearchTerm(s SearchTerm) ([]Row, error) {
	id := "st-term|" + s.Key
	var cs []cellContrib
	if !s.deleted() {
		days, p, err := j.periodDays(s.Period)
		if err != nil {
			return nil, err
		}
		for _, c := range s.Clicked {
			ref := amazonRef(s.MarketplaceID, c.ASIN)
			tr := TermRank{Term: s.Term, Department: s.Department, FrequencyRank: s.FrequencyRank,
				ClickShareRank: c.ClickShareRank, ClickShare: c.ClickShare, ConversionShare: c.ConversionShare}
			c := &termContrib{period: p, term: tr}
			for _, d := range days {
				cs = append(cs, cellContrib{ref, d, c})
			}
		}
	}
	f, _ := j.accept(id, s.Meta)
	if f == nil {
		return nil, nil
	}
	t := touched{}
	j.setFact(f, cs, t)
	return j.emit(t, s.Meta), nil
}

func orderKey(mkt, order string) string { return mkt + ":" + order }

// ApplyAmazonOrder applies an amazon.orders header: only its purchase date
// matters, for items that arrived without one.
func (j *Join) ApplyAmazonOrder(o AmazonOrder) []Row {
	if o.deleted() || o.PurchaseDate.IsZero() {
		return nil
	}
	f, id := j.accept("ao|"+orderKey(o.MarketplaceID, o.OrderID), o.Meta)
	if f == nil {
		return nil
	}
	ok := id[len("ao|"):] // shares the fact id's bytes
	// Only the day in the reporting zone is ever used.
	day := DayOf(o.PurchaseDate, j.zone)
	j.orderDays[ok] = day
	t := touched{}
	for id, it := range j.pendingItems[ok] {
		j.setFact(j.facts[id], j.amazonItemContribs(it, ok, day), t)
	}
	delete(j.pendingItems, ok)
	return j.emit(t, o.Meta)
}

// ApplyAmazonOrderItem applies an amazon.order_items line: the order counts
// once for the ASIN's product on its purchase day (reporting zone), unless
// it is canceled.
func (j *Join) ApplyAmazonOrderItem(it AmazonOrderItem) []Row {
	f, id := j.accept("aoi|"+orderKey(it.MarketplaceID, it.OrderID)+":"+it.ItemID, it.Meta)
	if f == nil {
		return nil
	}
	// The order key, sharing the fact id's bytes: it is kept in every
	// contribution of the order.
	ok := id[len("aoi|") : len(id)-len(it.ItemID)-1]
	delete(j.pendingItems[ok], id)
	t := touched{}
	var cs []cellContrib
	if !it.deleted() {
		day, dated := j.orderDays[ok]
		if !it.PurchaseDate.IsZero() {
			day, dated = DayOf(it.PurchaseDate, j.zone), true
		}
		if !dated {
			if j.pendingItems[ok] == nil {
				j.pendingItems[ok] = map[string]AmazonOrderItem{}
			}
			j.pendingItems[ok][id] = it
		} else {
			cs = j.amazonItemContribs(it, ok, day)
		}
	}
	j.setFact(f, cs, t)
	return j.emit(t, it.Meta)
}

func (j *Join) amazonItemContribs(it AmazonOrderItem, order string, day Day) []cellContrib {
	if it.OrderStatus == amazonCanceled {
		return nil
	}
	return []cellContrib{{amazonRef(it.MarketplaceID, it.ASIN), day, &amzOrderContrib{order}}}
}

// ApplyTikTokOrder applies a tiktok.orders record: every line is one unit
// of its SKU's product on the order's create day; a cancelled order
// counts for nothing.
func (j *Join) ApplyTikTokOrder(o TikTokOrder) []Row {
	f, id := j.accept("tto|"+o.ShopID+":"+o.OrderID, o.Meta)
	if f == nil {
		return nil
	}
	order := id[len("tto|"):] // shares the fact id's bytes
	t := touched{}
	var cs []cellContrib
	if !o.deleted() && o.Status != tiktokCancelled {
		day := DayOf(o.CreateTime, j.zone)
		for _, l := range o.Lines {
			cur := l.Currency
			if cur == "" {
				cur = o.Currency
			}
			c := &ttOrderContrib{orderID: order, units: 1, currency: j.intern(cur), amount: amountOf(l.SalePrice)}
			cs = append(cs, cellContrib{tiktokRef(o.ShopID, l.SKUID), day, c})
		}
	}
	j.setFact(f, cs, t)
	return j.emit(t, o.Meta)
}
