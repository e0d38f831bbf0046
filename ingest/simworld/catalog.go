package simworld

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/gs1"
)

// Brand is a brand the seller owns (Brand Registry on Amazon).
type Brand struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"` // seller SKU prefix
}

// Category is a product category with the Amazon browse node and website
// display group its sales ranks are published under.
type Category struct {
	Name              string `json:"name"`
	ClassificationID  string `json:"classification_id"`
	DisplayGroup      string `json:"display_group"`
	DisplayGroupTitle string `json:"display_group_title"`
	Department        string `json:"department"`
	nouns             []string
	adjectives        []string
}

// MatchKind says how a variant can be linked across channels. It is the
// ground truth that identity resolution is judged against.
type MatchKind string

// Match kinds.
const (
	// MatchSKU: the same seller SKU on both channels (and the GTIN too).
	MatchSKU MatchKind = "seller_sku"
	// MatchGTIN: seller SKUs differ; the GTIN is on both channels.
	MatchGTIN MatchKind = "gtin"
	// MatchNone: listed on both channels with nothing in common; only an
	// explicit mapping can link them.
	MatchNone MatchKind = "unmatched"
	// MatchAmbiguous: seller SKUs differ and the GTIN is shared with another
	// product's variant (a data error real catalogs have), so a GTIN lookup
	// finds two candidates.
	MatchAmbiguous MatchKind = "ambiguous_gtin"
	// MatchAmazonOnly: listed on Amazon only.
	MatchAmazonOnly MatchKind = "amazon_only"
	// MatchTikTokOnly: listed on TikTok Shop only.
	MatchTikTokOnly MatchKind = "tiktok_only"
)

// Identifier is a product identifier as a channel publishes it.
type Identifier struct {
	Type  string `json:"type"` // UPC, EAN, GTIN, ISBN
	Value string `json:"value"`
}

// AmazonListing is a variant's Amazon child item.
type AmazonListing struct {
	ASIN        string       `json:"asin"`
	SellerSKU   string       `json:"seller_sku"`
	Identifiers []Identifier `json:"identifiers"`
	Price       Money        `json:"price"`
}

// TikTokListing is a variant's TikTok Shop SKU.
type TikTokListing struct {
	SKUID     string `json:"sku_id"`
	SellerSKU string `json:"seller_sku"`
	// IdentifierCode is the SKU's product identifier. TikTok's identifier
	// codes are unverified in the reference; the shape follows the 202309
	// product model (identifier_code{code,type}).
	IdentifierCode *Identifier `json:"identifier_code,omitempty"`
	Price          Money       `json:"price"`
	Inventory      int         `json:"inventory"`
}

// Variant is one sellable item (a size or colour of a product): an Amazon
// child ASIN and/or a TikTok SKU.
type Variant struct {
	Key        string         `json:"key"` // ground-truth identity, e.g. "P0007-V2"
	ProductKey string         `json:"product_key"`
	Name       string         `json:"name"` // e.g. "Blue / M"
	Color      string         `json:"color"`
	Size       string         `json:"size"`
	GTIN       string         `json:"gtin,omitempty"` // true GTIN-14, "" if none
	Match      MatchKind      `json:"match"`
	Amazon     *AmazonListing `json:"amazon,omitempty"`
	TikTok     *TikTokListing `json:"tiktok,omitempty"`
	Popularity float64        `json:"popularity"`
	product    *Product
}

// Product is a product family: a TikTok product and an Amazon parent item.
type Product struct {
	Key        string     `json:"key"` // ground-truth identity, e.g. "P0007"
	Brand      Brand      `json:"brand"`
	Title      string     `json:"title"`
	Category   Category   `json:"category"`
	Keywords   []string   `json:"keywords"`
	Match      MatchKind  `json:"match"`
	ParentASIN string     `json:"parent_asin,omitempty"` // only for multi-variant Amazon families
	TikTokID   string     `json:"tiktok_product_id,omitempty"`
	CreateTime time.Time  `json:"create_time"`
	UpdateTime time.Time  `json:"update_time"`
	Variants   []*Variant `json:"variants"`
}

// OnAmazon reports whether the product is listed on Amazon.
func (p *Product) OnAmazon() bool { return p.Match != MatchTikTokOnly }

// OnTikTok reports whether the product is listed on TikTok Shop.
func (p *Product) OnTikTok() bool { return p.Match != MatchAmazonOnly }

// Product returns the variant's product.
func (v *Variant) Product() *Product { return v.product }

// ParentASIN returns the Amazon parent ASIN of the variant, or its own ASIN
// when it has no parent (as the Sales & Traffic report does).
func (v *Variant) ParentASIN() string {
	if v.product.ParentASIN != "" {
		return v.product.ParentASIN
	}
	if v.Amazon != nil {
		return v.Amazon.ASIN
	}
	return ""
}

var brandNames = []string{"Lumora", "Kettlewise", "Vantix", "Pawsome", "Solace", "Ridgeback",
	"Northpeak", "Bloomr", "Cindera", "Oakline", "Zestly", "Marlo"}

