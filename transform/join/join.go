package join

import (
	"cmp"
	"math/big"
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

// Config configures a Join.
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

// Join is the state of the product/day join. Feed it input changes with its
// Apply methods; each returns the joined rows that changed, in full, with a
// higher version. It is pure state: no I/O, no clock.
//
// # Recovery
//
// The state is rebuilt by replaying the input topics from the beginning (see
// package stream): the outcome depends only on the set of current facts,
// not on how records of different topics interleave, and records of one
// key stay in order within their partition. Versions continue above
// SetVersionFloor, so rows emitted after a rebuild supersede earlier ones
// even though the rebuild counted versions afresh. There is no
// Snapshot/Restore.
//
// A Join is not safe for concurrent use.
type Join struct {
	zone *time.Location
	attr Attribution

	seen map[string]seenVersion // "topic|key" -> last accepted change

	// Identity, from identity.Change.
	keyOf     map[identity.Ref]string
	productOf map[identity.Ref]productRef
	skusOf    map[productRef]map[identity.Ref]struct{}
	refsByKey map[string]map[identity.Ref]struct{}

	// Facts credited straight to a channel product, by (product, day).
	// fact id -> its contribution. Pointers, because most cells hold one
	// or two facts and a small map's slots are allocated eight at a time.
	cells   map[refDay]map[string]*contrib
	refDays map[identity.Ref]map[Day]int
	factAt  map[string][]refDay

	// Amazon catalog snapshots (sales ranks), by ASIN.
	bsrFacts map[identity.Ref]map[string]struct{}
	bsrTomb  map[identity.Ref]int64

	// Amazon order items waiting for their order's purchase date.
	orderDates   map[string]time.Time
	pendingItems map[string]map[string]AmazonOrderItem // order -> fact id -> item

	// Videos.
	videoProducts  map[string]map[productRef]int // video -> product -> vperf facts listing it
	productVideos  map[productRef]map[string]struct{}
	productKeys    map[productRef][]string // cached keys of a product with videos
	productsByKey  map[string]map[productRef]struct{}
	vperf          map[string]*vperfFact
	vperfByDay     map[videoDay]map[string]struct{}
	vperfDays      map[string]map[Day]int
	engagement     map[string]*engState // by video id
	engagementSeen map[string]string    // video id -> engagement record key

	rows  map[RowKey]*emitted
	floor int64

	// Scratch space of compute, reused so that recomputing a row, the
	// work of every input record, does not allocate it each time.
	scratchVideos, scratchAmzOrders, scratchTTOrders []string
}

type seenVersion struct {
	version int64
	eventID string
}

type productRef struct{ shop, id string }

// fallbackKey is the key of a TikTok product whose SKUs identity has not
// linked yet: the video facts stay visible under it until they are.
func (p productRef) fallbackKey() string { return "tiktok:" + p.shop + ":product:" + p.id }

type refDay struct {
	ref identity.Ref
	day Day
}

type videoDay struct {
	video string
	day   Day
}

type emitted struct {
	row     Row
	version int64
	deleted bool
}

// New returns an empty Join.
func New(cfg Config) *Join {
	zone := cfg.Zone
	if zone == nil {
		zone = time.UTC
	}
	return &Join{
		zone: zone, attr: cfg.Attribution,
		seen:           map[string]seenVersion{},
		keyOf:          map[identity.Ref]string{},
		productOf:      map[identity.Ref]productRef{},
		skusOf:         map[productRef]map[identity.Ref]struct{}{},
		refsByKey:      map[string]map[identity.Ref]struct{}{},
		cells:          map[refDay]map[string]*contrib{},
		refDays:        map[identity.Ref]map[Day]int{},
		factAt:         map[string][]refDay{},
		bsrFacts:       map[identity.Ref]map[string]struct{}{},
		bsrTomb:        map[identity.Ref]int64{},
		orderDates:     map[string]time.Time{},
		pendingItems:   map[string]map[string]AmazonOrderItem{},
		videoProducts:  map[string]map[productRef]int{},
		productVideos:  map[productRef]map[string]struct{}{},
		productKeys:    map[productRef][]string{},
		productsByKey:  map[string]map[productRef]struct{}{},
		vperf:          map[string]*vperfFact{},
		vperfByDay:     map[videoDay]map[string]struct{}{},
		vperfDays:      map[string]map[Day]int{},
		engagement:     map[string]*engState{},
		engagementSeen: map[string]string{},
		rows:           map[RowKey]*emitted{},
	}
}

// Zone returns the reporting zone.
func (j *Join) Zone() *time.Location { return j.zone }

// SetVersionFloor makes every row emitted from now on carry a version of at
// least v. After rebuilding state, set it above any version emitted before
// the restart (e.g. the current time in microseconds).
func (j *Join) SetVersionFloor(v int64) { j.floor = max(j.floor, v) }

// Rows returns the current content of every row that has contributions,
// sorted by key and day: what a current-state table should hold.
func (j *Join) Rows() []Row {
	var out []Row
	for _, e := range j.rows {
		if !e.deleted {
			out = append(out, e.row)
		}
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(strings.Compare(a.ProductKey, b.ProductKey), cmp.Compare(a.Day, b.Day))
	})
	return out
}

