// Package identity resolves which channel products are the same product:
// it gives every Amazon ASIN (from amazon.catalog) and every TikTok Shop SKU
// (from tiktok.products) a product_key, the key of the cross-channel join.
//
// The rules, in order: an explicit mapping file ([Mapping]); a shared GTIN,
// UPC or EAN normalised to GTIN-14 ([NormalizeGTIN]); a shared seller SKU.
// Ambiguities are reported as [Conflict] records instead of being guessed.
// Products no rule links keep a channel-scoped key and the unmatched flag,
// and still flow into the join.
//
// [Resolver] is incremental: each catalog change returns the [Change]s of
// the links it caused, with the previous key, so the caller publishes them
// to xchannel.product_links ([LinkRecord]) and re-keys the joined rows.
package identity
