package join

import (
	"cmp"
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

	// facts holds, per source key ("topic|key"), the last accepted change
	// and the cells the fact contributes to: one entry, so the id is
	// stored once.
	facts map[string]*fact

	// Identity, from identity.Change.
	keyOf     map[identity.Ref]string
	productOf map[identity.Ref]productRef
	skusOf    map[productRef]map[identity.Ref]struct{}
	refsByKey map[string]map[refID]struct{}

	strs map[string]string // see intern

	// Channel products are interned: the cells, many per product, then
	// key on 8 bytes instead of three strings and a day.
	refIDs map[identity.Ref]refID
	refs   []identity.Ref

	// Facts credited straight to a channel product, by (product, day).
	// Slices, not maps: most cells hold a handful of facts, and computing
	// a row reads them all anyway.
	cells   map[cell][]cellFact
	refDays map[identity.Ref]map[Day]int

	// Amazon catalog snapshots (sales ranks), by ASIN.
	bsrFacts map[identity.Ref]map[int64]*fact // by snapshot version
	bsrTomb  map[identity.Ref]int64

	// Amazon order items waiting for their order's purchase date.
	orderDays    map[string]Day                        // purchase day (reporting zone) by order
	pendingItems map[string]map[string]AmazonOrderItem // order -> fact id -> item

	// Videos.
	videos        map[string]*video
	productVideos map[productRef]map[*video]struct{}
	productKeys   map[productRef][]string // cached keys of a product with videos
	productsByKey map[string]map[productRef]struct{}
	unlinkedAgg   map[RowKey]*attAgg // figures of videos that show no product, by key and day
	unlinkedKeys  map[string]string  // tiktok:<account>:unlinked by account
	// spreads caches the spread first values of the videos whose rows one
	// emit computes; emptied by every emit (see spreadOf).
	spreads map[*video]*videoSpread

	rows  map[RowKey]*emitted
	floor int64

	// Scratch space of compute, reused so that recomputing a row, the
	// work of every input record, does not allocate it each time.
	scratchVideos                     []*video
	scratchAmzOrders, scratchTTOrders []string
	scratchContent                    []byte
}

// fact is one input fact: the last accepted change of its source key
// (unset for sales-rank snapshots, kept in bsrFacts) and the cells it
// contributes to.
type fact struct {
	version int64
	// ids is the fact id followed by the event id of the change, in one
	// allocation: the key of facts is its prefix, so a fact keeps one
	// string, and nothing of the decoded record.
	ids string
	at  []cell
}

// refID is an interned identity.Ref.
type refID uint32

// cell is a (channel product, day) pair packed into one word.
type cell uint64

func cellOf(r refID, d Day) cell { return cell(uint64(r)<<32 | uint64(uint32(d))) }
func (c cell) ref() refID        { return refID(c >> 32) }
func (c cell) day() Day          { return Day(int32(uint32(c))) }

// cellFact is one fact's contribution to a cell. Contributions are never
// modified once stored, so one may be shared by several cells (the days
// of a search report's period).
type cellFact struct {
	fact *fact
	c    contrib
}

type productRef struct{ shop, id string }

// fallbackKey is the key of a TikTok product whose SKUs identity has not
// linked yet: the video facts stay visible under it until they are.
func (p productRef) fallbackKey() string { return "tiktok:" + p.shop + ":product:" + p.id }

// emitted is the last version of a row sent out. Its figures are kept
// only as their encoding (Row.appendContent), which is all that deciding
// whether a recomputed row changed needs, and a fraction of a Row's size.
type emitted struct {
	content        string // empty when deleted
	version        int64
	trigger        *Meta // shared by the rows one change emitted
	first, deleted bool
}