// accept records change m of source key id and reports whether it is new:
// a repeated event id, or a version not above the last accepted one, is a
// duplicate or out of order and is ignored.
func (j *Join) accept(id string, m Meta) bool {
	if s, ok := j.seen[id]; ok && (m.EventID == s.eventID || m.Version <= s.version) {
		return false
	}
	j.seen[id] = seenVersion{version: m.Version, eventID: m.EventID}
	return true
}

// key returns the product key of a channel product: its link, or the
// channel-scoped key identity gives unmatched products.
func (j *Join) key(ref identity.Ref) string {
	if k, ok := j.keyOf[ref]; ok {
		return k
	}
	return ref.String()
}

func (j *Join) linked(ref identity.Ref) bool {
	_, ok := j.keyOf[ref]
	return ok
}

// touched collects the rows a change may alter.
type touched map[RowKey]struct{}

func (t touched) add(k string, d Day) { t[RowKey{k, d}] = struct{}{} }

// impactRef adds every row that facts of ref, or videos of its product,
// take part in under the current links.
func (j *Join) impactRef(ref identity.Ref, t touched) {
	k := j.key(ref)
	for d := range j.refDays[ref] {
		t.add(k, d)
	}
	if p, ok := j.productOf[ref]; ok {
		j.impactProduct(p, t)
	}
}

// impactProduct adds every row the videos of a TikTok product are credited to.
func (j *Join) impactProduct(p productRef, t touched) {
	for v := range j.productVideos[p] {
		j.impactVideo(v, t)
	}
}

// impactVideo adds every row the video's figures are credited to.
func (j *Join) impactVideo(v string, t touched) {
	keys := j.keysOfVideo(v)
	days := j.videoDaysOf(v)
	for _, k := range keys {
		for d := range days {
			t.add(k, d)
		}
	}
}

