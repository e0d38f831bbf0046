package simworld

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// World is the shared, deterministic state behind every simulator. Build it
// with New; it is safe for concurrent use.
type World struct {
	cfg      Config
	seed     uint64
	brands   []Brand
	products []*Product

	byKey        map[string]*Product
	byASIN       map[string]*Variant
	byParentASIN map[string]*Product
	byTikTokID   map[string]*Product
	amazonPick   picker
	tiktokPick   picker
	searchTerms  []SearchTerm
	halo         []*HaloEffect

	mu        sync.Mutex
	amzCache  map[int64][]*AmazonOrder
	ttCache   map[int64][]*TikTokOrder
	vidCache  map[int64][]*Video
	shopCache map[int64][]*Video
	perfCache map[dateRange][]VideoPerformance
	// amzDayCache and ttDayCache hold each UTC day's orders, sorted.
	amzDayCache map[int64][]*AmazonOrder
	ttDayCache  map[int64][]*TikTokOrder
	cacheSize   int
}

// New builds the world described by cfg.
func New(cfg Config) (*World, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &World{
		cfg:          cfg,
		seed:         cfg.Seed,
		byKey:        map[string]*Product{},
		byASIN:       map[string]*Variant{},
		byParentASIN: map[string]*Product{},
		byTikTokID:   map[string]*Product{},
		amzCache:     map[int64][]*AmazonOrder{},
		ttCache:      map[int64][]*TikTokOrder{},
		vidCache:     map[int64][]*Video{},
		shopCache:    map[int64][]*Video{},
		perfCache:    map[dateRange][]VideoPerformance{},
		amzDayCache:  map[int64][]*AmazonOrder{},
		ttDayCache:   map[int64][]*TikTokOrder{},
	}
	w.brands, w.products = buildCatalog(cfg)
	for _, p := range w.products {
		w.byKey[p.Key] = p
		if p.ParentASIN != "" {
			w.byParentASIN[p.ParentASIN] = p
		}
		if p.TikTokID != "" {
			w.byTikTokID[p.TikTokID] = p
		}
		for _, v := range p.Variants {
			if v.Amazon != nil {
				w.byASIN[v.Amazon.ASIN] = v
				w.amazonPick.add(v)
			}
			if v.TikTok != nil {
				w.tiktokPick.add(v)
			}
		}
	}
	w.searchTerms = buildSearchTerms(cfg.Seed, w.products)
	w.halo = planHalo(cfg, w.products)
	return w, nil
}

// MustNew is New for tests and examples: it panics on a bad config.
func MustNew(cfg Config) *World {
	w, err := New(cfg)
	if err != nil {
		panic(fmt.Sprintf("simworld.MustNew: %v", err))
	}
	return w
}

// Config returns the world's configuration with defaults filled in.
func (w *World) Config() Config { return w.cfg }

// Seed returns the world's seed.
func (w *World) Seed() uint64 { return w.seed }

// Clock returns the world's clock.
func (w *World) Clock() Clock { return w.cfg.Clock }

// Now returns the world clock's reading.
func (w *World) Now() time.Time { return w.cfg.Clock.Now() }

// Start returns the world's epoch.
func (w *World) Start() time.Time { return w.cfg.Start }

// Brands returns the seller's brands.
func (w *World) Brands() []Brand { return w.brands }

// Products returns every product family, in key order. Callers must not
// modify them.
func (w *World) Products() []*Product { return w.products }

// Product returns the product with the given ground-truth key.
func (w *World) Product(key string) (*Product, bool) {
	p, ok := w.byKey[key]
	return p, ok
}

// VariantByASIN returns the variant listed under a child ASIN.
func (w *World) VariantByASIN(asin string) (*Variant, bool) {
	v, ok := w.byASIN[asin]
	return v, ok
}

// ProductByParentASIN returns the product whose Amazon parent ASIN is asin.
func (w *World) ProductByParentASIN(asin string) (*Product, bool) {
	p, ok := w.byParentASIN[asin]
	return p, ok
}

// ProductByTikTokID returns the product with a TikTok product id.
func (w *World) ProductByTikTokID(id string) (*Product, bool) {
	p, ok := w.byTikTokID[id]
	return p, ok
}

// AmazonVariants returns the variants listed on Amazon, in product order.
func (w *World) AmazonVariants() []*Variant { return w.amazonPick.items }

// TikTokVariants returns the variants listed on TikTok Shop, in product order.
func (w *World) TikTokVariants() []*Variant { return w.tiktokPick.items }

// TikTokProducts returns the products listed on TikTok Shop.
func (w *World) TikTokProducts() []*Product {
	var out []*Product
	for _, p := range w.products {
		if p.OnTikTok() {
			out = append(out, p)
		}
	}
	return out
}

// picker draws variants in proportion to their popularity.
type picker struct {
	items []*Variant
	cum   []float64
}

func (p *picker) add(v *Variant) {
	total := v.Popularity
	if n := len(p.cum); n > 0 {
		total += p.cum[n-1]
	}
	p.items = append(p.items, v)
	p.cum = append(p.cum, total)
}

func (p *picker) pick(u float64) *Variant {
	if len(p.items) == 0 {
		return nil
	}
	x := u * p.cum[len(p.cum)-1]
	i := sort.SearchFloat64s(p.cum, x)
	if i >= len(p.items) {
		i = len(p.items) - 1
	}
	return p.items[i]
}

// maxCachedBuckets bounds the memo of generated minute/day buckets; a bucket
// is a pure function of the seed, so dropping the memo only costs time. Nine
// weeks of both channels' minutes (the demo's history) fit.
const maxCachedBuckets = 500_000

// memo returns (*cache)[k], building it with build and keeping it if it is
// not there. Two callers may build the same entry at once; both get equal
// values, since every entry is a pure function of the world.
func memo[K comparable, V any](w *World, cache *map[K]V, k K, build func() V) V {
	w.mu.Lock()
	if v, ok := (*cache)[k]; ok {
		w.mu.Unlock()
		return v
	}
	w.mu.Unlock()
	v := build()
	w.mu.Lock()
	w.cacheRoom()
	(*cache)[k] = v
	w.mu.Unlock()
	return v
}

func (w *World) cacheRoom() {
	w.cacheSize++
	if w.cacheSize > maxCachedBuckets {
		w.amzCache = map[int64][]*AmazonOrder{}
		w.ttCache = map[int64][]*TikTokOrder{}
		w.vidCache = map[int64][]*Video{}
		w.shopCache = map[int64][]*Video{}
		w.perfCache = map[dateRange][]VideoPerformance{}
		w.amzDayCache = map[int64][]*AmazonOrder{}
		w.ttDayCache = map[int64][]*TikTokOrder{}
		w.cacheSize = 0
	}
}
