package join

import (
	"cmp"
	"encoding/binary"
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
}

// Links is what the facts need of identity: the product key of a channel
// product and whether identity knows it (a clicked ASIN that is not the
// seller's is not), and the product keys of a TikTok product.
type Links interface {
	Key(ref identity.Ref) (key string, linked bool)
}

// PartialChange is a partial an entity sends to the row (Key, Day): the
// new one, or Retract when the entity no longer reaches the row.
type PartialChange struct {
	Key     string
	Day     Day
	Entity  string
	Partial Partial
	Retract bool
	Trigger Meta
}

// Facts is the join's state of one partition of entities, kept in a
// Store: each entity's facts (the last change accepted per source key),
// the partials it last sent per row, and an index from the channel
// products it depends on to the entity. It turns facts and link changes
// into the partials that changed.
//
// Store layout (keys):
//
//	e/<entity>                   the entity's state
//	e/<entity>\x00<day>          a day of an entity kept per day (sales ranks)
//	s/<entity>\x00<day><key>     the partial sent to row (key, day)
//	x/<ref>\x00<entity>          the entity depends on channel product ref
type Facts struct {
	cfg   Config
	zone  *time.Location
	st    Store
	links Links
	buf   []byte
}

// NewFacts returns the facts of one partition over st.
func NewFacts(cfg Config, st Store, links Links) *Facts {
	zone := cfg.Zone
	if zone == nil {
		zone = time.UTC
	}
	cfg.Zone = zone
	return &Facts{cfg: cfg, zone: zone, st: st, links: links}
}

// entity is the state of one entity of a kind other than sales ranks.
type entity interface {
	// partials returns the entity's partials of day d (every day when d
	// is allDays), by product key.
	partials(f *Facts, d Day) (map[Day]map[string]*Partial, error)
	// refs returns the channel products the partials depend on.
	refs() []identity.Ref
}

// allDays asks for the partials of every day.
const allDays Day = -1 << 31

// Apply applies a fact to its entity and returns the partials that
// changed. An error from the store stops the stage; a fact the rules
// cannot use (a zone that does not exist) is an error the caller
// dead-letters: the state is then unchanged.
func (f *Facts) Apply(x Fact) ([]PartialChange, error) {
	id := EntityOf(x)
	if x, ok := x.(BestSellersRank); ok {
		return f.applyRanks(id, x)
	}
	e, sent, err := f.load(id)
	if err != nil {
		return nil, err
	}
	oldRefs := refsOf(e)
	e, changed, err := f.applyTo(e, x)
	if err != nil || !changed {
		return nil, err
	}
	now, err := e.partials(f, allDays)
	if err != nil {
		return nil, err
	}
	cs, sent := f.diff(id, sent, now, x.meta())
	if err := f.save(id, e, sent); err != nil {
		return nil, err
	}
	if err := f.index(id, oldRefs, refsOf(e)); err != nil {
		return nil, err
	}
	return cs, nil
}

func refsOf(e entity) []identity.Ref {
	if e == nil {
		return nil
	}
	return e.refs()
}

