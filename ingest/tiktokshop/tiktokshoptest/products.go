package tiktokshoptest

import (
	"net/http"
	"slices"
	"strings"

	"github.com/shopstream/shopstream/ingest/simworld"
)

// ProductSearchRequest is the body of POST /product/{version}/products/search.
type ProductSearchRequest struct {
	Status       string   `json:"status,omitempty"`
	SellerSKUs   []string `json:"seller_skus,omitempty"`
	CreateTimeGE int64    `json:"create_time_ge,omitempty"`
	CreateTimeLE int64    `json:"create_time_le,omitempty"`
	UpdateTimeGE int64    `json:"update_time_ge,omitempty"`
	UpdateTimeLE int64    `json:"update_time_le,omitempty"`
}

type productPage struct {
	Req ProductSearchRequest `json:"r"`
	page
}

var productVersions = []string{"202309", "202312", "202502"}

func (s *Simulator) renderSKU(v *simworld.Variant, detail bool) map[string]any {
	cur := s.World().Config().Currency
	sku := map[string]any{
		"id": v.TikTok.SKUID, "seller_sku": v.TikTok.SellerSKU,
		"price":       map[string]string{"currency": cur, "sale_price": v.TikTok.Price.String(), "tax_exclusive_price": v.TikTok.Price.String()},
		"inventory":   []map[string]any{{"quantity": v.TikTok.Inventory, "warehouse_id": "7068517275539719942"}},
		"status_info": map[string]string{"status": "NORMAL"},
	}
	if detail {
		sku["sales_attributes"] = []map[string]string{{"name": "Color", "value_name": v.Color}, {"name": "Size", "value_name": v.Size}}
		if v.TikTok.IdentifierCode != nil {
			// Identifier codes are unverified in the reference; the shape
			// follows the 202309 product model.
			sku["identifier_code"] = map[string]string{"code": v.TikTok.IdentifierCode.Value, "type": v.TikTok.IdentifierCode.Type}
		}
	}
	return sku
}

func (s *Simulator) renderProduct(p *simworld.Product, detail bool) map[string]any {
	skus := []map[string]any{}
	for _, v := range p.Variants {
		if v.TikTok != nil {
			skus = append(skus, s.renderSKU(v, detail))
		}
	}
	out := map[string]any{
		"id": p.TikTokID, "title": p.Title, "status": "ACTIVATE", "sales_regions": []string{s.Credentials().Region},
		"create_time": p.CreateTime.Unix(), "update_time": p.UpdateTime.Unix(),
		"audit": map[string]string{"status": "APPROVED"}, "skus": skus,
	}
	if detail {
		out["brand"] = map[string]string{"name": p.Brand.Name}
		out["category_chains"] = []map[string]any{{"local_name": p.Category.Name, "is_leaf": true}}
		out["description"] = "<p>" + p.Title + "</p>"
	}
	return out
}

// searchProducts is POST /product/{version}/products/search.
func (s *Simulator) searchProducts(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(productVersions, r.PathValue("version")) {
		s.fail(w, CodeInvalidPath, "Invalid path or version.")
		return
	}
	q := r.URL.Query()
	var pg productPage
	fresh, ok := openPage(s, w, q, &pg, 0)
	if !ok {
		return
	}
	if fresh {
		if err := decodeBody(r, &pg.Req); err != nil {
			s.fail(w, CodeInvalidParam, "Invalid request body.")
			return
		}
	}
	rq := pg.Req
	var hits []*simworld.Product
	for _, p := range s.World().TikTokProducts() {
		c, u := p.CreateTime.Unix(), p.UpdateTime.Unix()
		if rq.Status != "" && rq.Status != "ALL" && rq.Status != "ACTIVATE" ||
			rq.CreateTimeGE > 0 && c < rq.CreateTimeGE || rq.CreateTimeLE > 0 && c > rq.CreateTimeLE ||
			rq.UpdateTimeGE > 0 && u < rq.UpdateTimeGE || rq.UpdateTimeLE > 0 && u > rq.UpdateTimeLE {
			continue
		}
		if len(rq.SellerSKUs) > 0 {
			found := false
			for _, v := range p.Variants {
				found = found || v.TikTok != nil && slices.Contains(rq.SellerSKUs, v.TikTok.SellerSKU)
			}
			if !found {
				continue
			}
		}
		hits = append(hits, p)
	}
	start, end, next := pageWindow(pg, len(hits))
	products := []map[string]any{}
	for _, p := range hits[start:end] {
		products = append(products, s.renderProduct(p, false))
	}
	s.ok(w, map[string]any{"products": products, "next_page_token": next, "total_count": len(hits)})
}

// productDetail is GET /product/{version}/products/{product_id}.
func (s *Simulator) productDetail(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(productVersions, r.PathValue("version")) {
		s.fail(w, CodeInvalidPath, "Invalid path or version.")
		return
	}
	p, ok := s.World().ProductByTikTokID(r.PathValue("product_id"))
	if !ok {
		s.fail(w, CodeInvalidParam, "Product not found: "+strings.TrimSpace(r.PathValue("product_id")))
		return
	}
	s.ok(w, s.renderProduct(p, true))
}
