package tiktokshop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// Product is a product of product search (reference section 2.9).
type Product struct {
	ID           string   `json:"id"`
	Title        string   `json:"title"`
	Status       string   `json:"status"`
	SalesRegions []string `json:"sales_regions"`
	CreateTime   int64    `json:"create_time"`
	UpdateTime   int64    `json:"update_time"`
	Audit        struct {
		Status string `json:"status"`
	} `json:"audit"`
	SKUs []SKU `json:"skus"`
}

// SKU is one skus[] entry of a product.
type SKU struct {
	ID        string `json:"id"`
	SellerSKU string `json:"seller_sku"`
	Price     struct {
		Currency          string `json:"currency"`
		SalePrice         string `json:"sale_price"`
		TaxExclusivePrice string `json:"tax_exclusive_price"`
	} `json:"price"`
	ListPrice  *Amount     `json:"list_price"`
	Inventory  []Inventory `json:"inventory"`
	StatusInfo struct {
		Status             string `json:"status"`
		DeactivationSource string `json:"deactivation_source"`
	} `json:"status_info"`
	// IdentifierCode is on product detail only; the field is not confirmed
	// by the reference.
	IdentifierCode *struct {
		Code string `json:"code"`
		Type string `json:"type"`
	} `json:"identifier_code"`
}

// Inventory is the stock of a SKU in one warehouse.
type Inventory struct {
	WarehouseID string `json:"warehouse_id"`
	Quantity    int64  `json:"quantity"`
}

// Amount is a money object {amount, currency}.
type Amount struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// ProductSearch filters a product search. Zero fields do not filter.
type ProductSearch struct {
	// Status is one of ALL, ACTIVATE, ... (default ALL).
	Status       string
	UpdateTimeGE time.Time
	UpdateTimeLE time.Time
}

// ProductSearchPageSize is the page size of product searches (the maximum).
const ProductSearchPageSize = 100

// SearchProducts returns every product matching s, following page_token.
func (c *Client) SearchProducts(ctx context.Context, s ProductSearch) ([]Product, error) {
	body := map[string]any{"status": "ALL"}
	if s.Status != "" {
		body["status"] = s.Status
	}
	if !s.UpdateTimeGE.IsZero() {
		body["update_time_ge"] = s.UpdateTimeGE.Unix()
	}
	if !s.UpdateTimeLE.IsZero() {
		body["update_time_le"] = s.UpdateTimeLE.Unix()
	}
	params := url.Values{"page_size": {strconv.Itoa(ProductSearchPageSize)}}
	var out []Product
	for page := 0; ; page++ {
		var d struct {
			NextPageToken string            `json:"next_page_token"`
			Products      []json.RawMessage `json:"products"`
		}
		if err := c.call(ctx, "products.search", http.MethodPost, "/product/202309/products/search", params, body, true, &d); err != nil {
			return nil, fmt.Errorf("search products page %d: %w", page, err)
		}
		var err error
		if out, err = appendEach(c, "products.search", out, d.Products); err != nil {
			return nil, err
		}
		if d.NextPageToken == "" {
			return out, nil
		}
		params = url.Values{"page_size": {strconv.Itoa(ProductSearchPageSize)}, "page_token": {d.NextPageToken}}
	}
}

// ProductDetail returns one product with its detail-only fields (SKU
// identifier codes).
func (c *Client) ProductDetail(ctx context.Context, id string) (Product, error) {
	var p Product
	if err := c.call(ctx, "products.detail", http.MethodGet, "/product/202309/products/"+url.PathEscape(id), nil, nil, true, &p); err != nil {
		return Product{}, fmt.Errorf("product detail %s: %w", id, err)
	}
	return p, nil
}

// VideoPerformance is one row of GET /analytics/202509/shop_videos/performance
// (reference section 2.10): a video's figures over the requested days, with
// the products it shows.
type VideoPerformance struct {
	ID            string   `json:"id"`
	Title         string   `json:"title"`
	Username      string   `json:"username"`
	VideoPostTime string   `json:"video_post_time"`
	Duration      int64    `json:"duration"`
	HashTags      []string `json:"hash_tags"`
	GMV           *Amount  `json:"gmv"`
	GPM           *Amount  `json:"gpm"`
	AvgCustomers  *int64   `json:"avg_customers"`
	SKUOrders     *int64   `json:"sku_orders"`
	ItemsSold     *int64   `json:"items_sold"`
	Views         *int64   `json:"views"`
	// Likes, Comments and Shares are not among the list's fields in the
	// reference (the detail endpoint has them under traffic), but the spec
	// copy is partial: when a row carries them they are kept, when it does
	// not they stay nil (unknown, not zero).
	Likes    *int64 `json:"likes"`
	Comments *int64 `json:"comments"`
	Shares   *int64 `json:"shares"`
	// ClickThroughRate is a fraction; versions send "0.0528" or "12.5%".
	ClickThroughRate *Rate          `json:"click_through_rate"`
	Products         []VideoProduct `json:"products"`
}

// VideoProduct is a product shown in a video; GMV and UnitsSold are filled
// by VideoProducts only.
type VideoProduct struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	GMV       *Amount `json:"gmv"`
	UnitsSold *int64  `json:"units_sold"`
}

// Rate is a ratio that the API sends as a number, a decimal string or a
// percent string; it holds the fraction.
type Rate float64