// Relink recomputes the entities that depend on channel products whose
// links changed, and returns the partials that changed.
func (f *Facts) Relink(refs []identity.Ref, trigger Meta) ([]PartialChange, error) {
	ids := map[string]bool{}
	for _, ref := range refs {
		prefix := append([]byte("x/"+ref.String()), 0)
		err := f.st.Scan(prefix, func(k, _ []byte) bool {
			ids[string(k[len(prefix):])] = true
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	var out []PartialChange
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if strings.HasPrefix(id, "bsr|") {
			cs, err := f.relinkRanks(id, trigger)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
			continue
		}
		e, sent, err := f.load(id)
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue
		}
		now, err := e.partials(f, allDays)
		if err != nil {
			return nil, err
		}
		cs, sent := f.diff(id, sent, now, trigger)
		if len(cs) == 0 {
			continue
		}
		if err := f.save(id, e, sent); err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// index moves the entity's entries in the channel-product index from the
// old refs to the new ones.
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

// sent is what an entity last sent, per row: the partial's wire form.
type sent map[sentKey][]byte

type sentKey struct {
	day Day
	key string
}

// diff compares the partials now with those sent and returns the changes
// and what is sent after them.
func (f *Facts) diff(id string, old sent, now map[Day]map[string]*Partial, trigger Meta) ([]PartialChange, sent) {
	next := make(sent, len(old))
	var out []PartialChange
	for _, day := range slices.Sorted(maps.Keys(now)) {
		for _, key := range slices.Sorted(maps.Keys(now[day])) {
			p := now[day][key]
			b := AppendPartial(f.buf[:0], p)
			f.buf = b
			sk := sentKey{day, key}
			next[sk] = old[sk]
			if prev, had := old[sk]; had && string(prev) == string(b) {
				continue
			}
			next[sk] = append([]byte(nil), b...)
			out = append(out, PartialChange{Key: key, Day: day, Entity: id, Partial: *p, Trigger: trigger})
		}
	}
	for _, sk := range slices.SortedFunc(maps.Keys(old), func(a, b sentKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.key, b.key))
	}) {
		if _, ok := now[sk.day][sk.key]; !ok {
			out = append(out, PartialChange{Key: sk.key, Day: sk.day, Entity: id, Retract: true, Trigger: trigger})
		}
	}
	return out, next
}

func (w *wire) sent(s sent) {
	w.u(uint64(len(s)))
	for _, sk := range slices.SortedFunc(maps.Keys(s), func(a, b sentKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.key, b.key))
	}) {
		w.i(int64(sk.day))
		w.s(sk.key)
		w.u(uint64(len(s[sk])))
		w.b = append(w.b, s[sk]...)
	}
}

func (r *unwire) sent() sent {
	n := r.count()
	s := make(sent, n)
	for range n {
		sk := sentKey{Day(r.i()), r.s()}
		s[sk] = append([]byte(nil), r.raw(r.u())...)
	}
	return s
}

// key returns the product key of a channel product and whether it is linked.
func (f *Facts) key(ref identity.Ref) (string, bool) { return f.links.Key(ref) }

