package join

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/transform/identity"
)

// Attribution says how a video's figures are credited to the products it
// shows.
type Attribution int

const (
	// FullCredit gives every product key linked to a video the video's full
	// figures. Summing a metric over products then counts a video once per
	// product it shows, which is what a brand asking "what did videos do
	// for this product" expects.
	FullCredit Attribution = iota
	// EvenSplit divides a video's figures evenly among its product keys
	// (counts by largest remainder in key order, money in units of
	// 0.0001), so sums over products add up to the video's totals.
	EvenSplit
)

// Config configures the join.
type Config struct {
	// Zone is the reporting time zone whose days key the output. nil is UTC.
	Zone *time.Location
	// Attribution of video figures to products; FullCredit by default.
	Attribution Attribution
}

// RowKey is the key of a joined row.
type RowKey struct {
	ProductKey string
	Day        Day // in the reporting zone
}

// Join is the whole join in memory: the facts of every entity (one
// Facts over a map), the identity links, and the sum of each row's
// partials (RowState), wired as the transform's topology wires them
// (package stream runs the same rules partitioned, on disk). Feed it input
// changes with its Apply methods; each returns the joined rows that
// changed, in full, with a higher version. It is pure state: no I/O, no
// clock. For tests and tools; not safe for concurrent use.
type Join struct {
	cfg   Config
	links *MemLinks
	facts *Facts
	rows  map[RowKey]*RowState
	last  map[RowKey]Row // last row emitted
	floor int64
}

// New returns an empty Join.
func New(cfg Config) *Join {
	if cfg.Zone == nil {
		cfg.Zone = time.UTC
	}
	j := &Join{cfg: cfg, links: NewMemLinks(), rows: map[RowKey]*RowState{}, last: map[RowKey]Row{}}
	j.facts = NewFacts(cfg, memStore{}, j.links)
	return j
}

// Zone returns the reporting zone.
func (j *Join) Zone() *time.Location { return j.cfg.Zone }

// SetVersionFloor makes every row emitted from now on carry a version of at
// least v.
func (j *Join) SetVersionFloor(v int64) { j.floor = max(j.floor, v) }

// Apply applies a fact read by ReadRecord. An error means the fact cannot
// be used (dead-letter its record); the state is then unchanged.
func (j *Join) Apply(f Fact) ([]Row, error) {
	if err := Check(f); err != nil {
		return nil, err
	}
	if err := j.facts.Apply(f); err != nil {
		j.facts.Reset()
		return nil, err
	}
	return j.flush()
}

// ApplyRecord decodes a record of one of InputTopics (goavro native form)
// and applies it.
func (j *Join) ApplyRecord(topic string, rec map[string]any) ([]Row, error) {
	f, err := ReadRecord(topic, rec)
	if err != nil {
		return nil, err
	}
	return j.Apply(f)
}

// ApplyBestSellersRank applies an amazon.catalog snapshot.
func (j *Join) ApplyBestSellersRank(s BestSellersRank) []Row { return j.must(j.Apply(s)) }

// ApplySalesTraffic applies an amazon.sales_traffic row.
func (j *Join) ApplySalesTraffic(s SalesTraffic) ([]Row, error) { return j.Apply(s) }

// ApplySearchQuery applies an amazon.search_query_performance row.
func (j *Join) ApplySearchQuery(s SearchQuery) ([]Row, error) { return j.Apply(s) }

// ApplySearchTerm applies an amazon.search_terms row.
func (j *Join) ApplySearchTerm(s SearchTerm) ([]Row, error) { return j.Apply(s) }

// ApplyAmazonOrder applies an amazon.orders header.
func (j *Join) ApplyAmazonOrder(o AmazonOrder) []Row { return j.must(j.Apply(o)) }

// ApplyAmazonOrderItem applies an amazon.order_items line.
func (j *Join) ApplyAmazonOrderItem(it AmazonOrderItem) []Row { return j.must(j.Apply(it)) }

// ApplyTikTokOrder applies a tiktok.orders record.
func (j *Join) ApplyTikTokOrder(o TikTokOrder) []Row { return j.must(j.Apply(o)) }

// ApplyVideoPerformance applies a tiktok.video_performance record.
func (j *Join) ApplyVideoPerformance(vp VideoPerformance) ([]Row, error) { return j.Apply(vp) }

// ApplyVideoEngagement applies a tiktok.video_engagement snapshot.
func (j *Join) ApplyVideoEngagement(e VideoEngagement) []Row { return j.must(j.Apply(e)) }

// must returns the rows of an Apply that cannot fail on its input (no
// zone or period to check): an error is a bug of the in-memory store.
func (j *Join) must(rows []Row, err error) []Row {
	if err != nil {
		panic(err)
	}
	return rows
}

