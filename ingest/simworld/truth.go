package simworld

import (
	"sort"
	"time"
)

// Truth is the ground-truth view of the world at one instant: what every
// order, product, catalog entry, video and report row really is, with no API
// delays, paging or faults in between. End-to-end tests compare what a pipeline
// landed with Truth.
type Truth struct {
	w  *World
	at time.Time
}

// TruthAt returns the ground truth at t.
func (w *World) TruthAt(t time.Time) Truth { return Truth{w: w, at: t} }

// Truth returns the ground truth at the clock's current reading.
func (w *World) Truth() Truth { return w.TruthAt(w.Now()) }

// At returns the instant the view describes.
func (t Truth) At() time.Time { return t.at }

// Products returns every product family with its variants and listings.
func (t Truth) Products() []*Product { return t.w.products }

// AmazonOrders returns every Amazon order purchased in [from, to) that exists
// at the view's instant, in its state at that instant.
func (t Truth) AmazonOrders(from, to time.Time) []AmazonOrderState {
	return statesAt(t.w.AmazonOrdersPurchased(from, t.until(to)), t.at, nil)
}

// AmazonOrdersUpdated returns the Amazon orders whose last update at the
// view's instant falls in [from, to), ordered by last update.
func (t Truth) AmazonOrdersUpdated(from, to time.Time) []AmazonOrderState {
	to = t.until(to)
	orders := t.w.AmazonOrdersPurchased(from.Add(-MaxAmazonLifecycle), to)
	return updatedIn(orders, t.at, from, to, func(s AmazonOrderState) time.Time { return s.LastUpdateDate })
}

// TikTokOrders returns every TikTok order created in [from, to) that exists at
// the view's instant, in its state at that instant.
func (t Truth) TikTokOrders(from, to time.Time) []TikTokOrderState {
	return statesAt(t.w.TikTokOrdersCreated(from, t.until(to)), t.at, nil)
}

// TikTokOrdersUpdated returns the TikTok orders whose update time at the
// view's instant falls in [from, to), ordered by update time.
func (t Truth) TikTokOrdersUpdated(from, to time.Time) []TikTokOrderState {
	to = t.until(to)
	orders := t.w.TikTokOrdersCreated(from.Add(-MaxTikTokLifecycle), to)
	return updatedIn(orders, t.at, from, to, func(s TikTokOrderState) time.Time { return s.UpdateTime })
}

// until bounds the end of a range to the view's instant: nothing after it
// exists yet.
func (t Truth) until(to time.Time) time.Time { return minTime(to, t.at.Add(time.Nanosecond)) }

// stateful is an order of either marketplace: its state at an instant, if
// it exists then.
type stateful[S any] interface {
	At(time.Time) (S, bool)
}

// statesAt returns the states at of the orders that exist at that instant
// and that keep (nil keeps all) accepts, in the orders' order.
func statesAt[O stateful[S], S any](orders []O, at time.Time, keep func(S) bool) []S {
	var out []S
	for _, o := range orders {
		if s, ok := o.At(at); ok && (keep == nil || keep(s)) {
			out = append(out, s)
		}
	}
	return out
}

// updatedIn returns the states at of the orders whose update time (updated)
// at that instant falls in [from, to), ordered by it.
func updatedIn[O stateful[S], S any](orders []O, at, from, to time.Time, updated func(S) time.Time) []S {
	out := statesAt(orders, at, func(s S) bool { return !updated(s).Before(from) && updated(s).Before(to) })
	sort.SliceStable(out, func(i, j int) bool { return updated(out[i]).Before(updated(out[j])) })
	return out
}

// CatalogEntry is an Amazon catalog item at one instant: identifiers and Best
// Sellers Rank.
type CatalogEntry struct {
	ASIN        string       `json:"asin"`
	ParentASIN  string       `json:"parent_asin,omitempty"`
	IsParent    bool         `json:"is_parent"`
	ProductKey  string       `json:"product_key"`
	VariantKey  string       `json:"variant_key,omitempty"`
	ItemName    string       `json:"item_name"`
	Brand       string       `json:"brand"`
	Identifiers []Identifier `json:"identifiers"`
	SalesRank   SalesRank    `json:"sales_rank"`
}

// Catalog returns every Amazon catalog item (parents and children), by ASIN.
func (t Truth) Catalog() []CatalogEntry {
	var out []CatalogEntry
	for _, p := range t.w.products {
		if p.ParentASIN != "" {
			e, _ := t.CatalogItem(p.ParentASIN)
			out = append(out, e)
		}
		for _, v := range p.Variants {
			if v.Amazon != nil {
				e, _ := t.CatalogItem(v.Amazon.ASIN)
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ASIN < out[j].ASIN })
	return out
}

// CatalogItem returns one catalog item by ASIN.
func (t Truth) CatalogItem(asin string) (CatalogEntry, bool) {
	rank, ok := t.w.SalesRankAt(asin, t.at)
	if !ok {
		return CatalogEntry{}, false
	}
	if v, ok := t.w.byASIN[asin]; ok {
		return CatalogEntry{ASIN: asin, ParentASIN: v.product.ParentASIN, ProductKey: v.ProductKey, VariantKey: v.Key,
			ItemName: v.product.Title + ", " + v.Name, Brand: v.product.Brand.Name,
			Identifiers: v.Amazon.Identifiers, SalesRank: rank}, true
	}
	p := t.w.byParentASIN[asin]
	return CatalogEntry{ASIN: asin, IsParent: true, ProductKey: p.Key, ItemName: p.Title, Brand: p.Brand.Name,
		Identifiers: []Identifier{}, SalesRank: rank}, true
}

// Videos returns every video posted at or before the view's instant.
func (t Truth) Videos() []*Video { return t.w.VideosUntil(t.at) }

// VideoEngagement returns a video's lifetime engagement snapshot.
func (t Truth) VideoEngagement(id string) (Engagement, bool) {
	v, ok := t.w.Video(id)
	if !ok || v.PostTime.After(t.at) {
		return Engagement{}, false
	}
	return v.EngagementAt(t.at), true
}

// SalesTraffic returns day d's Sales & Traffic as a report generated at the
// view's instant shows it (restated until the day settles).
func (t Truth) SalesTraffic(d Date) ([]SalesTraffic, DaySales) { return t.w.SalesTrafficDay(d, t.at) }

// SalesTrafficSettled returns day d's final Sales & Traffic, after all
// restatements.
func (t Truth) SalesTrafficSettled(d Date) ([]SalesTraffic, DaySales) {
	return t.w.SalesTrafficDay(d, t.w.SettledAt(d))
}

// SearchTerms returns the Search Terms report rows of period p, or nil if the
// period's data is not yet published at the view's instant.
func (t Truth) SearchTerms(p Period) []SearchTermRow {
	if t.at.Before(p.AvailableAt(t.w.cfg.AmazonZone)) {
		return nil
	}
	return t.w.SearchTermsReport(p)
}

// SearchQueryPerformance returns an ASIN's Search Query Performance rows for
// period p, or nil if not yet published at the view's instant.
func (t Truth) SearchQueryPerformance(asin string, p Period) []SQPRow {
	if t.at.Before(p.AvailableAt(t.w.cfg.AmazonZone)) {
		return nil
	}
	return t.w.SearchQueryPerformance(asin, p)
}

// VideoPerformance returns the TikTok Shop analytics of every shoppable video
// for shop-zone days [from, to).
func (t Truth) VideoPerformance(from, to Date) []VideoPerformance {
	return t.w.VideoPerformances(from, to)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