// partialOf returns the partial of (day, key) in m, creating it.
func partialOf(m map[Day]map[string]*Partial, day Day, key string) *Partial {
	if m[day] == nil {
		m[day] = map[string]*Partial{}
	}
	p := m[day][key]
	if p == nil {
		p = &Partial{has: true}
		m[day][key] = p
	}
	return p
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

func (w *wire) accepted(a accepted) { w.bool(a.seen); w.i(a.version); w.s(a.eventID) }
func (r *unwire) accepted() accepted {
	return accepted{seen: r.bool(), version: r.i(), eventID: r.s()}
}

func (w *wire) ref(r identity.Ref) { w.s(string(r.Channel)); w.s(r.Account); w.s(r.ID) }
func (r *unwire) ref() identity.Ref {
	return identity.Ref{Channel: identity.Channel(r.s()), Account: r.s(), ID: r.s()}
}

// Entity kinds in the store.
const (
	entST byte = iota + 1
	entSQP
	entTerm
	entTikTokOrder
	entAmazonOrder
)

// stEntity is a sales & traffic row.
type stEntity struct {
	acc                        accepted
	live                       bool
	ref                        identity.Ref
	day                        Day
	sessions, pageViews, units int64
	currency                   string
	amount                     amount
}

func (e *stEntity) refs() []identity.Ref {
	if !e.live {
		return nil
	}
	return []identity.Ref{e.ref}
}

func (e *stEntity) partials(f *Facts, _ Day) (map[Day]map[string]*Partial, error) {
	out := map[Day]map[string]*Partial{}
	if e.live {
		k, _ := f.key(e.ref)
		p := partialOf(out, e.day, k)
		p.st, p.sessions, p.pageViews, p.units = true, e.sessions, e.pageViews, e.units
		p.amzMoney.add(e.currency, e.amount)
	}
	return out, nil
}

// sqpEntity is a search query performance row: its figures on every day
// of its period.
type sqpEntity struct {
	acc  accepted
	live bool
	ref  identity.Ref
	days []Day
	c    sqpContrib
}

func (e *sqpEntity) refs() []identity.Ref {
	if !e.live {
		return nil
	}
	return []identity.Ref{e.ref}
}

func (e *sqpEntity) partials(f *Facts, _ Day) (map[Day]map[string]*Partial, error) {
	out := map[Day]map[string]*Partial{}
	if !e.live {
		return out, nil
	}
	k, _ := f.key(e.ref)
	for _, d := range e.days {
		p := partialOf(out, d, k)
		p.sqp = append(p.sqp, e.c)
	}
	return out, nil
}

// termEntity is a search term row: the term on every day of its period
// for each clicked ASIN that is the seller's.
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

func (e *termEntity) partials(f *Facts, _ Day) (map[Day]map[string]*Partial, error) {
	out := map[Day]map[string]*Partial{}
	for _, c := range e.clicked {
		k, linked := f.key(c.ref)
		if !linked {
			// A competitor's ASIN among the top clicked.
			continue
		}
		for _, d := range e.days {
			p := partialOf(out, d, k)
			p.terms = append(p.terms, termContrib{period: e.period, term: c.term})
		}
	}
	return out, nil
}

// ttOrderEntity is a TikTok order: its lines per SKU on the create day.
type ttOrderEntity struct {
	acc   accepted
	order string
	day   Day
	skus  []skuLines // sorted by ref
}

type skuLines struct {
	ref identity.Ref
	c   ttOrderContrib
}

func (e *ttOrderEntity) refs() []identity.Ref {
	out := make([]identity.Ref, 0, len(e.skus))
	for _, s := range e.skus {
		out = append(out, s.ref)
	}
	return out
}

func (e *ttOrderEntity) partials(f *Facts, _ Day) (map[Day]map[string]*Partial, error) {
	out := map[Day]map[string]*Partial{}
	for _, s := range e.skus {
		k, _ := f.key(s.ref)
		p := partialOf(out, e.day, k)
		if !p.tt {
			p.tt = true
			p.ttOrders = []string{e.order}
		}
		p.ttUnits += s.c.units
		p.ttMoney.add(s.c.currency, s.c.amount)
	}
	return out, nil
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

func (e *amzOrderEntity) partials(f *Facts, _ Day) (map[Day]map[string]*Partial, error) {
	out := map[Day]map[string]*Partial{}
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
		p := partialOf(out, day, k)
		if len(p.amzOrders) == 0 {
			p.amzOrders = []string{e.order}
		}
	}
	return out, nil
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
				c := ttOrderContrib{orderID: n.order, units: 1, currency: cur, amount: amountOf(l.SalePrice)}
				ref := tiktokRef(x.ShopID, l.SKUID)
				if i := slices.IndexFunc(n.skus, func(s skuLines) bool { return s.ref == ref }); i >= 0 {
					n.skus[i].c = *n.skus[i].c.merge(&c)
				} else {
					n.skus = append(n.skus, skuLines{ref, c})
				}
			}
			slices.SortFunc(n.skus, func(a, b skuLines) int { return compareRefs(a.ref, b.ref) })
		}
		return &n, true, nil
	case AmazonOrder:
		if x.deleted() || x.PurchaseDate.IsZero() {
			return e, false, nil
		}
		s, _ := e.(*amzOrderEntity)
		if s == nil {
			s = &amzOrderEntity{order: orderKey(x.MarketplaceID, x.OrderID)}
		}
		n := *s
		if !n.header.accept(x.Meta) {
			return e, false, nil
		}
		n.dated, n.day = true, DayOf(x.PurchaseDate, f.zone)
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
		r := unwire{b: rest}
		s := r.sent()
		if err = r.err; err == nil && len(r.b) > 0 {
			err = fmt.Errorf("%d bytes after an entity", len(r.b))
		}
		if err == nil {
			return e, s, nil
		}
	}
	return nil, nil, fmt.Errorf("join: entity %s: %w", id, err)
}

