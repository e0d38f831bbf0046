package join

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/transform/identity"
)

// Store is the keyed state of the entities of one partition of facts
// (transform/state's Store, in the stage). Values returned by Get belong
// to the caller; Scan's key and value only during the call.
type Store interface {
	Get(key []byte) ([]byte, bool, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	Scan(prefix []byte, fn func(key, value []byte) bool) error
	// ScanFrom is Scan of the keys at or after from.
	ScanFrom(prefix, from []byte, fn func(key, value []byte) bool) error
	// HasPrefixes sets has[i] to whether some key starts with
	// prefixes[i]: a Scan per prefix that stops at its first key, in
	// one pass.
	HasPrefixes(prefixes [][]byte, has []bool) error
}

// Links is what the facts need of identity: the product key of a channel
// product and whether identity knows it (a clicked ASIN that is not the
// seller's is not), and the product keys of a TikTok product: the sorted,
// distinct keys of its SKUs that identity linked to it (none: the product
// has no linked SKU yet), which the caller must not modify.
type Links interface {
	Key(ref identity.Ref) (key string, linked bool)
	ProductKeys(shop, product string) []string
}

// channelProduct names a TikTok product (not a SKU) in the index of what
// entities depend on: videos depend on the products they show.
const channelProduct identity.Channel = "tiktok_product"

// ProductRef returns the reference under which Facts.Relink learns that
// the keys of TikTok product (shop, product) changed: a link of one of
// its SKUs appeared, changed or went.
func ProductRef(shop, product string) identity.Ref {
	return identity.Ref{Channel: channelProduct, Account: shop, ID: product}
}

// Facts is the join's state of one partition of entities, kept in a
// Store: each entity's facts (the last change accepted per source key),
// the partials it last sent per row, and an index from the channel
// products it depends on to the entity. It turns facts and link changes
// into the partials that changed.
//
// Work is batched, as Kafka Streams' record caches batch a task's writes:
// Apply and RelinkQueued change the entities in memory and note which of
// their days they may have moved; Flush computes those partials once, sends
// the differences and writes the entities to the store. An entity that
// many records of one batch touch (a video's snapshot and shop days, an
// order and its lines) is read, computed and written once, and a day that
// many changes move is sent once. The caller flushes at the end of each
// transaction; Reset drops an unflushed batch (the transaction aborted).
//
// Store layout (keys):
//
//	e/<entity>                   the entity's state (a video's head)
//	e/<entity>\x00<day>          a day of an entity kept per day (videos, sales ranks)
//	e/<entity>\x01<version>      a sales-rank snapshot version seen
//	x/<ref>\x00<entity>          the entity depends on channel product ref
//	q/<ref>                      ref's links changed: its dependents wait to be relinked (relink.go)
type Facts struct {
	cfg     Config
	zone    *time.Location
	st      Store
	links   Links
	pending map[string]pendingEntity
	// keys caches the product keys of TikTok products during a flush.
	keys map[productRef][]string
	buf  []byte
	out  []PartialChange // Flush's result, reused
	ps   partialSet      // an entity's partials, reused
}

// pendingEntity is an entity a batch touched, held in memory until Flush.
type pendingEntity interface {
	// relink marks every partial of the entity for recomputation.
	relink(f *Facts, trigger Meta) error
	// flush appends the changes of the entity's partials to out and
	// writes the entity.
	flush(f *Facts, out []PartialChange) ([]PartialChange, error)
}

// NewFacts returns the facts of one partition over st.
func NewFacts(cfg Config, st Store, links Links) *Facts {
	zone := cfg.Zone
	if zone == nil {
		zone = time.UTC
	}
	cfg.Zone = zone
	return &Facts{cfg: cfg, zone: zone, st: st, links: links, pending: map[string]pendingEntity{}}
}

// Apply applies a fact to its entity. An error from the store stops the
// stage; a fact the rules cannot use (a zone that does not exist) is an
// error the caller dead-letters: the entity is then unchanged.
func (f *Facts) Apply(x Fact) error {
	id := EntityOf(x)
	switch x := x.(type) {
	case BestSellersRank:
		e, err := f.ranks(id)
		if err != nil {
			return err
		}
		return e.apply(f, x)
	case VideoPerformance:
		v, err := f.video(id)
		if err != nil {
			return err
		}
		return v.applyPerf(f, x)
	case VideoEngagement:
		v, err := f.video(id)
		if err != nil {
			return err
		}
		return v.applyEng(f, x)
	}
	e, err := f.simple(id)
	if err != nil {
		return err
	}
	return e.apply(f, x)
}

// Flush computes the partials the batch may have moved, writes the
// entities and returns the partials that changed, in entity order. The
// slice is reused by the next Flush.
func (f *Facts) Flush() ([]PartialChange, error) {
	clear(f.out)
	out := f.out[:0]
	defer func() {
		// Reused unless a large batch (a relink of many entities) grew
		// it: that one is not kept between transactions.
		if cap(out) <= maxKeptChanges {
			f.out = out[:0]
		} else {
			f.out = nil
		}
	}()
	f.keys = map[productRef][]string{}
	defer func() { f.keys = nil }()
	for _, id := range slices.Sorted(maps.Keys(f.pending)) {
		var err error
		if out, err = f.pending[id].flush(f, out); err != nil {
			return nil, fmt.Errorf("join: entity %s: %w", id, err)
		}
	}
	clear(f.pending)
	return out, nil
}

// maxKeptChanges bounds the slice of partial changes Facts keeps for
// the next Flush.
const maxKeptChanges = 4096

// Pending returns how many entities the batch holds.
func (f *Facts) Pending() int { return len(f.pending) }

// Reset drops the batch: its changes were not flushed (the transaction
// aborted), and the store holds the entities as they were.
func (f *Facts) Reset() { clear(f.pending) }

// index moves the entity's entries in the dependency index from the old
// refs to the new ones.
func (f *Facts) index(id string, old, now []identity.Ref) error {
	key := func(r identity.Ref) []byte { return append(append([]byte("x/"+r.String()), 0), id...) }
	for _, r := range old {
		if !slices.Contains(now, r) {
			if err := f.st.Delete(key(r)); err != nil {
				return err
			}
		}
	}
	for _, r := range now {
		if !slices.Contains(old, r) {
			if err := f.st.Set(key(r), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// sent is what an entity last sent, per row: the partial's wire form,
// sorted by day and product key (the order of the store's layout). A
// sorted slice rather than a map: diff merges it with the partials now,
// already sorted, and a map per entity and diff was a tenth of the facts
// step's allocations.
type sent []sentEntry

type sentEntry struct {
	day Day
	key string
	b   []byte
}

// compareRow orders rows by day, then product key.
func compareRow(aDay Day, aKey string, bDay Day, bKey string) int {
	return cmp.Or(cmp.Compare(aDay, bDay), strings.Compare(aKey, bKey))
}

// diff compares the partials now with those sent and appends the
// changes to out (the partials that changed or are new, then those
// retracted); it returns what is sent after them.
func (f *Facts) diff(out []PartialChange, old sent, now *partialSet, trigger Meta) ([]PartialChange, sent) {
	next := make(sent, 0, len(now.e)) // what it holds at the end: no growth
	kept := 0                         // partials sent before and now
	now.sort()
	i := 0 // in old: both are sorted
	for j := range now.e {
		e := &now.e[j]
		for i < len(old) && compareRow(old[i].day, old[i].key, e.day, e.key) < 0 {
			i++
		}
		var prev []byte
		had := i < len(old) && old[i].day == e.day && old[i].key == e.key
		if had {
			prev = old[i].b
			kept++
		}
		b := AppendPartial(f.buf[:0], &e.p)
		f.buf = b
		if had && string(prev) == string(b) {
			next = append(next, sentEntry{e.day, e.key, prev})
			continue
		}
		b = slices.Clone(b)
		next = append(next, sentEntry{e.day, e.key, b})
		out = append(out, PartialChange{Key: e.key, Day: e.day, Old: prev, New: b, Trigger: trigger})
	}
	if kept < len(old) {
		j := 0 // in next
		for _, o := range old {
			for j < len(next) && compareRow(next[j].day, next[j].key, o.day, o.key) < 0 {
				j++
			}
			if j < len(next) && next[j].day == o.day && next[j].key == o.key {
				continue
			}
			out = append(out, PartialChange{Key: o.key, Day: o.day, Old: o.b, Trigger: trigger})
		}
	}
	now.reset()
	return out, next
}

// partialSet is an entity's partials by day and product key, built for
// one diff. Entities reach few rows each, so it is a slice searched
// linearly; Facts reuses one, so computing partials allocates nothing
// once it has grown.
type partialSet struct{ e []partialEntry }

type partialEntry struct {
	day Day
	key string
	p   Partial
}

// of returns the partial of (day, key), creating it. The pointer is valid
// until the next call.
func (s *partialSet) of(day Day, key string) *Partial {
	for i := range s.e {
		if s.e[i].day == day && s.e[i].key == key {
			return &s.e[i].p
		}
	}
	s.e = append(s.e, partialEntry{day: day, key: key, p: Partial{has: true}})
	return &s.e[len(s.e)-1].p
}

func (s *partialSet) sort() {
	// The order diff merges sent in: one comparison for both.
	slices.SortFunc(s.e, func(a, b partialEntry) int { return compareRow(a.day, a.key, b.day, b.key) })
}

func (s *partialSet) reset() {
	clear(s.e)
	s.e = s.e[:0]
}

func (w *writer) sent(s sent) {
	w.u(uint64(len(s)))
	for _, e := range s {
		w.i(int64(e.day))
		w.s(e.key)
		w.u(uint64(len(e.b)))
		w.b = append(w.b, e.b...)
	}
}

// sent reads what writer.sent wrote. The partials are slices of the
// bytes read, not copies: a value read from the Store belongs to the
// caller, and the copies were a partial's allocation each.
func (r *unwire) sent() sent {
	n := r.Count()
	s := make(sent, 0, n)
	for range n {
		day, key := Day(r.Varint()), r.String()
		b := r.Raw(r.Uvarint())
		s = append(s, sentEntry{day, key, b[:len(b):len(b)]})
	}
	return s
}

// key returns the product key of a channel product and whether it is linked.
func (f *Facts) key(ref identity.Ref) (string, bool) { return f.links.Key(ref) }

// productKeys returns the keys video figures of a TikTok product go to:
// those of its linked SKUs, else its fallback key.
func (f *Facts) productKeys(p productRef) []string {
	if ks, ok := f.keys[p]; ok {
		return ks
	}
	ks := f.links.ProductKeys(p.shop, p.id)
	if len(ks) == 0 {
		ks = []string{p.fallbackKey()}
	}
	if f.keys != nil {
		f.keys[p] = ks
	}
	return ks
}

// simpleEntity is an entity other than sales ranks and videos, held
// whole in one key with what it sent: an Amazon order with its lines, a
// TikTok order, a sales & traffic, search query or search term row.
type simpleEntity struct {
	id      string
	e       entity // nil: none yet
	sent    sent
	refs    []identity.Ref // in the index
	dirty   bool
	trigger Meta
}

// entity is the state of a simple entity.
type entity interface {
	// partials puts the entity's partials, by day and product key, in out.
	partials(f *Facts, out *partialSet)
	// refs returns the channel products the partials depend on.
	refs() []identity.Ref
	// kind and fields are its layout in the store (codec.go).
	kind() byte
	fields(codec)
}

func (f *Facts) simple(id string) (*simpleEntity, error) {
	if p, ok := f.pending[id]; ok {
		return p.(*simpleEntity), nil
	}
	e, s, err := f.load(id)
	if err != nil {
		return nil, err
	}
	p := &simpleEntity{id: id, e: e, sent: s}
	if e != nil {
		p.refs = e.refs()
	}
	f.pending[id] = p
	return p, nil
}

func (s *simpleEntity) apply(f *Facts, x Fact) error {
	e, changed, err := f.applyTo(s.e, x)
	if err != nil || !changed {
		return err
	}
	s.e, s.dirty, s.trigger = e, true, x.meta()
	return nil
}

func (s *simpleEntity) relink(_ *Facts, trigger Meta) error {
	if s.e != nil {
		s.dirty, s.trigger = true, trigger
	}
	return nil
}

func (s *simpleEntity) flush(f *Facts, out []PartialChange) ([]PartialChange, error) {
	if !s.dirty {
		return out, nil
	}
	s.e.partials(f, &f.ps)
	out, s.sent = f.diff(out, s.sent, &f.ps, s.trigger)
	if err := f.save(s.id, s.e, s.sent); err != nil {
		return nil, err
	}
	refs := s.e.refs()
	if err := f.index(s.id, s.refs, refs); err != nil {
		return nil, err
	}
	s.refs, s.dirty = refs, false
	return out, nil
}

// accepted is the last change accepted for one source key.
type accepted struct {
	version int64
	eventID string
	seen    bool
}

// accept reports whether change m supersedes a: a repeated event id, or a
// version not above the last accepted one, is a duplicate or out of
// order.
func (a *accepted) accept(m Meta) bool {
	if a.seen && (m.Version <= a.version || m.EventID == a.eventID) {
		return false
	}
	*a = accepted{version: m.Version, eventID: m.EventID, seen: true}
	return true
}

func (w *writer) accepted(a accepted) { w.bool(a.seen); w.i(a.version); w.s(a.eventID) }
func (r *unwire) accepted() accepted {
	return accepted{seen: r.Bool(), version: r.Varint(), eventID: r.String()}
}

func (w *writer) ref(r identity.Ref) { w.s(string(r.Channel)); w.s(r.Account); w.s(r.ID) }
func (r *unwire) ref() identity.Ref {
	return identity.Ref{Channel: identity.Channel(r.String()), Account: r.String(), ID: r.String()}
}

// Entity kinds in the store.
const (
	entST byte = iota + 1
	entSQP
	entTerm
	entTikTokOrder
	entAmazonOrder
)

// asinRow is what an entity of one row of an ASIN's report keeps of the
// row: the last change accepted, whether the row is live (not deleted),
// and the ASIN, the one channel product it reaches.
type asinRow struct {
	acc  accepted
	live bool
	ref  identity.Ref
}

func (e *asinRow) refs() []identity.Ref {
	if !e.live {
		return nil
	}
	return []identity.Ref{e.ref}
}

// stEntity is a sales & traffic row.
type stEntity struct {
	asinRow
	day                        Day
	sessions, pageViews, units int64
	currency                   string
	amount                     amount
}

func (e *stEntity) partials(f *Facts, out *partialSet) {
	if e.live {
		k, _ := f.key(e.ref)
		p := out.of(e.day, k)
		p.st, p.sessions, p.pageViews, p.units = true, e.sessions, e.pageViews, e.units
		p.amzMoney.add(e.currency, e.amount)
	}
}

// sqpEntity is a search query performance row: its figures on every day
// of its period when the period is a week (rowPeriod).
type sqpEntity struct {
	asinRow
	days []Day
	c    sqpContrib
}

func (e *sqpEntity) partials(f *Facts, out *partialSet) {
	if !e.live || !rowPeriod(e.c.period) {
		return
	}
	k, _ := f.key(e.ref)
	for _, d := range e.days {
		p := out.of(d, k)
		p.sqp = append(p.sqp, e.c)
	}
}

// termEntity is a search term row: the term on every day of its period
// (a week: rowPeriod) for each clicked ASIN that is the seller's.
type termEntity struct {
	acc     accepted
	live    bool
	days    []Day
	period  Period
	clicked []clickedRef
}

type clickedRef struct {
	ref  identity.Ref
	term TermRank
}

func (e *termEntity) refs() []identity.Ref {
	var out []identity.Ref
	for _, c := range e.clicked {
		if !slices.Contains(out, c.ref) {
			out = append(out, c.ref)
		}
	}
	return out
}

func (e *termEntity) partials(f *Facts, out *partialSet) {
	if !rowPeriod(e.period) {
		return
	}
	for _, c := range e.clicked {
		k, linked := f.key(c.ref)
		if !linked {
			// A competitor's ASIN among the top clicked.
			continue
		}
		for _, d := range e.days {
			p := out.of(d, k)
			p.terms = append(p.terms, termContrib{period: e.period, term: c.term})
		}
	}
}

// ttOrderEntity is a TikTok order: its lines per SKU on the create day.
type ttOrderEntity struct {
	acc   accepted
	order string
	day   Day
	skus  []skuLines // sorted by ref
}

// skuLines is the lines of a TikTok order of one SKU: one unit each, and
// their prices.
type skuLines struct {
	ref   identity.Ref
	units int64
	money money
}

func (e *ttOrderEntity) refs() []identity.Ref {
	out := make([]identity.Ref, 0, len(e.skus))
	for _, s := range e.skus {
		out = append(out, s.ref)
	}
	return out
}

func (e *ttOrderEntity) partials(f *Facts, out *partialSet) {
	for _, s := range e.skus {
		k, _ := f.key(s.ref)
		p := out.of(e.day, k)
		if !p.tt {
			p.tt, p.ttOrders = true, 1
		}
		p.ttUnits += s.units
		p.ttMoney = p.ttMoney.merge(s.money)
	}
}

// amzOrderEntity is an Amazon order: the header's purchase day and the
// lines, which count on their own purchase day or, without one, on the
// header's once it arrives.
type amzOrderEntity struct {
	order  string
	header accepted
	dated  bool
	day    Day
	items  []amzItem // sorted by id
}

type amzItem struct {
	id       string
	acc      accepted
	live     bool
	ref      identity.Ref
	canceled bool
	dated    bool
	day      Day
}

func (e *amzOrderEntity) refs() []identity.Ref {
	var out []identity.Ref
	for _, it := range e.items {
		if it.live && !slices.Contains(out, it.ref) {
			out = append(out, it.ref)
		}
	}
	return out
}

func (e *amzOrderEntity) partials(f *Facts, out *partialSet) {
	for _, it := range e.items {
		if !it.live || it.canceled {
			continue
		}
		day, dated := it.day, it.dated
		if !dated {
			day, dated = e.day, e.dated
		}
		if !dated {
			continue // waits for the header
		}
		k, _ := f.key(it.ref)
		p := out.of(day, k)
		p.amzOrders = 1
	}
}

// applyTo applies fact x to entity e (nil: none yet) and returns the new
// entity and whether anything was accepted.
func (f *Facts) applyTo(e entity, x Fact) (entity, bool, error) {
	switch x := x.(type) {
	case SalesTraffic:
		s, _ := e.(*stEntity)
		if s == nil {
			s = &stEntity{}
		}
		n := *s
		if !n.acc.accept(x.Meta) {
			return e, false, nil
		}
		n.live = !x.deleted()
		if n.live {
			day, err := reportDay(x.Date, f.zone)
			if err != nil {
				return e, false, err
			}
			n.ref, n.day = amazonRef(x.MarketplaceID, x.ASIN), day
			n.sessions, n.pageViews, n.units = x.Sessions, x.PageViews, x.Units
			n.currency, n.amount = x.Currency, amountOf(x.Sales)
		}
		return &n, true, nil
	case SearchQuery:
		s, _ := e.(*sqpEntity)
		if s == nil {
			s = &sqpEntity{}
		}
		n := *s
		if !n.acc.accept(x.Meta) {
			return e, false, nil
		}
		n.live = !x.deleted()
		if n.live {
			days, p, err := periodDays(x.Period, f.zone)
			if err != nil {
				return e, false, err
			}
			n.ref, n.days = amazonRef(x.MarketplaceID, x.ASIN), days
			n.c = sqpContrib{period: p, impressions: x.Impressions, clicks: x.Clicks, purchases: x.Purchases}
		}
		return &n, true, nil
	case SearchTerm:
		s, _ := e.(*termEntity)
		if s == nil {
			s = &termEntity{}
		}
		n := *s
		if !n.acc.accept(x.Meta) {
			return e, false, nil
		}
		n.live, n.clicked, n.days = !x.deleted(), nil, nil
		if n.live {
			days, p, err := periodDays(x.Period, f.zone)
			if err != nil {
				return e, false, err
			}
			n.days, n.period = days, p
			for _, c := range x.Clicked {
				n.clicked = append(n.clicked, clickedRef{ref: amazonRef(x.MarketplaceID, c.ASIN), term: TermRank{Term: x.Term,
					Department: x.Department, FrequencyRank: x.FrequencyRank, ClickShareRank: c.ClickShareRank,
					ClickShare: c.ClickShare, ConversionShare: c.ConversionShare}})
			}
		}
		return &n, true, nil
	case TikTokOrder:
		s, _ := e.(*ttOrderEntity)
		if s == nil {
			s = &ttOrderEntity{order: x.ShopID + ":" + x.OrderID}
		}
		n := *s
		if !n.acc.accept(x.Meta) {
			return e, false, nil
		}
		n.skus = nil
		if !x.deleted() && x.Status != tiktokCancelled {
			n.day = DayOf(x.CreateTime, f.zone)
			for _, l := range x.Lines {
				cur := l.Currency
				if cur == "" {
					cur = x.Currency
				}
				ref := tiktokRef(x.ShopID, l.SKUID)
				i := slices.IndexFunc(n.skus, func(s skuLines) bool { return s.ref == ref })
				if i < 0 {
					i = len(n.skus)
					n.skus = append(n.skus, skuLines{ref: ref})
				}
				// A line without a price says nothing about money.
				n.skus[i].units++
				n.skus[i].money.add(cur, amountOf(l.SalePrice))
			}
			slices.SortFunc(n.skus, func(a, b skuLines) int { return compareRefs(a.ref, b.ref) })
		}
		return &n, true, nil
	case AmazonOrder:
		// The header's latest version dates the lines that have no
		// purchase date of their own: a restated date moves them, a
		// delete or a header without a date leaves them waiting.
		s, _ := e.(*amzOrderEntity)
		if s == nil {
			s = &amzOrderEntity{order: orderKey(x.MarketplaceID, x.OrderID)}
		}
		n := *s
		if !n.header.accept(x.Meta) {
			return e, false, nil
		}
		n.dated = !x.deleted() && !x.PurchaseDate.IsZero()
		n.day = 0
		if n.dated {
			n.day = DayOf(x.PurchaseDate, f.zone)
		}
		return &n, true, nil
	case AmazonOrderItem:
		s, _ := e.(*amzOrderEntity)
		if s == nil {
			s = &amzOrderEntity{order: orderKey(x.MarketplaceID, x.OrderID)}
		}
		n := *s
		n.items = slices.Clone(n.items)
		i, found := slices.BinarySearchFunc(n.items, x.ItemID, func(it amzItem, id string) int { return strings.Compare(it.id, id) })
		if !found {
			n.items = slices.Insert(n.items, i, amzItem{id: x.ItemID})
		}
		it := &n.items[i]
		if !it.acc.accept(x.Meta) {
			return e, false, nil
		}
		it.live = !x.deleted()
		it.ref, it.canceled = amazonRef(x.MarketplaceID, x.ASIN), x.OrderStatus == amazonCanceled
		it.dated = !x.PurchaseDate.IsZero()
		if it.dated {
			it.day = DayOf(x.PurchaseDate, f.zone)
		}
		return &n, true, nil
	}
	return e, false, fmt.Errorf("join: %T has no entity of its own", x)
}

// load reads an entity and what it sent from the store; a nil entity
// when there is none.
func (f *Facts) load(id string) (entity, sent, error) {
	b, ok, err := f.st.Get([]byte("e/" + id))
	if err != nil || !ok {
		return nil, sent{}, err
	}
	e, rest, err := decodeEntity(b)
	if err == nil {
		r := newUnwire(rest)
		s := r.sent()
		if err = r.Err; err == nil && len(r.B) > 0 {
			err = fmt.Errorf("%d bytes after an entity", len(r.B))
		}
		if err == nil {
			return e, s, nil
		}
	}
	return nil, nil, fmt.Errorf("join: entity %s: %w", id, err)
}

func (f *Facts) save(id string, e entity, s sent) error {
	b := appendEntity(f.buf[:0], e)
	w := writer{b: b}
	w.sent(s)
	f.buf = w.b
	return f.st.Set([]byte("e/"+id), f.buf)
}

func appendEntity(b []byte, e entity) []byte {
	w := writer{b: append(b, wireVersion, e.kind())}
	e.fields(encoder{&w})
	return w.b
}

// decodeEntity reads an entity and returns the bytes after it.
func decodeEntity(b []byte) (entity, []byte, error) {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return nil, nil, fmt.Errorf("entity of layout %d, want %d", v, wireVersion)
	}
	kind := r.Byte()
	if r.Err != nil {
		return nil, nil, r.Err
	}
	if int(kind) >= len(entityKinds) || entityKinds[kind] == nil {
		return nil, nil, fmt.Errorf("unknown entity kind %d", kind)
	}
	e := entityKinds[kind]()
	e.fields(decoder{&r})
	return e, r.B, r.Err
}

// reportDay converts a source day to the reporting zone.
func reportDay(d ZonedDay, zone *time.Location) (Day, error) {
	z, err := loadZone(d.Zone)
	if err != nil {
		return 0, err
	}
	return convertDay(d.Day, z, zone), nil
}

// periodDays returns the reporting days a Brand Analytics period covers
// and the period with its bounds converted to reporting days.
func periodDays(p Period, zone *time.Location) ([]Day, Period, error) {
	z, err := loadZone(p.Zone)
	if err != nil {
		return nil, Period{}, err
	}
	if p.End < p.Start || p.End-p.Start > 366 {
		return nil, Period{}, fmt.Errorf("join: %s period %s..%s is not a period", p.Kind, p.Start, p.End)
	}
	var days []Day
	for d := p.Start; d <= p.End; d++ {
		days = append(days, convertDay(d, z, zone))
	}
	conv := Period{Kind: p.Kind, Start: days[0], End: days[len(days)-1], Zone: zone.String()}
	return days, conv, nil
}

func compareRefs(a, b identity.Ref) int {
	return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Account, b.Account), cmp.Compare(a.ID, b.ID))
}

// Amazon order status that does not count as an order.
const amazonCanceled = "Canceled"

// TikTok order status that does not count as an order.
const tiktokCancelled = "CANCELLED"

func amazonRef(mkt, asin string) identity.Ref {
	return identity.Ref{Channel: identity.ChannelAmazon, Account: mkt, ID: asin}
}

func tiktokRef(shop, sku string) identity.Ref {
	return identity.Ref{Channel: identity.ChannelTikTok, Account: shop, ID: sku}
}

func orderKey(mkt, order string) string { return mkt + ":" + order }
