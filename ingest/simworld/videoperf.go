package simworld

import (
	"sort"
	"time"
)

// VideoPerformance is what TikTok Shop analytics reports for one video over a
// date range in the shop's time zone: views gained in the range and the sales
// attributed to the video.
type VideoPerformance struct {
	Video         *Video                    `json:"video"`
	Views         int64                     `json:"views"`
	Likes         int64                     `json:"likes"`
	Comments      int64                     `json:"comments"`
	Shares        int64                     `json:"shares"`
	ProductClicks int64                     `json:"product_clicks"`
	GMV           Money                     `json:"gmv"`
	ItemsSold     int                       `json:"items_sold"`
	SKUOrders     int                       `json:"sku_orders"`
	Customers     int                       `json:"customers"`
	Products      []VideoProductPerformance `json:"products"`
}

// VideoProductPerformance is one product's sales through a video.
type VideoProductPerformance struct {
	ProductKey string `json:"product_key"`
	ProductID  string `json:"product_id"`
	Name       string `json:"name"`
	GMV        Money  `json:"gmv"`
	ItemsSold  int    `json:"items_sold"`
	Orders     int    `json:"orders"`
}

// VideoPerformances returns the performance of every shoppable video (one that
// shows at least one product) posted before the end of [from, to), for the
// shop-zone days from inclusive to exclusive. Sales count paid orders whose
// payment falls in the range. The result is memoised per range (a backfill
// asks for each day's once per video); callers must not modify it.
func (w *World) VideoPerformances(from, to Date) []VideoPerformance {
	return memo(w, &w.perfCache, dateRange{from, to}, func() []VideoPerformance { return w.videoPerformances(from, to) })
}

type dateRange struct{ from, to Date }

func (w *World) videoPerformances(from, to Date) []VideoPerformance {
	zone := w.cfg.ShopZone
	start, end := from.Start(zone), to.Start(zone)
	byVideo := map[string]*VideoPerformance{}
	var out []*VideoPerformance
	for _, v := range w.VideosUntil(end.Add(-time.Nanosecond)) {
		if len(v.ProductKeys) == 0 {
			continue
		}
		e0, e1 := v.EngagementAt(start), v.EngagementAt(end)
		vp := &VideoPerformance{Video: v,
			Views: e1.VideoViews - e0.VideoViews, Likes: e1.Likes - e0.Likes,
			Comments: e1.Comments - e0.Comments, Shares: e1.Shares - e0.Shares,
			ProductClicks: v.ProductClicks(end) - v.ProductClicks(start)}
		for i, pk := range v.ProductKeys {
			vp.Products = append(vp.Products, VideoProductPerformance{ProductKey: pk, ProductID: v.ProductIDs[i], Name: w.byKey[pk].Title})
		}
		byVideo[v.ID] = vp
		out = append(out, vp)
	}
	customers := map[string]map[string]bool{}
	for _, o := range w.TikTokOrdersCreated(start.Add(-time.Hour), end) {
		if o.VideoID == "" || o.PaidTime.IsZero() || o.PaidTime.Before(start) || !o.PaidTime.Before(end) {
			continue
		}
		vp := byVideo[o.VideoID]
		if vp == nil {
			continue
		}
		skus := map[string]bool{}
		for _, li := range o.LineItems {
			vp.GMV += li.SalePrice
			vp.ItemsSold++
			skus[li.SKUID] = true
			for i := range vp.Products {
				if vp.Products[i].ProductKey == li.ProductKey {
					vp.Products[i].GMV += li.SalePrice
					vp.Products[i].ItemsSold++
				}
			}
		}
		for i := range vp.Products {
			for _, li := range o.LineItems {
				if li.ProductKey == vp.Products[i].ProductKey {
					vp.Products[i].Orders++
					break
				}
			}
		}
		vp.SKUOrders += len(skus)
		if customers[o.VideoID] == nil {
			customers[o.VideoID] = map[string]bool{}
		}
		customers[o.VideoID][o.UserID] = true
	}
	res := make([]VideoPerformance, 0, len(out))
	for _, vp := range out {
		vp.Customers = len(customers[vp.Video.ID])
		res = append(res, *vp)
	}
	sort.SliceStable(res, func(i, j int) bool { return res[i].Video.PostTime.Before(res[j].Video.PostTime) })
	return res
}