func (f *Facts) save(id string, e entity, s sent) error {
	b := appendEntity(f.buf[:0], e)
	w := wire{b: b}
	w.sent(s)
	f.buf = w.b
	return f.st.Set([]byte("e/"+id), f.buf)
}

func appendEntity(b []byte, e entity) []byte {
	w := wire{b: append(b, wireVersion)}
	switch e := e.(type) {
	case *stEntity:
		w.byte1(entST)
		w.accepted(e.acc)
		w.bool(e.live)
		w.ref(e.ref)
		w.i(int64(e.day))
		w.i(e.sessions)
		w.i(e.pageViews)
		w.i(e.units)
		w.s(e.currency)
		w.amount(e.amount)
	case *sqpEntity:
		w.byte1(entSQP)
		w.accepted(e.acc)
		w.bool(e.live)
		w.ref(e.ref)
		w.days(e.days)
		w.period(e.c.period)
		w.i(e.c.impressions)
		w.i(e.c.clicks)
		w.i(e.c.purchases)
	case *termEntity:
		w.byte1(entTerm)
		w.accepted(e.acc)
		w.bool(e.live)
		w.days(e.days)
		w.period(e.period)
		w.u(uint64(len(e.clicked)))
		for _, c := range e.clicked {
			w.ref(c.ref)
			w.termRank(c.term)
		}
	case *ttOrderEntity:
		w.byte1(entTikTokOrder)
		w.accepted(e.acc)
		w.s(e.order)
		w.i(int64(e.day))
		w.u(uint64(len(e.skus)))
		for _, s := range e.skus {
			w.ref(s.ref)
			w.i(s.c.units)
			w.s(s.c.currency)
			w.amount(s.c.amount)
		}
	case *amzOrderEntity:
		w.byte1(entAmazonOrder)
		w.s(e.order)
		w.accepted(e.header)
		w.bool(e.dated)
		w.i(int64(e.day))
		w.u(uint64(len(e.items)))
		for _, it := range e.items {
			w.s(it.id)
			w.accepted(it.acc)
			w.bool(it.live)
			w.ref(it.ref)
			w.bool(it.canceled)
			w.bool(it.dated)
			w.i(int64(it.day))
		}
	default:
		panic(fmt.Sprintf("join: appendEntity(%T)", e))
	}
	return w.b
}

