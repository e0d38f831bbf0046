package tiktokshoptest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/shopstream/shopstream/ingest/simworld"
)

// maxAnalyticsDays is the longest window one analytics query may span (one
// project reports 60 days; third-party).
const maxAnalyticsDays = 60

type videoPage struct {
	Start       string `json:"s"`
	End         string `json:"e"`
	SortField   string `json:"f"`
	Asc         bool   `json:"a"`
	AccountType string `json:"t"`
	page
}

// analyticsWindow parses start_date_ge / end_date_lt (shop-zone dates) and
// clamps the end to the day after latest_available_date (data is T-1).
func (s *Simulator) analyticsWindow(w http.ResponseWriter, ge, lt string) (from, to, latest simworld.Date, ok bool) {
	from, err1 := simworld.ParseDate(ge)
	to, err2 := simworld.ParseDate(lt)
	if err1 != nil || err2 != nil || !from.Before(to) || from.DaysUntil(to) > maxAnalyticsDays {
		s.fail(w, CodeAnalyticsPeriod, fmt.Sprintf("Invalid period: start_date_ge must be before end_date_lt and the range at most %d days.", maxAnalyticsDays))
		return from, to, latest, false
	}
	latest = simworld.DateOf(s.Clock().Now(), s.World().Config().ShopZone).AddDays(-1)
	if to.After(latest.AddDays(1)) {
		to = latest.AddDays(1)
	}
	return from, to, latest, true
}

func (s *Simulator) money(m simworld.Money) map[string]string {
	return map[string]string{"amount": m.String(), "currency": s.World().Config().Currency}
}

var videoSortFields = []string{"gmv", "gpm", "avg_customers", "sku_orders", "items_sold", "views", "click_through_rate"}

// videoPerformance is GET /analytics/202509/shop_videos/performance.
func (s *Simulator) videoPerformance(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var pg videoPage
	fresh, ok := openPage(s, w, q, &pg, 10)
	if !ok {
		return
	}
	if fresh {
		pg.Start, pg.End, pg.SortField, pg.AccountType = q.Get("start_date_ge"), q.Get("end_date_lt"), "gmv", "ALL"
		if f := q.Get("sort_field"); f != "" {
			if !slices.Contains(videoSortFields, f) {
				s.fail(w, CodeInvalidParam, "Invalid sort_field.")
				return
			}
			pg.SortField = f
		}
		pg.Asc = q.Get("sort_order") == "ASC"
		if a := q.Get("account_type"); a != "" {
			if !slices.Contains([]string{"ALL", simworld.AccountOfficial, "MARKETING_ACCOUNTS", simworld.AccountAffiliate}, a) {
				s.fail(w, CodeInvalidParam, "Invalid account_type.")
				return
			}
			pg.AccountType = a
		}
	}
	from, to, latest, ok := s.analyticsWindow(w, pg.Start, pg.End)
	if !ok {
		return
	}
	var rows []simworld.VideoPerformance
	if from.Before(to) {
		for _, vp := range s.World().VideoPerformances(from, to) {
			if pg.AccountType != "ALL" && pg.AccountType != vp.Video.Account {
				continue
			}
			if vp.Views == 0 && vp.GMV == 0 {
				continue
			}
			rows = append(rows, vp)
		}
	}
	metric := func(vp simworld.VideoPerformance) float64 {
		switch pg.SortField {
		case "gpm":
			return gpm(vp)
		case "avg_customers":
			return float64(vp.Customers)
		case "sku_orders":
			return float64(vp.SKUOrders)
		case "items_sold":
			return float64(vp.ItemsSold)
		case "views":
			return float64(vp.Views)
		case "click_through_rate":
			return ctr(vp)
		}
		return float64(vp.GMV)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		mi, mj := metric(rows[i]), metric(rows[j])
		if mi != mj {
			return mi < mj == pg.Asc
		}
		return rows[i].Video.ID < rows[j].Video.ID
	})
	start, end, next := pageWindow(pg, len(rows))
	zone := s.World().Config().ShopZone
	videos := []map[string]any{}
	for _, vp := range rows[start:end] {
		v := vp.Video
		products := []map[string]string{}
		for _, p := range vp.Products {
			products = append(products, map[string]string{"id": p.ProductID, "name": p.Name})
		}
		videos = append(videos, map[string]any{
			"id": v.ID, "title": v.Caption, "username": v.Username,
			// The post time's format is not in the reference; shop-local
			// "YYYY-MM-DD HH:MM:SS" is an assumption.
			"video_post_time": v.PostTime.In(zone).Format("2006-01-02 15:04:05"),
			"duration":        v.DurationSec, "hash_tags": v.HashTags,
			"gmv": s.money(vp.GMV), "gpm": s.money(simworld.Money(gpm(vp) * 100)),
			"avg_customers": vp.Customers, "sku_orders": vp.SKUOrders, "items_sold": vp.ItemsSold,
			"views": vp.Views,
			// 202509 formats the rate as a decimal string ("0.0528"); other
			// versions use "12.5%" (third-party).
			"click_through_rate": strconv.FormatFloat(ctr(vp), 'f', 4, 64),
			"products":           products,
		})
	}
	s.ok(w, map[string]any{"videos": videos, "total_count": len(rows), "next_page_token": next, "latest_available_date": latest.String()})
}

// gpm is GMV per thousand views, in major units.
func gpm(vp simworld.VideoPerformance) float64 {
	if vp.Views == 0 {
		return 0
	}
	return float64(int64(float64(vp.GMV)/float64(vp.Views)*1000)) / 100
}

func ctr(vp simworld.VideoPerformance) float64 {
	if vp.Views == 0 {
		return 0
	}
	return float64(int64(float64(vp.ProductClicks)/float64(vp.Views)*10000)) / 10000
}

// videoProductsPage is the page_token of a video's products.
type videoProductsPage struct {
	Video string `json:"v"`
	Start string `json:"s"`
	End   string `json:"e"`
	page
}

// videoProducts is GET /analytics/202509/shop_videos/{video_id}/products/performance:
// the video→product link with each product's sales through the video. It
// pages like the spec says: page_size at most 100, default 10, and
// next_page_token.
func (s *Simulator) videoProducts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := r.PathValue("video_id")
	v, ok := s.World().Video(id)
	if !ok || v.PostTime.After(s.Clock().Now()) {
		s.fail(w, CodeInvalidParam, "Video not found: "+id)
		return
	}
	var pg videoProductsPage
	fresh, ok := openPage(s, w, q, &pg, 10)
	if !ok {
		return
	}
	if fresh {
		pg.Video, pg.Start, pg.End = id, q.Get("start_date_ge"), q.Get("end_date_lt")
	} else if pg.Video != id {
		s.fail(w, CodeInvalidParam, "Invalid page_token.")
		return
	}
	from, to, latest, ok := s.analyticsWindow(w, pg.Start, pg.End)
	if !ok {
		return
	}
	products := []map[string]any{}
	if from.Before(to) {
		for _, vp := range s.World().VideoPerformances(from, to) {
			if vp.Video.ID != id {
				continue
			}
			for _, p := range vp.Products {
				products = append(products, map[string]any{"id": p.ProductID, "name": p.Name,
					"gmv": s.money(p.GMV), "units_sold": p.ItemsSold, "orders": p.Orders})
			}
		}
	}
	start, end, next := pageWindow(pg, len(products))
	s.ok(w, map[string]any{"products": products[start:end], "total_count": len(products), "next_page_token": next,
		"latest_available_date": latest.String()})
}
