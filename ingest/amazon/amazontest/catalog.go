package amazontest

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/simapi"
)

// catalogDatasets are the includedData values of Catalog Items 2022-04-01.
var catalogDatasets = []string{"attributes", "classifications", "dimensions", "identifiers", "images",
	"productTypes", "relationships", "salesRanks", "summaries", "vendorDetails"}

// catalogRequest reads what both catalog operations take: the
// marketplaceIds asked for, whether the seller's marketplace (the only one
// the world lists items in) is among them, and the includedData datasets
// (summaries by default). No marketplace, more than max, or an unknown
// dataset is a 400, and ok is false.
func (s *Simulator) catalogRequest(w http.ResponseWriter, r *http.Request, max int) (asked []string, listed bool, inc []string, ok bool) {
	bad := func(details string) {
		writeError(w, http.StatusBadRequest, CodeInvalidInput, "Request has missing or invalid parameters and cannot be parsed.", details)
	}
	q := r.URL.Query()
	asked = listParam(q, "marketplaceIds")
	if len(asked) == 0 || len(asked) > max {
		bad("marketplaceIds is required.")
		return nil, false, nil, false
	}
	inc = listParam(q, "includedData")
	if len(inc) == 0 {
		inc = []string{"summaries"}
	}
	for _, d := range inc {
		if !slices.Contains(catalogDatasets, d) {
			bad("Invalid includedData value " + d + ".")
			return nil, false, nil, false
		}
	}
	return asked, slices.Contains(asked, s.World().Config().MarketplaceID), inc, true
}

// item renders a catalog entry with the requested datasets. Datasets the
// world does not model (attributes, dimensions, images, vendorDetails) come
// back present but empty. Every dataset is keyed to the seller's
// marketplace: the world lists its items there and nowhere else, so a
// request for other marketplaces as well gets their datasets only for this
// one (and a request for none of it gets no item; see getCatalogItem).
func (s *Simulator) item(e simworld.CatalogEntry, inc []string) map[string]any {
	mp := s.World().Config().MarketplaceID
	it := map[string]any{"asin": e.ASIN}
	v, isChild := s.World().VariantByASIN(e.ASIN)
	var p *simworld.Product
	if isChild {
		p = v.Product()
	} else {
		p, _ = s.World().ProductByParentASIN(e.ASIN)
	}
	for _, d := range inc {
		switch d {
		case "identifiers":
			ids := make([]map[string]string, 0, len(e.Identifiers))
			for _, id := range e.Identifiers {
				ids = append(ids, map[string]string{"identifierType": id.Type, "identifier": id.Value})
			}
			it[d] = []map[string]any{{"marketplaceId": mp, "identifiers": ids}}
		case "salesRanks":
			r := e.SalesRank
			it[d] = []map[string]any{{"marketplaceId": mp,
				"classificationRanks": []map[string]any{{"classificationId": r.ClassificationID, "title": r.ClassificationTitle,
					"link": "http://www.amazon.com/gp/bestsellers/x/" + r.ClassificationID, "rank": r.ClassificationRank}},
				"displayGroupRanks": []map[string]any{{"websiteDisplayGroup": r.DisplayGroup, "title": r.DisplayGroupTitle,
					"link": "http://www.amazon.com/gp/bestsellers/" + strings.TrimSuffix(r.DisplayGroup, "_display_on_website"), "rank": r.DisplayGroupRank}},
			}}
		case "summaries":
			sum := map[string]any{"marketplaceId": mp, "brand": e.Brand, "itemName": e.ItemName, "manufacturer": e.Brand,
				"browseClassification": map[string]string{"displayName": p.Category.Name, "classificationId": p.Category.ClassificationID},
				"websiteDisplayGroup":  p.Category.DisplayGroup, "websiteDisplayGroupName": p.Category.DisplayGroupTitle,
				"itemClassification": "BASE_PRODUCT", "packageQuantity": 1, "partNumber": p.Key}
			if isChild {
				sum["color"], sum["size"], sum["modelNumber"] = v.Color, v.Size, v.Amazon.SellerSKU
			} else {
				sum["itemClassification"] = "VARIATION_PARENT"
			}
			it[d] = []map[string]any{sum}
		case "classifications":
			it[d] = []map[string]any{{"marketplaceId": mp, "classifications": []map[string]string{
				{"displayName": p.Category.Name, "classificationId": p.Category.ClassificationID}}}}
		case "productTypes":
			it[d] = []map[string]any{{"marketplaceId": mp, "productType": strings.ToUpper(strings.ReplaceAll(strings.Fields(p.Category.Name)[0], "-", "_"))}}
		case "relationships":
			rels := []map[string]any{}
			if isChild && p.ParentASIN != "" {
				rels = append(rels, map[string]any{"type": "VARIATION", "parentAsins": []string{p.ParentASIN}})
			} else if !isChild {
				var kids []string
				for _, cv := range p.Variants {
					kids = append(kids, cv.Amazon.ASIN)
				}
				rels = append(rels, map[string]any{"type": "VARIATION", "childAsins": kids,
					"variationTheme": map[string]any{"attributes": []string{"color", "size"}, "theme": "COLOR/SIZE"}})
			}
			it[d] = []map[string]any{{"marketplaceId": mp, "relationships": rels}}
		case "attributes":
			it[d] = map[string]any{}
		case "images":
			it[d] = []map[string]any{{"marketplaceId": mp, "images": []any{}}}
		default: // dimensions, vendorDetails
			it[d] = []map[string]any{{"marketplaceId": mp}}
		}
	}
	return it
}