// decodeEntity reads an entity and returns the bytes after it.
func decodeEntity(b []byte) (entity, []byte, error) {
	r := unwire{b: b}
	if v := r.byte1(); v != wireVersion && r.err == nil {
		return nil, nil, fmt.Errorf("entity of layout %d, want %d", v, wireVersion)
	}
	var e entity
	switch kind := r.byte1(); kind {
	case entST:
		e = &stEntity{acc: r.accepted(), live: r.bool(), ref: r.ref(), day: Day(r.i()), sessions: r.i(), pageViews: r.i(),
			units: r.i(), currency: r.s(), amount: r.amount()}
	case entSQP:
		s := &sqpEntity{acc: r.accepted(), live: r.bool(), ref: r.ref(), days: r.days()}
		s.c = sqpContrib{period: r.period(), impressions: r.i(), clicks: r.i(), purchases: r.i()}
		e = s
	case entTerm:
		s := &termEntity{acc: r.accepted(), live: r.bool(), days: r.days(), period: r.period()}
		for range r.count() {
			c := clickedRef{ref: r.ref()}
			c.term = r.termRank()
			s.clicked = append(s.clicked, c)
		}
		e = s
	case entTikTokOrder:
		s := &ttOrderEntity{acc: r.accepted(), order: r.s(), day: Day(r.i())}
		for range r.count() {
			l := skuLines{ref: r.ref()}
			l.c = ttOrderContrib{orderID: s.order, units: r.i(), currency: r.s(), amount: r.amount()}
			s.skus = append(s.skus, l)
		}
		e = s
	case entAmazonOrder:
		s := &amzOrderEntity{order: r.s(), header: r.accepted(), dated: r.bool(), day: Day(r.i())}
		for range r.count() {
			s.items = append(s.items, amzItem{id: r.s(), acc: r.accepted(), live: r.bool(), ref: r.ref(), canceled: r.bool(),
				dated: r.bool(), day: Day(r.i())})
		}
		e = s
	default:
		if r.err == nil {
			return nil, nil, fmt.Errorf("unknown entity kind %d", kind)
		}
	}
	return e, r.b, r.err
}

func (w *wire) days(ds []Day) {
	w.u(uint64(len(ds)))
	for _, d := range ds {
		w.i(int64(d))
	}
}

func (r *unwire) days() []Day {
	n := r.count()
	out := make([]Day, 0, n)
	for range n {
		out = append(out, Day(r.i()))
	}
	return out
}

// Sales ranks: an ASIN's snapshots are kept per day of observation
// (e/<entity>\x00<day>: the ASIN, version -> best rank, and the partial
// the day sent), the versions seen under e/<entity>\x01<version> (a
// version counts once, whatever its day), and the version of its last
// delete in e/<entity>, so a new snapshot reads and writes one day.

// rankDay is one day of an ASIN's rank snapshots.
type rankDay struct {
	ref  identity.Ref
	obs  map[int64]int64 // version -> best rank
	sent sent
}

func (f *Facts) dayKey(id string, d Day) []byte {
	return binary.BigEndian.AppendUint32(append([]byte("e/"+id), 0), uint32(d))
}

func (f *Facts) loadRankDay(k []byte) (rankDay, error) {
	rd := rankDay{obs: map[int64]int64{}, sent: sent{}}
	b, ok, err := f.st.Get(k)
	if err != nil || !ok {
		return rd, err
	}
	return decodeRankDay(b)
}

func decodeRankDay(b []byte) (rankDay, error) {
	r := unwire{b: b}
	r.byte1()
	rd := rankDay{ref: r.ref(), obs: map[int64]int64{}}
	for range r.count() {
		v := r.i()
		rd.obs[v] = r.i()
	}
	rd.sent = r.sent()
	if r.err == nil && len(r.b) > 0 {
		return rd, fmt.Errorf("join: %d bytes after a rank day", len(r.b))
	}
	return rd, r.err
}

func (f *Facts) saveRankDay(k []byte, rd rankDay) error {
	w := wire{b: append(f.buf[:0], wireVersion)}
	w.ref(rd.ref)
	w.u(uint64(len(rd.obs)))
	for _, v := range slices.Sorted(maps.Keys(rd.obs)) {
		w.i(v)
		w.i(rd.obs[v])
	}
	w.sent(rd.sent)
	f.buf = w.b
	return f.st.Set(k, w.b)
}

// rankPartials returns a day's partial under the ASIN's current key.
func (f *Facts) rankPartials(d Day, rd rankDay) map[Day]map[string]*Partial {
	now := map[Day]map[string]*Partial{}
	if len(rd.obs) == 0 {
		return now
	}
	key, _ := f.key(rd.ref)
	p := partialOf(now, d, key)
	for _, rank := range rd.obs {
		if p.rankN == 0 || rank < p.rankBest {
			p.rankBest = rank
		}
		p.rankSum += float64(rank)
		p.rankN++
	}
	return now
}