// New returns an empty Join.
func New(cfg Config) *Join {
	zone := cfg.Zone
	if zone == nil {
		zone = time.UTC
	}
	return &Join{
		zone: zone, attr: cfg.Attribution,
		facts:         map[string]*fact{},
		strs:          map[string]string{},
		keyOf:         map[identity.Ref]string{},
		productOf:     map[identity.Ref]productRef{},
		skusOf:        map[productRef]map[identity.Ref]struct{}{},
		refsByKey:     map[string]map[refID]struct{}{},
		refIDs:        map[identity.Ref]refID{},
		cells:         map[cell][]cellFact{},
		refDays:       map[identity.Ref]map[Day]int{},
		bsrFacts:      map[identity.Ref]map[int64]*fact{},
		bsrTomb:       map[identity.Ref]int64{},
		orderDays:     map[string]Day{},
		pendingItems:  map[string]map[string]AmazonOrderItem{},
		videos:        map[string]*video{},
		productVideos: map[productRef]map[*video]struct{}{},
		productKeys:   map[productRef][]string{},
		productsByKey: map[string]map[productRef]struct{}{},
		rows:          map[RowKey]*emitted{},

		unlinkedAgg:  map[RowKey]*attAgg{},
		unlinkedKeys: map[string]string{},
		spreads:      map[*video]*videoSpread{},
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
	clear(j.spreads)
	defer clear(j.spreads)
	var out []Row
	for rk, e := range j.rows {
		if !e.deleted {
			out = append(out, j.row(rk, e))
		}
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(strings.Compare(a.ProductKey, b.ProductKey), cmp.Compare(a.Day, b.Day))
	})
	return out
}

// accept records change m of source key id and returns its fact and the
// id as stored (share its bytes in state that outlives the change). A
// repeated event id, or a version not above the last accepted one, is a
// duplicate or out of order and is ignored: the fact is then nil.
func (j *Join) accept(id string, m Meta) (*fact, string) {
	f := j.facts[id]
	if f == nil {
		f = &fact{}
	} else if m.Version <= f.version || m.EventID == f.ids[len(id):] {
		return nil, ""
	}
	f.version, f.ids = m.Version, id+m.EventID
	// Assigning an existing key stores the new key string, so the
	// previous change's ids are released.
	id = f.ids[:len(id)]
	j.facts[id] = f
	return f, id
}

// intern returns s or an equal string the Join already holds: for the
// small set of values (currencies, shops, products) that many facts
// repeat, which would otherwise each keep a decoded copy.
func (j *Join) intern(s string) string {
	if v, ok := j.strs[s]; ok {
		return v
	}
	j.strs[s] = s
	return s
}