// getCatalogItem is GET /catalog/2022-04-01/items/{asin}.
func (s *Simulator) getCatalogItem(w http.ResponseWriter, r *http.Request) {
	asin := r.PathValue("asin")
	asked, listed, inc, ok := s.catalogRequest(w, r, 50)
	if !ok {
		return
	}
	e, ok := s.World().TruthAt(s.Clock().Now()).CatalogItem(asin)
	if !ok || !listed {
		// An item not listed in any marketplace asked for is not found
		// there, whatever other marketplaces list it.
		writeError(w, http.StatusNotFound, CodeNotFound, "Requested item '"+asin+"' not found in marketplace(s) "+strings.Join(asked, ",")+".", "")
		return
	}
	writeJSON(w, http.StatusOK, s.item(e, inc))
}

// normGTIN normalises a UPC/EAN/GTIN to GTIN-14 for identifier lookups.
func normGTIN(s string) string {
	if len(s) >= 8 && len(s) <= 14 {
		return strings.Repeat("0", 14-len(s)) + s
	}
	return s
}

// searchCatalogItems is GET /catalog/2022-04-01/items.
func (s *Simulator) searchCatalogItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := func(details string) {
		writeError(w, http.StatusBadRequest, CodeInvalidInput, "Request has missing or invalid parameters and cannot be parsed.", details)
	}
	_, listed, inc, ok := s.catalogRequest(w, r, 1)
	if !ok {
		return
	}
	ids, idType, kws := listParam(q, "identifiers"), q.Get("identifiersType"), listParam(q, "keywords")
	brands, classes := listParam(q, "brandNames"), listParam(q, "classificationIds")
	switch {
	case len(ids) > 0 && len(kws) > 0:
		bad("identifiers and keywords cannot be used together.")
		return
	case len(ids) == 0 && len(kws) == 0:
		bad("Either identifiers or keywords is required.")
		return
	case len(ids) > 20 || len(kws) > 20:
		bad("At most 20 identifiers or keywords.")
		return
	case len(ids) > 0 && idType == "":
		bad("identifiersType is required when identifiers is set.")
		return
	case len(ids) > 0 && (len(brands) > 0 || len(classes) > 0):
		bad("brandNames and classificationIds cannot be used with identifiers.")
		return
	case idType == "SKU" && q.Get("sellerId") == "":
		bad("sellerId is required when identifiersType is SKU.")
		return
	}
	pageSize := 10
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 20 {
			bad("pageSize must be between 1 and 20.")
			return
		}
		pageSize = n
	}
	truth := s.World().TruthAt(s.Clock().Now())
	var hits []simworld.CatalogEntry
	catalog := truth.Catalog()
	if !listed {
		catalog = nil // the world lists nothing in another marketplace
	}
	for _, e := range catalog {
		if len(ids) > 0 && matchesIdentifier(s, e, idType, ids, q.Get("sellerId")) ||
			len(kws) > 0 && matchesKeywords(e, kws) && (len(brands) == 0 || slices.Contains(brands, e.Brand)) &&
				(len(classes) == 0 || slices.Contains(classes, e.SalesRank.ClassificationID)) {
			hits = append(hits, e)
		}
	}
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		if err := simapi.DecodeToken(tok, &offset); err != nil || offset < 0 || offset > len(hits) {
			bad("Invalid pageToken.")
			return
		}
	}
	end := min(offset+pageSize, len(hits))
	items := make([]map[string]any, 0, end-offset)
	for _, e := range hits[offset:end] {
		items = append(items, s.item(e, inc))
	}
	resp := map[string]any{"numberOfResults": len(hits), "items": items, "refinements": refinements(s, hits)}
	pag := map[string]string{}
	if end < len(hits) {
		pag["nextToken"] = simapi.EncodeToken(end)
	}
	if offset > 0 {
		pag["previousToken"] = simapi.EncodeToken(max(0, offset-pageSize))
	}
	if len(pag) > 0 {
		resp["pagination"] = pag
	}
	writeJSON(w, http.StatusOK, resp)
}

func matchesIdentifier(s *Simulator, e simworld.CatalogEntry, typ string, ids []string, sellerID string) bool {
	switch typ {
	case "ASIN":
		return slices.Contains(ids, e.ASIN)
	case "SKU":
		v, ok := s.World().VariantByASIN(e.ASIN)
		return ok && sellerID == s.Credentials().SellerID && slices.Contains(ids, v.Amazon.SellerSKU)
	case "UPC", "EAN", "GTIN":
		for _, id := range e.Identifiers {
			for _, want := range ids {
				if normGTIN(id.Value) == normGTIN(want) {
					return true
				}
			}
		}
	}
	return false
}

func matchesKeywords(e simworld.CatalogEntry, kws []string) bool {
	name := strings.ToLower(e.ItemName + " " + e.Brand)
	for _, k := range kws {
		for _, word := range strings.Fields(strings.ToLower(k)) {
			if !strings.Contains(name, word) {
				return false
			}
		}
	}
	return true
}

func refinements(s *Simulator, hits []simworld.CatalogEntry) map[string]any {
	brands := map[string]int{}
	classes := map[string]int{}
	names := map[string]string{}
	for _, e := range hits {
		brands[e.Brand]++
		classes[e.SalesRank.ClassificationID]++
		names[e.SalesRank.ClassificationID] = e.SalesRank.ClassificationTitle
	}
	b := []map[string]any{}
	for _, k := range sortedKeys(brands) {
		b = append(b, map[string]any{"brandName": k, "numberOfResults": brands[k]})
	}
	c := []map[string]any{}
	for _, k := range sortedKeys(classes) {
		c = append(c, map[string]any{"classificationId": k, "displayName": names[k], "numberOfResults": classes[k]})
	}
	return map[string]any{"brands": b, "classifications": c}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