// rankDays returns the keys of every day of an ASIN (a scan: only for a
// delete or a link change).
func (f *Facts) rankDays(id string) ([][]byte, error) {
	var keys [][]byte
	err := f.st.Scan(append([]byte("e/"+id), 0), func(k, _ []byte) bool {
		keys = append(keys, append([]byte(nil), k...))
		return true
	})
	return keys, err
}

func (f *Facts) applyRanks(id string, s BestSellersRank) ([]PartialChange, error) {
	tombKey := []byte("e/" + id)
	var tomb int64
	if b, ok, err := f.st.Get(tombKey); err != nil {
		return nil, err
	} else if ok {
		r := unwire{b: b}
		r.byte1()
		tomb = r.i()
		if r.err != nil {
			return nil, fmt.Errorf("join: entity %s: %w", id, r.err)
		}
	}
	ref := amazonRef(s.MarketplaceID, s.ASIN)
	if s.deleted() {
		if s.Version <= tomb {
			return nil, nil
		}
		w := wire{b: []byte{wireVersion}}
		w.i(s.Version)
		if err := f.st.Set(tombKey, w.b); err != nil {
			return nil, err
		}
		days, err := f.rankDays(id)
		if err != nil {
			return nil, err
		}
		var out []PartialChange
		for _, k := range days {
			rd, err := f.loadRankDay(k)
			if err != nil {
				return nil, err
			}
			cs, _ := f.diff(id, rd.sent, nil, s.Meta)
			out = append(out, cs...)
			if err := f.st.Delete(k); err != nil {
				return nil, err
			}
		}
		var versions [][]byte
		err = f.st.Scan(append([]byte("e/"+id), 1), func(k, _ []byte) bool {
			versions = append(versions, append([]byte(nil), k...))
			return true
		})
		if err != nil {
			return nil, err
		}
		for _, k := range versions {
			if err := f.st.Delete(k); err != nil {
				return nil, err
			}
		}
		return out, f.index(id, []identity.Ref{ref}, nil)
	}
	if s.Version <= tomb || len(s.DisplayGroupRanks) == 0 {
		return nil, nil
	}
	vk := binary.BigEndian.AppendUint64(append([]byte("e/"+id), 1), uint64(s.Version))
	if _, dup, err := f.st.Get(vk); err != nil || dup {
		return nil, err
	}
	if err := f.st.Set(vk, nil); err != nil {
		return nil, err
	}
	day := DayOf(s.SourceTS, f.zone)
	dk := f.dayKey(id, day)
	rd, err := f.loadRankDay(dk)
	if err != nil {
		return nil, err
	}
	newDay := len(rd.obs) == 0
	rd.ref = ref
	rd.obs[s.Version] = slices.Min(s.DisplayGroupRanks)
	var cs []PartialChange
	cs, rd.sent = f.diff(id, rd.sent, f.rankPartials(day, rd), s.Meta)
	if err := f.saveRankDay(dk, rd); err != nil {
		return nil, err
	}
	if newDay {
		// The index entry, once per day rather than per snapshot.
		if err := f.index(id, nil, []identity.Ref{ref}); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// relinkRanks re-sends every day of an ASIN under its current key.
func (f *Facts) relinkRanks(id string, trigger Meta) ([]PartialChange, error) {
	days, err := f.rankDays(id)
	if err != nil {
		return nil, err
	}
	base := len("e/") + len(id) + 1
	var out []PartialChange
	for _, k := range days {
		rd, err := f.loadRankDay(k)
		if err != nil {
			return nil, err
		}
		day := Day(int32(binary.BigEndian.Uint32(k[base : base+4])))
		var cs []PartialChange
		cs, rd.sent = f.diff(id, rd.sent, f.rankPartials(day, rd), trigger)
		if len(cs) == 0 {
			continue
		}
		if err := f.saveRankDay(k, rd); err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
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