// UnmarshalJSON accepts 0.0528, "0.0528" and "5.28%".
func (r *Rate) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	s = strings.TrimSpace(strings.Trim(s, `"`))
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil {
		return fmt.Errorf("rate %s: %w", b, err)
	}
	if pct {
		f /= 100
	}
	*r = Rate(f)
	return nil
}

// VideoDay is the video performance of one shop-zone day.
type VideoDay struct {
	// Day is the day (YYYY-MM-DD in the shop's time zone).
	Day string
	// LatestAvailableDate is the last day whose data is ready; figures of a
	// later day are not final.
	LatestAvailableDate string
	Videos              []VideoPerformance
}

// VideoPerformanceDay returns every video's performance on day (YYYY-MM-DD
// in the shop's registered time zone), following page_token. With
// productSales set it also asks each video's products/performance for the
// per-product GMV and units (one call per video with products).
func (c *Client) VideoPerformanceDay(ctx context.Context, day string, productSales bool) (VideoDay, error) {
	d0, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return VideoDay{}, fmt.Errorf("video performance: day %q: %w", day, err)
	}
	next := d0.AddDate(0, 0, 1).Format(time.DateOnly)
	base := url.Values{"start_date_ge": {day}, "end_date_lt": {next}, "page_size": {"100"}, "currency": {"LOCAL"}}
	params := base
	out := VideoDay{Day: day}
	for page := 0; ; page++ {
		var d struct {
			Videos              []json.RawMessage `json:"videos"`
			NextPageToken       string            `json:"next_page_token"`
			LatestAvailableDate string            `json:"latest_available_date"`
		}
		if err := c.call(ctx, "analytics.shop_videos", http.MethodGet, "/analytics/202509/shop_videos/performance", params, nil, true, &d); err != nil {
			return VideoDay{}, fmt.Errorf("video performance of %s page %d: %w", day, page, err)
		}
		if out.Videos, err = appendEach(c, "analytics.shop_videos", out.Videos, d.Videos); err != nil {
			return VideoDay{}, err
		}
		out.LatestAvailableDate = d.LatestAvailableDate
		if d.NextPageToken == "" {
			break
		}
		params = url.Values{"page_token": {d.NextPageToken}}
		for k, v := range base {
			params[k] = v
		}
	}
	if productSales {
		for i := range out.Videos {
			if len(out.Videos[i].Products) == 0 {
				continue
			}
			ps, err := c.VideoProducts(ctx, out.Videos[i].ID, day)
			if err != nil {
				return VideoDay{}, err
			}
			out.Videos[i].Products = ps
		}
	}
	return out, nil
}

// videoProductsPageSize is the page size of a video's products (the
// maximum; the API's default is 10).
const videoProductsPageSize = 100

// VideoProducts returns the products of a video with their sales through it
// on day (GET /analytics/202509/shop_videos/{video_id}/products/performance):
// the video→product link, following page_token. The API has no call for
// several videos at once, so it is one call (or more) per video.
func (c *Client) VideoProducts(ctx context.Context, videoID, day string) ([]VideoProduct, error) {
	d0, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return nil, fmt.Errorf("video products: day %q: %w", day, err)
	}
	base := url.Values{"start_date_ge": {day}, "end_date_lt": {d0.AddDate(0, 0, 1).Format(time.DateOnly)}, "currency": {"LOCAL"},
		"page_size": {strconv.Itoa(videoProductsPageSize)}}
	params := base
	path := "/analytics/202509/shop_videos/" + url.PathEscape(videoID) + "/products/performance"
	var out []VideoProduct
	for page := 0; ; page++ {
		var d struct {
			Products      []VideoProduct `json:"products"`
			NextPageToken string         `json:"next_page_token"`
		}
		if err := c.call(ctx, "analytics.video_products", http.MethodGet, path, params, nil, true, &d); err != nil {
			return nil, fmt.Errorf("products of video %s on %s page %d: %w", videoID, day, page, err)
		}
		out = append(out, d.Products...)
		if d.NextPageToken == "" {
			return out, nil
		}
		params = url.Values{"page_token": {d.NextPageToken}}
		for k, v := range base {
			params[k] = v
		}
	}
}

var _ json.Unmarshaler = (*Rate)(nil)

// Malformed is one entity of an otherwise good response that does not
// decode: a field of an unexpected type, say. Retrying would bring the same
// bytes, so it is skipped and handed to Config.OnMalformed, whose job is to
// put Raw on the dead-letter topic.
type Malformed struct {
	Op  string
	Raw json.RawMessage
	Err error
}

// Topic names the topic the entity was meant for, by its operation.
func (m Malformed) Topic() string {
	switch {
	case strings.HasPrefix(m.Op, "products"):
		return schemas.TopicTikTokProducts
	case strings.HasPrefix(m.Op, "analytics"), strings.HasPrefix(m.Op, "shop_videos"):
		return schemas.TopicTikTokVideoPerformance
	}
	return schemas.TopicTikTokOrders
}

// appendEach decodes the entities of a page one by one and appends them to
// out (what the pages before gave), so one unexpected entity cannot stop the
// stage: it goes to OnMalformed, or fails the call when nobody is there to
// dead-letter it (never dropped silently).
func appendEach[T any](c *Client, op string, out []T, raws []json.RawMessage) ([]T, error) {
	for _, raw := range raws {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			if c.cfg.OnMalformed == nil {
				return nil, fmt.Errorf("tiktokshop: %s: an entity does not decode: %w", op, err)
			}
			c.cfg.OnMalformed(Malformed{Op: op, Raw: raw, Err: err})
			continue
		}
		out = append(out, v)
	}
	return out, nil
}