// ApplyLinks applies identity changes: the facts of a re-keyed product
// move to its new key, and the rows under both keys are re-emitted.
func (j *Join) ApplyLinks(changes []identity.Change, trigger Meta) []Row {
	if err := j.facts.Relink(j.links.Apply(changes), trigger); err != nil {
		panic(err)
	}
	if _, _, err := j.facts.RelinkQueued(0); err != nil {
		panic(err)
	}
	return j.must(j.flush())
}

// flush sends the batch's partial changes to the rows and returns the rows
// that changed, sorted by key and day.
func (j *Join) flush() ([]Row, error) {
	cs, err := j.facts.Flush()
	if err != nil {
		return nil, err
	}
	triggers := map[RowKey]Meta{}
	for i := range cs {
		c := &cs[i]
		rk := RowKey{c.Key, c.Day}
		rs := j.rows[rk]
		if rs == nil {
			rs = &RowState{}
			j.rows[rk] = rs
		}
		if err := rs.Apply(c); err != nil {
			return nil, err
		}
		triggers[rk] = c.Trigger
	}
	var out []Row
	for _, rk := range slices.SortedFunc(maps.Keys(triggers), compareRowKeys) {
		row, ok := j.rows[rk].Next(rk.ProductKey, rk.Day, j.cfg.Zone.String(), j.floor, triggers[rk])
		if ok {
			j.last[rk] = row
			out = append(out, row)
		}
	}
	return out, nil
}

func compareRowKeys(a, b RowKey) int {
	return cmp.Or(strings.Compare(a.ProductKey, b.ProductKey), cmp.Compare(a.Day, b.Day))
}

// Rows returns the current content of every row that has contributions,
// sorted by key and day: what a current-state table should hold.
func (j *Join) Rows() []Row {
	var out []Row
	for _, rk := range slices.SortedFunc(maps.Keys(j.last), compareRowKeys) {
		if r := j.last[rk]; !r.Deleted {
			out = append(out, r)
		}
	}
	return out
}

// MemLinks is identity's links held in a map: Links for a Join, and for
// tests.
type MemLinks struct {
	links    map[identity.Ref]identity.Link
	products map[productRef]map[identity.Ref]bool // SKUs per TikTok product
}

// NewMemLinks returns an empty MemLinks.
func NewMemLinks() *MemLinks {
	return &MemLinks{links: map[identity.Ref]identity.Link{}, products: map[productRef]map[identity.Ref]bool{}}
}

// Key returns the product key of a channel product and whether it is linked.
func (l *MemLinks) Key(ref identity.Ref) (string, bool) {
	if k, ok := l.links[ref]; ok {
		return k.ProductKey, true
	}
	return ref.String(), false
}

// ProductKeys returns the sorted keys of a TikTok product's linked SKUs.
func (l *MemLinks) ProductKeys(shop, product string) []string {
	var keys []string
	for ref := range l.products[productRef{shop, product}] {
		if k := l.links[ref].ProductKey; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Apply applies identity changes and returns what Facts.Relink needs: the
// channel products whose link changed, and the TikTok products whose SKUs
// did (ProductRef).
func (l *MemLinks) Apply(changes []identity.Change) []identity.Ref {
	var refs []identity.Ref
	add := func(r identity.Ref) {
		if !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	for _, c := range changes {
		ref := c.Link.Ref
		add(ref)
		if old, ok := l.links[ref]; ok && old.ProductID != "" {
			p := productRef{ref.Account, old.ProductID}
			delete(l.products[p], ref)
			add(ProductRef(p.shop, p.id))
		}
		if c.Deleted {
			delete(l.links, ref)
			continue
		}
		l.links[ref] = c.Link
		if ref.Channel == identity.ChannelTikTok && c.Link.ProductID != "" {
			p := productRef{ref.Account, c.Link.ProductID}
			if l.products[p] == nil {
				l.products[p] = map[identity.Ref]bool{}
			}
			l.products[p][ref] = true
			add(ProductRef(p.shop, p.id))
		}
	}
	return refs
}

// memStore is a Store in a map.
type memStore map[string][]byte

func (m memStore) Get(k []byte) ([]byte, bool, error) {
	v, ok := m[string(k)]
	return slices.Clone(v), ok, nil
}
func (m memStore) Set(k, v []byte) error { m[string(k)] = slices.Clone(v); return nil }
func (m memStore) Delete(k []byte) error { delete(m, string(k)); return nil }

func (m memStore) Scan(p []byte, fn func(k, v []byte) bool) error { return m.ScanFrom(p, p, fn) }

func (m memStore) ScanFrom(p, from []byte, fn func(k, v []byte) bool) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if strings.HasPrefix(k, string(p)) && k >= string(from) && !fn([]byte(k), m[k]) {
			break
		}
	}
	return nil
}

func (m memStore) HasPrefixes(prefixes [][]byte, has []bool) error {
	for i, p := range prefixes {
		has[i] = false
		for k := range m {
			if strings.HasPrefix(k, string(p)) {
				has[i] = true
				break
			}
		}
	}
	return nil
}