// keysOfProduct returns the sorted product keys of a TikTok product's SKUs.
func (j *Join) keysOfProduct(p productRef) []string {
	skus := j.skusOf[p]
	if len(skus) == 0 {
		return []string{p.fallbackKey()}
	}
	var keys []string
	for r := range skus {
		if k := j.key(r); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// refreshProduct updates the cached keys of a product that has videos.
func (j *Join) refreshProduct(p productRef) {
	for _, k := range j.productKeys[p] {
		if s := j.productsByKey[k]; s != nil {
			delete(s, p)
			if len(s) == 0 {
				delete(j.productsByKey, k)
			}
		}
	}
	if len(j.productVideos[p]) == 0 {
		delete(j.productKeys, p)
		return
	}
	keys := j.keysOfProduct(p)
	j.productKeys[p] = keys
	for _, k := range keys {
		s := j.productsByKey[k]
		if s == nil {
			s = map[productRef]struct{}{}
			j.productsByKey[k] = s
		}
		s[p] = struct{}{}
	}
}

// keysOfVideo returns the sorted distinct keys of the products a video shows.
func (j *Join) keysOfVideo(v string) []string {
	var keys []string
	for p := range j.videoProducts[v] {
		for _, k := range j.productKeys[p] {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// ApplyLinks applies identity changes: facts of a re-keyed product move to
// its new key, and the rows under both keys are re-emitted.
func (j *Join) ApplyLinks(changes []identity.Change, trigger Meta) []Row {
	t := touched{}
	for _, c := range changes {
		ref := c.Link.Ref
		var newP productRef
		hasNewP := !c.Deleted && ref.Channel == identity.ChannelTikTok && c.Link.ProductID != ""
		if hasNewP {
			newP = productRef{ref.Account, c.Link.ProductID}
		}
		impact := func() {
			j.impactRef(ref, t)
			if hasNewP {
				j.impactProduct(newP, t)
			}
		}
		impact()
		oldP, hadP := j.productOf[ref]
		j.unindexRef(j.key(ref), ref)
		if hadP {
			delete(j.skusOf[oldP], ref)
			if len(j.skusOf[oldP]) == 0 {
				delete(j.skusOf, oldP)
			}
			delete(j.productOf, ref)
		}
		if c.Deleted {
			delete(j.keyOf, ref)
		} else {
			j.keyOf[ref] = c.Link.ProductKey
			if hasNewP {
				j.productOf[ref] = newP
				if j.skusOf[newP] == nil {
					j.skusOf[newP] = map[identity.Ref]struct{}{}
				}
				j.skusOf[newP][ref] = struct{}{}
			}
		}
		if len(j.refDays[ref]) > 0 || j.linked(ref) {
			j.indexRef(ref)
		}
		if hadP {
			j.refreshProduct(oldP)
		}
		if hasNewP {
			j.refreshProduct(newP)
		}
		impact()
		if hadP {
			j.impactProduct(oldP, t)
		}
	}
	return j.emit(t, trigger)
}

func (j *Join) indexRef(ref identity.Ref) {
	k := j.key(ref)
	s := j.refsByKey[k]
	if s == nil {
		s = map[identity.Ref]struct{}{}
		j.refsByKey[k] = s
	}
	s[ref] = struct{}{}
}

func (j *Join) unindexRef(k string, ref identity.Ref) {
	if s := j.refsByKey[k]; s != nil {
		delete(s, ref)
		if len(s) == 0 {
			delete(j.refsByKey, k)
		}
	}
}

// setFact replaces the contributions of fact id with cs, marking the rows
// of both the old and the new contributions.
func (j *Join) setFact(id string, cs []cellContrib, t touched) {
	for _, rd := range j.factAt[id] {
		t.add(j.key(rd.ref), rd.day)
		if m := j.cells[rd]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(j.cells, rd)
			}
		}
		if n := j.refDays[rd.ref][rd.day] - 1; n > 0 {
			j.refDays[rd.ref][rd.day] = n
		} else {
			delete(j.refDays[rd.ref], rd.day)
			if len(j.refDays[rd.ref]) == 0 {
				delete(j.refDays, rd.ref)
				if !j.linked(rd.ref) {
					j.unindexRef(j.key(rd.ref), rd.ref)
				}
			}
		}
	}
	delete(j.factAt, id)
	var at []refDay
	for _, c := range cs {
		rd := refDay{c.ref, c.day}
		m := j.cells[rd]
		if m == nil {
			m = map[string]*contrib{}
			j.cells[rd] = m
		}
		if old, dup := m[id]; dup {
			// One fact, several contributions to one cell (an order with
			// two lines of a SKU): merge.
			merged := old.merge(c.c)
			m[id] = &merged
			continue
		}
		cc := c.c
		m[id] = &cc
		at = append(at, rd)
		if j.refDays[c.ref] == nil {
			j.refDays[c.ref] = map[Day]int{}
		}
		j.refDays[c.ref][c.day]++
		j.indexRef(c.ref)
		t.add(j.key(c.ref), c.day)
	}
	if len(at) > 0 {
		j.factAt[id] = at
	}
}

type cellContrib struct {
	ref identity.Ref
	day Day
	c   contrib
}

// kind is the kind of a direct contribution.
type kind uint8

const (
	kindSalesTraffic kind = iota + 1
	kindSearchQuery
	kindSearchTerm
	kindBSR
	kindAmazonOrder
	kindTikTokOrder
)

// contrib is one fact's contribution to one (channel product, day) cell.
// It is the bulk of the state, so what only search reports carry sits
// behind a pointer, shared by the days of a report's period.
type contrib struct {
	kind kind
	// sales & traffic
	sessions, pageViews, units int64
	currency                   string
	amount                     *big.Rat
	// search query performance, search terms
	search *searchContrib
	// sales rank
	rank int64
	// orders
	orderID string
}

// searchContrib is what a search query performance or search terms row
// contributes to each day of its period. It is never modified.
type searchContrib struct {
	period                         Period // converted to reporting days
	impressions, clicks, purchases int64
	term                           TermRank
}

func (c contrib) merge(o contrib) contrib {
	c.units += o.units
	if o.amount != nil {
		if c.amount == nil {
			c.amount = new(big.Rat)
		} else {
			c.amount = new(big.Rat).Set(c.amount)
		}
		c.amount.Add(c.amount, o.amount)
	}
	if c.currency != o.currency {
		c.currency = mixedCurrency
	}
	return c
}

// mixedCurrency marks amounts in more than one currency, which are never
// added up.
const mixedCurrency = "*mixed*"