var categories = []Category{
	{Name: "Facial Serums", ClassificationID: "11062581", DisplayGroup: "beauty_display_on_website",
		DisplayGroupTitle: "Beauty & Personal Care", Department: "Beauty & Personal Care",
		nouns: []string{"Vitamin C Serum", "Hyaluronic Serum", "Retinol Serum", "Niacinamide Serum"}, adjectives: []string{"Brightening", "Hydrating", "Overnight", "Gentle"}},
	{Name: "Kitchen Utensils & Gadgets", ClassificationID: "289754", DisplayGroup: "kitchen_display_on_website",
		DisplayGroupTitle: "Home & Kitchen", Department: "Home & Kitchen",
		nouns: []string{"Silicone Spatula Set", "Garlic Press", "Vegetable Chopper", "Oil Sprayer"}, adjectives: []string{"Heat-Resistant", "Stainless", "Compact", "Dishwasher-Safe"}},
	{Name: "Cell Phone Stands", ClassificationID: "7073960011", DisplayGroup: "wireless_display_on_website",
		DisplayGroupTitle: "Cell Phones & Accessories", Department: "Cell Phones & Accessories",
		nouns: []string{"Phone Stand", "Magnetic Car Mount", "Ring Light Tripod", "Charging Dock"}, adjectives: []string{"Adjustable", "Foldable", "Aluminum", "360°"}},
	{Name: "Yoga Mats", ClassificationID: "3422251", DisplayGroup: "sporting_goods_display_on_website",
		DisplayGroupTitle: "Sports & Outdoors", Department: "Sports & Outdoors",
		nouns: []string{"Yoga Mat", "Resistance Bands", "Foam Roller", "Jump Rope"}, adjectives: []string{"Non-Slip", "Extra Thick", "Travel", "Eco"}},
	{Name: "Dog Toys", ClassificationID: "2975413011", DisplayGroup: "pet_products_display_on_website",
		DisplayGroupTitle: "Pet Supplies", Department: "Pet Supplies",
		nouns: []string{"Chew Toy", "Puzzle Feeder", "Rope Toy", "Squeaky Ball"}, adjectives: []string{"Durable", "Interactive", "Tough", "Natural"}},
}

var colors = []string{"Black", "White", "Blue", "Pink", "Green", "Gray"}
var sizes = []string{"S", "M", "L", "1 fl oz", "2 fl oz", "Pack of 2"}

// buildCatalog generates brands, products and variants for the world.
func buildCatalog(cfg Config) ([]Brand, []*Product) {
	seed := cfg.Seed
	r := rngFor(seed, "catalog")
	brands := make([]Brand, cfg.Scale.Brands)
	for i := range brands {
		name := brandNames[i]
		brands[i] = Brand{ID: fmt.Sprintf("B%02d", i+1), Name: name, Prefix: strings.ToUpper(name[:3])}
	}

	n := cfg.Scale.Products
	kinds := matchPlan(r, n)
	products := make([]*Product, n)
	usedASIN := map[string]bool{}
	newASIN := func() string {
		for {
			a := "B0" + alnum(r, 8)
			if !usedASIN[a] {
				usedASIN[a] = true
				return a
			}
		}
	}
	for i := 0; i < n; i++ {
		cat := categories[r.IntN(len(categories))]
		brand := brands[i%len(brands)]
		noun := cat.nouns[r.IntN(len(cat.nouns))]
		adj := cat.adjectives[r.IntN(len(cat.adjectives))]
		p := &Product{
			Key:        fmt.Sprintf("P%04d", i+1),
			Brand:      brand,
			Title:      fmt.Sprintf("%s %s %s", brand.Name, adj, noun),
			Category:   cat,
			Keywords:   []string{strings.ToLower(noun), strings.ToLower(adj + " " + noun), strings.ToLower(brand.Name + " " + lastWord(noun))},
			Match:      kinds[i],
			CreateTime: cfg.Start.Add(-time.Duration(30+r.IntN(300)) * 24 * time.Hour).Add(time.Duration(r.IntN(86400)) * time.Second),
		}
		p.UpdateTime = p.CreateTime.Add(time.Duration(r.IntN(20*86400)) * time.Second)
		nv := 1 + r.IntN(3)
		if p.Match == MatchAmbiguous {
			nv = 1 // keep the ambiguity to exactly one GTIN per product
		}
		if p.OnAmazon() && nv > 1 {
			p.ParentASIN = newASIN()
		}
		if p.OnTikTok() {
			p.TikTokID = "17" + digits(r, 17)
		}
		basePrice := Money((9+r.IntN(70))*100 + 99)
		basePop := math.Exp(r.NormFloat64() * 0.8)
		colorOff, sizeOff := r.IntN(len(colors)), r.IntN(3)
		if cat.DisplayGroup == "beauty_display_on_website" {
			sizeOff = 3
		}
		for j := 0; j < nv; j++ {
			v := &Variant{
				Key:        fmt.Sprintf("%s-V%d", p.Key, j+1),
				ProductKey: p.Key,
				Color:      colors[(colorOff+j)%len(colors)],
				Size:       sizes[sizeOff+(j%3)],
				Match:      p.Match,
				Popularity: basePop * math.Exp(r.NormFloat64()*0.4),
				product:    p,
			}
			v.Name = v.Color + " / " + v.Size
			if r.Float64() < 0.85 || p.Match == MatchGTIN || p.Match == MatchAmbiguous || p.Match == MatchSKU {
				v.GTIN = newGTIN(r)
			}
			sku := fmt.Sprintf("%s-%04d-%s-%s", brand.Prefix, 1000+i, strings.ToUpper(v.Color[:3]), skuSize(v.Size))
			price := basePrice + Money(j*200)
			if p.OnAmazon() {
				v.Amazon = &AmazonListing{ASIN: newASIN(), SellerSKU: sku, Price: price}
			}
			if p.OnTikTok() {
				ttSKU := sku
				if p.Match != MatchSKU && p.Match != MatchTikTokOnly {
					// Different SKU conventions per channel are the usual reason
					// SKU matching fails.
					ttSKU = "TT" + strings.ReplaceAll(strings.ToLower(sku), "-", "")
				}
				v.TikTok = &TikTokListing{SKUID: "17" + digits(r, 17), SellerSKU: ttSKU,
					Price: price - Money(r.IntN(3)*100), Inventory: 20 + r.IntN(500)}
			}
			p.Variants = append(p.Variants, v)
		}
		products[i] = p
	}

	// Ambiguous products share one GTIN pairwise.
	var amb []*Product
	for _, p := range products {
		if p.Match == MatchAmbiguous {
			amb = append(amb, p)
		}
	}
	for i := 0; i+1 < len(amb); i += 2 {
		amb[i+1].Variants[0].GTIN = amb[i].Variants[0].GTIN
	}

	// Publish identifiers per the match kind.
	for _, p := range products {
		for _, v := range p.Variants {
			publishGTIN := v.GTIN != "" && p.Match != MatchNone
			if v.Amazon != nil {
				v.Amazon.Identifiers = []Identifier{}
				if publishGTIN {
					v.Amazon.Identifiers = amazonIdentifiers(v.GTIN)
				}
			}
			if v.TikTok != nil && publishGTIN {
				typ, code := tiktokIdentifier(v.GTIN)
				v.TikTok.IdentifierCode = &Identifier{Type: typ, Value: code}
			}
		}
	}
	return brands, products
}