// refID returns the interned id of ref.
func (j *Join) refID(ref identity.Ref) refID {
	id, ok := j.refIDs[ref]
	if !ok {
		id = refID(len(j.refs))
		j.refIDs[ref] = id
		j.refs = append(j.refs, ref)
	}
	return id
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
func (j *Join) impactVideo(v *video, t touched) {
	keys := j.keysOfVideo(v)
	days := v.days()
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

// keysOfVideo returns the sorted distinct keys of the products a video
// shows, or its unlinked key when it shows none.
func (j *Join) keysOfVideo(v *video) []string {
	if len(v.products) == 0 {
		if k := j.unlinkedKey(v); k != "" {
			return []string{k}
		}
		return nil
	}
	var keys []string
	for _, p := range v.products {
		for _, k := range j.productKeys[p.product] {
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
		s = map[refID]struct{}{}
		j.refsByKey[k] = s
	}
	s[j.refID(ref)] = struct{}{}
}

func (j *Join) unindexRef(k string, ref identity.Ref) {
	if s := j.refsByKey[k]; s != nil {
		delete(s, j.refIDs[ref])
		if len(s) == 0 {
			delete(j.refsByKey, k)
		}
	}
}

// setFact replaces the contributions of fact f with cs, marking the rows
// of both the old and the new contributions.
func (j *Join) setFact(f *fact, cs []cellContrib, t touched) {
	for _, c := range f.at {
		ref, d := j.refs[c.ref()], c.day()
		t.add(j.key(ref), d)
		fs := j.cells[c]
		if i := slices.IndexFunc(fs, func(x cellFact) bool { return x.fact == f }); i >= 0 {
			// Order within a cell does not matter: swap in the last one.
			fs[i] = fs[len(fs)-1]
			fs[len(fs)-1] = cellFact{}
			fs = fs[:len(fs)-1]
		}
		if len(fs) == 0 {
			delete(j.cells, c)
		} else {
			j.cells[c] = fs
		}
		if n := j.refDays[ref][d] - 1; n > 0 {
			j.refDays[ref][d] = n
		} else {
			delete(j.refDays[ref], d)
			if len(j.refDays[ref]) == 0 {
				delete(j.refDays, ref)
				if !j.linked(ref) {
					j.unindexRef(j.key(ref), ref)
				}
			}
		}
	}
	f.at = nil
	if len(cs) > 0 {
		f.at = make([]cell, 0, len(cs))
	}
	for _, c := range cs {
		at := cellOf(j.refID(c.ref), c.day)
		if slices.Contains(f.at, at) {
			// One fact, several contributions to one cell (an order with
			// two lines of a SKU): merge.
			fs := j.cells[at]
			i := slices.IndexFunc(fs, func(x cellFact) bool { return x.fact == f })
			fs[i].c = fs[i].c.(*ttOrderContrib).merge(c.c.(*ttOrderContrib))
			continue
		}
		j.cells[at] = append(j.cells[at], cellFact{f, c.c})
		f.at = append(f.at, at)
		if j.refDays[c.ref] == nil {
			j.refDays[c.ref] = map[Day]int{}
		}
		j.refDays[c.ref][c.day]++
		j.indexRef(c.ref)
		t.add(j.key(c.ref), c.day)
	}
}

type cellContrib struct {
	ref identity.Ref
	day Day
	c   contrib
}

// contrib is one fact's contribution to one (channel product, day) cell:
// a *stContrib, *sqpContrib, *termContrib, *rankContrib, *amzOrderContrib
// or *ttOrderContrib. It is the bulk of the state, so each kind carries
// only its own fields. Contributions are never modified once stored, so
// one may be shared by several cells (the days of a search report's
// period).
type contrib interface{ isContrib() }

// stContrib is a sales & traffic row's figures.
type stContrib struct {
	sessions, pageViews, units int64
	currency                   string
	amount                     amount
}

// sqpContrib is what a search query performance row contributes to each
// day of its period.
type sqpContrib struct {
	period                         Period // converted to reporting days
	impressions, clicks, purchases int64
}

// termContrib is a search term listed on each day of its period.
type termContrib struct {
	period Period // converted to reporting days
	term   TermRank
}

// rankContrib is one sales-rank observation.
type rankContrib struct{ rank int64 }

// amzOrderContrib is an Amazon order counted for a product.
type amzOrderContrib struct{ orderID string }

// ttOrderContrib is the lines of a TikTok order of one SKU.
type ttOrderContrib struct {
	orderID  string
	units    int64
	currency string
	amount   amount
}

func (*stContrib) isContrib()       {}
func (*sqpContrib) isContrib()      {}
func (*termContrib) isContrib()     {}
func (*rankContrib) isContrib()     {}
func (*amzOrderContrib) isContrib() {}
func (*ttOrderContrib) isContrib()  {}

// merge adds o's units and amount to c. Currencies mix only when both
// carry an amount: a line without a price says nothing about money.
func (c *ttOrderContrib) merge(o *ttOrderContrib) *ttOrderContrib {
	m := *c
	c = &m
	c.units += o.units
	switch {
	case !o.amount.set:
	case !c.amount.set:
		c.amount, c.currency = o.amount, o.currency
	default:
		if c.currency != o.currency {
			c.currency = mixedCurrency
		}
		c.amount = c.amount.plus(o.amount)
	}
	return c
}

// mixedCurrency marks amounts in more than one currency, which are never
// added up.
const mixedCurrency = "*mixed*"
