package identity

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/internal/native"
)

// Topics this package reads and writes.
const (
	TopicAmazonCatalog  = schemas.TopicAmazonCatalog
	TopicTikTokProducts = schemas.TopicTikTokProducts
	TopicProductLinks   = schemas.TopicProductLinks
)

// AmazonCatalogItems reads an amazon.catalog record (goavro native form)
// into the source key for Resolver.Put and the one product it lists. A
// delete op lists nothing, which retracts the ASIN.
func AmazonCatalogItems(rec map[string]any) (source string, items []Item, err error) {
	return AmazonCatalogNative(native.Wrap(rec))
}

// AmazonCatalogNative is AmazonCatalogItems for a record read through
// package native (a goavro map or a native.Plan's decoding).
func AmazonCatalogNative(r *native.Record) (source string, items []Item, err error) {
	op := r.String("op")
	mkt, asin := r.String("marketplace_id"), r.String("asin")
	it := Item{Ref: Ref{Channel: ChannelAmazon, Account: mkt, ID: asin}}
	for _, id := range r.Array("identifiers") {
		it.Identifiers = append(it.Identifiers, Identifier{Type: id.String("identifier_type"), Value: id.String("identifier")})
		r.Sub("identifiers", id)
	}
	if err := r.Err(); err != nil {
		return "", nil, fmt.Errorf("identity: %s record: %w", TopicAmazonCatalog, err)
	}
	source = TopicAmazonCatalog + "/" + mkt + ":" + asin
	if op == "delete" {
		return source, nil, nil
	}
	return source, []Item{it}, nil
}

// TikTokProductItems reads a tiktok.products record into the source key for
// Resolver.Put and its SKUs. A delete op or product status DELETED lists
// nothing, which retracts every SKU of the product.
func TikTokProductItems(rec map[string]any) (source string, items []Item, err error) {
	return TikTokProductNative(native.Wrap(rec))
}

// TikTokProductNative is TikTokProductItems for a record read through
// package native.
func TikTokProductNative(r *native.Record) (source string, items []Item, err error) {
	op, status := r.String("op"), r.String("status")
	shop, pid := r.String("shop_id"), r.String("product_id")
	for _, s := range r.Array("skus") {
		it := Item{
			Ref:       Ref{Channel: ChannelTikTok, Account: shop, ID: s.String("sku_id")},
			ProductID: pid,
			SellerSKU: s.OptString("seller_sku"),
		}
		for _, id := range s.Array("identifiers") {
			it.Identifiers = append(it.Identifiers, Identifier{Type: id.String("identifier_type"), Value: id.String("identifier")})
			s.Sub("identifiers", id)
		}
		r.Sub("skus", s)
		items = append(items, it)
	}
	if err := r.Err(); err != nil {
		return "", nil, fmt.Errorf("identity: %s record: %w", TopicTikTokProducts, err)
	}
	source = TopicTikTokProducts + "/" + shop + ":" + pid
	if op == "delete" || status == "DELETED" {
		return source, nil, nil
	}
	return source, items, nil
}

// LinkRecord returns the xchannel.product_links record of a change, in
// goavro's native form, and its Kafka key (Ref.String). version must grow
// per Ref (the caller owns versioning, see package join's version floor);
// sourceTS and ingestTS are those of the input change that caused it.
func LinkRecord(c Change, version int64, sourceTS, ingestTS time.Time) (key string, rec map[string]any) {
	l, f := c.Link, linkFieldsOf(c, version)
	prev := any(nil)
	if c.PreviousKey != "" {
		prev = map[string]any{"string": c.PreviousKey}
	}
	conflicting := make([]any, 0, len(l.ConflictingKeys))
	for _, k := range l.ConflictingKeys {
		conflicting = append(conflicting, k)
	}
	rec = map[string]any{
		"event_id":                 f.eventID,
		"source":                   "transform",
		"entity":                   "product_link",
		"op":                       f.op,
		"source_ts":                sourceTS.UTC(),
		"ingest_ts":                ingestTS.UTC(),
		"version":                  version,
		"product_key":              l.ProductKey,
		"previous_product_key":     prev,
		"channel":                  string(l.Ref.Channel),
		"marketplace_id":           schemas.OptString(f.mkt),
		"shop_id":                  schemas.OptString(f.shop),
		"asin":                     schemas.OptString(f.asin),
		"seller_sku":               schemas.OptString(l.SellerSKU),
		"product_id":               schemas.OptString(l.ProductID),
		"sku_id":                   schemas.OptString(f.sku),
		"gtin14":                   schemas.OptString(l.GTIN14),
		"match_rule":               string(l.Rule),
		"unmatched":                l.Unmatched,
		"conflict_reason":          schemas.OptString(l.ConflictReason),
		"conflicting_product_keys": conflicting,
	}
	return f.key, rec
}

// linkFields are the fields of a link record computed from its change.
type linkFields struct {
	key, eventID, op     string
	mkt, shop, asin, sku string
}

func linkFieldsOf(c Change, version int64) linkFields {
	l := c.Link
	f := linkFields{op: "update", key: l.Ref.String()}
	switch {
	case c.Deleted:
		f.op = "delete"
	case c.PreviousKey == "":
		f.op = "create"
	}
	sum := sha256.Sum256([]byte(f.key + "\x00" + strconv.FormatInt(version, 10) + "\x00" + f.op + "\x00" + l.ProductKey))
	f.eventID = hex.EncodeToString(sum[:16])
	if l.Ref.Channel == ChannelAmazon {
		f.mkt, f.asin = l.Ref.Account, l.Ref.ID
	} else {
		f.shop, f.sku = l.Ref.Account, l.Ref.ID
	}
	return f
}

// AppendLinkAvro appends the Avro binary (no wire-format header) of the
// record LinkRecord returns to b, written field by field without the map,
// and returns its key; TestAppendLinkAvro holds it to LinkRecord.
func AppendLinkAvro(b []byte, c Change, version int64, sourceTS, ingestTS time.Time) (key string, out []byte) {
	l, f := c.Link, linkFieldsOf(c, version)
	b = native.AppendString(b, f.eventID)
	b = native.AppendString(b, "transform")
	b = native.AppendString(b, "product_link")
	b = native.AppendString(b, f.op)
	b = binary.AppendVarint(b, sourceTS.UnixMilli())
	b = binary.AppendVarint(b, ingestTS.UnixMilli())
	b = binary.AppendVarint(b, version)
	b = native.AppendString(b, l.ProductKey)
	b = native.AppendOptString(b, c.PreviousKey)
	b = native.AppendString(b, string(l.Ref.Channel))
	for _, s := range [...]string{f.mkt, f.shop, f.asin, l.SellerSKU, l.ProductID, f.sku, l.GTIN14} {
		b = native.AppendOptString(b, s)
	}
	b = native.AppendString(b, string(l.Rule))
	if l.Unmatched {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = native.AppendOptString(b, l.ConflictReason)
	if n := len(l.ConflictingKeys); n > 0 {
		b = binary.AppendVarint(b, int64(n))
		for _, k := range l.ConflictingKeys {
			b = native.AppendString(b, k)
		}
	}
	return f.key, binary.AppendVarint(b, 0) // end of the array
}