// matchPlan assigns match kinds so that every kind appears in any world of
// eight or more products.
func matchPlan(r *rand.Rand, n int) []MatchKind {
	kinds := make([]MatchKind, 0, n)
	add := func(k MatchKind, c int) {
		for i := 0; i < c && len(kinds) < n; i++ {
			kinds = append(kinds, k)
		}
	}
	if n >= 8 {
		add(MatchAmbiguous, 2)
		add(MatchNone, max(1, n*6/100))
		add(MatchGTIN, max(1, n*12/100))
		add(MatchAmazonOnly, max(1, n*6/100))
		add(MatchTikTokOnly, max(1, n*6/100))
	}
	add(MatchSKU, n-len(kinds))
	// Shuffle everything except the ambiguous pair, which stays adjacent in the
	// plan but lands at shuffled positions.
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	return kinds
}

func lastWord(s string) string {
	f := strings.Fields(s)
	return strings.ToLower(f[len(f)-1])
}

func skuSize(s string) string {
	s = strings.ToUpper(strings.NewReplacer(" ", "", ".", "").Replace(s))
	if len(s) > 4 {
		s = s[:4]
	}
	return s
}

// newGTIN returns a valid GTIN-14: mostly UPC-A based (US), sometimes EAN-13.
func newGTIN(r *rand.Rand) string {
	var body string
	if r.Float64() < 0.8 {
		body = "008" + digits(r, 10) // a UPC-A number inside a GTIN-14
	} else {
		body = "040" + digits(r, 10) // an EAN-13 (GS1 Germany prefix) inside a GTIN-14
	}
	return body + string(byte('0'+gs1.CheckDigit(body)))
}

// ValidGTIN reports whether s is 8, 12, 13 or 14 digits with a correct check digit.
func ValidGTIN(s string) bool {
	switch len(s) {
	case 8, 12, 13, 14:
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return gs1.CheckDigit(s[:len(s)-1]) == int(s[len(s)-1]-'0')
}

// amazonIdentifiers returns the identifiers Amazon's catalog publishes for a
// GTIN-14, in the forms its example shows (EAN-13 and GTIN-14, plus UPC-A
// for US-assigned numbers).
func amazonIdentifiers(gtin14 string) []Identifier {
	ids := []Identifier{{Type: "EAN", Value: gtin14[1:]}}
	if strings.HasPrefix(gtin14, "00") {
		ids = append(ids, Identifier{Type: "UPC", Value: gtin14[2:]})
	}
	return append(ids, Identifier{Type: "GTIN", Value: gtin14})
}

// tiktokIdentifier returns the identifier a seller would type into TikTok:
// the short form (UPC-A or EAN-13), not the GTIN-14.
func tiktokIdentifier(gtin14 string) (typ, code string) {
	if strings.HasPrefix(gtin14, "00") {
		return "UPC", gtin14[2:]
	}
	return "EAN", gtin14[1:]
}
