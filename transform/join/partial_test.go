package join

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/transform/identity"
)

// partitioned is the transform's topology in miniature: facts in
// partitions by entity, each with its own store, flushed in batches (a
// transaction each), partials to the rows by row, and each row emitted
// once per batch, as the rows step does.
type partitioned struct {
	links *MemLinks
	facts []*Facts
	rows  map[RowKey][]byte // the rows step's RowState, in its wire form
	out   map[string]Row    // last row emitted per Kafka key
	// budget is the most entities a partition relinks per batch (0: no
	// bound); spread counts the batches a relink was left unfinished.
	budget, spread int
	t              testing.TB
}

func newPartitioned(t testing.TB, cfg Config, n int) *partitioned {
	p := &partitioned{links: NewMemLinks(), rows: map[RowKey][]byte{}, out: map[string]Row{}, t: t}
	for range n {
		p.facts = append(p.facts, NewFacts(cfg, memStore{}, p.links))
	}
	return p
}

func (p *partitioned) apply(f Fact) {
	h := fnv.New32a()
	h.Write([]byte(EntityOf(f)))
	if err := p.facts[h.Sum32()%uint32(len(p.facts))].Apply(f); err != nil {
		p.t.Fatal(err)
	}
}

// relink applies link changes between two batches, as the stage applies
// the links table between transactions.
func (p *partitioned) relink(cs []identity.Change) {
	p.commit()
	refs := p.links.Apply(cs)
	for _, f := range p.facts {
		if err := f.Relink(refs, m(1, t0)); err != nil {
			p.t.Fatal(err)
		}
	}
}

// commit relinks the queued entities, within the budget, flushes every
// partition and delivers the partial changes to the rows step, which
// emits each changed row once. It reports whether relinks are left.
func (p *partitioned) commit() (more bool) {
	triggers := map[RowKey]Meta{}
	for _, f := range p.facts {
		before := f.Pending()
		n, left, err := f.RelinkQueued(p.budget)
		if err != nil {
			p.t.Fatal(err)
		}
		if p.budget > 0 && (n > p.budget || f.Pending()-before > p.budget) {
			p.t.Fatalf("relinked %d entities (%d more pending) in a batch, budget %d", n, f.Pending()-before, p.budget)
		}
		if left {
			p.spread++
		}
		more = more || left
		cs, err := f.Flush()
		if err != nil {
			p.t.Fatal(err)
		}
		for _, c := range cs {
			rk := RowKey{c.Key, c.Day}
			// What travels between the steps, and what the rows step
			// keeps, is the wire form.
			c, err := DecodePartialChange(AppendPartialChange(nil, &c))
			if err != nil {
				p.t.Fatal(err)
			}
			rs, err := DecodeRowState(p.rows[rk])
			if err != nil && p.rows[rk] != nil {
				p.t.Fatal(err)
			}
			if err := rs.Apply(&c); err != nil {
				p.t.Fatal(err)
			}
			p.rows[rk] = AppendRowState(nil, &rs)
			triggers[rk] = c.Trigger
		}
	}
	for rk, trig := range triggers {
		rs, err := DecodeRowState(p.rows[rk])
		if err != nil {
			p.t.Fatal(err)
		}
		row, ok := rs.Next(rk.ProductKey, rk.Day, "UTC", 0, trig)
		p.rows[rk] = AppendRowState(nil, &rs)
		if !ok {
			continue
		}
		if old, ok := p.out[row.Key()]; ok && old.Version >= row.Version {
			p.t.Fatalf("%s: version %d after %d", row.Key(), row.Version, old.Version)
		}
		p.out[row.Key()] = row
	}
	return more
}

func (p *partitioned) current() []Row {
	var rows []Row
	for _, r := range p.out {
		if !r.Deleted {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(x, y Row) int {
		return cmp.Or(strings.Compare(x.ProductKey, y.ProductKey), cmp.Compare(x.Day, y.Day))
	})
	return rows
}

// step is one input: a fact or a link change.
type step struct {
	fact  Fact
	links []identity.Change
}

// randomFacts generates a history of every fact kind, with
// restatements, duplicates, stale versions, deletes, orders waiting for
// their header (whose date is restated), search terms that list a clicked
// ASIN twice, videos whose first snapshots are spread over days that
// shop analytics measure later, several currencies and link changes
// (SKUs that move between products included).
func randomFacts(rng *rand.Rand) []step {
	var steps []step
	asins := []string{"B1", "B2", "B3", "B4"}
	skus := []string{"P1-1", "P1-2", "P2-1"}
	keys := []string{"K1", "K2", "K3"}
	days := []string{"2026-01-05", "2026-01-06", "2026-01-07"}
	curs := []string{"USD", "USD", "USD", "EUR"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	next := versions(rng)
	meta := func(s string, v int64, ts time.Time) Meta {
		mm := m(v, ts)
		mm.EventID = fmt.Sprintf("%s/%d", s, v)
		if rng.IntN(10) == 0 {
			mm.Op = "delete"
		}
		return mm
	}
	add := func(f Fact) {
		steps = append(steps, step{fact: f})
		if rng.IntN(6) == 0 {
			steps = append(steps, step{fact: f}) // delivered twice
		}
	}
	videos := []string{"V1", "V2", "V3"}
	optI := func(n int) *int64 {
		if rng.IntN(4) == 0 {
			return nil
		}
		return i64(int64(rng.IntN(n)) - 3)
	}
	for range 200 {
		switch rng.IntN(12) {
		case 0:
			a, d := pick(asins), pick(days)
			s := "st" + a + d
			rec := st(a, d, next(s), int64(rng.IntN(50)), int64(rng.IntN(5)), fmt.Sprintf("%d.%02d", rng.IntN(100), rng.IntN(100)))
			rec.Meta = meta(s, rec.Version, rec.SourceTS)
			rec.Currency = pick(curs)
			add(rec)
		case 1:
			sku, d := pick(skus), pick(days)
			s := "tto" + d + fmt.Sprint(rng.IntN(3))
			status := "COMPLETED"
			if rng.IntN(5) == 0 {
				status = "CANCELLED"
			}
			o := TikTokOrder{Meta: meta(s, next(s), t0), ShopID: shop, OrderID: s, Status: status,
				CreateTime: day(d).Time().Add(time.Duration(rng.IntN(24)) * time.Hour), Currency: "USD"}
			for range 1 + rng.IntN(3) {
				l := TikTokLine{SKUID: sku, Currency: pick(curs), SalePrice: rat(fmt.Sprint(rng.IntN(30)))}
				if rng.IntN(3) == 0 {
					l.SKUID = pick(skus)
				}
				if rng.IntN(5) == 0 {
					l.SalePrice, l.Currency = nil, ""
				}
				o.Lines = append(o.Lines, l)
			}
			add(o)
		case 2:
			a := pick(asins)
			s := "bsr" + a
			rec := bsr(a, next(s), fmt.Sprintf("%sT%02d:00:00Z", pick(days), rng.IntN(24)), int64(1+rng.IntN(500)))
			rec.Meta = meta(s, rec.Version, rec.SourceTS)
			add(rec)
		case 3:
			a := pick(asins)
			kind, start, end := "WEEK", "2026-01-04", "2026-01-10"
			if rng.IntN(3) == 0 {
				kind, start, end = "MONTH", "2026-01-01", "2026-01-31"
			}
			s := "sqp" + a + kind + fmt.Sprint(rng.IntN(2))
			rec := sqpRec(a, s, kind, start, end, next(s), int64(rng.IntN(1000)))
			rec.Meta = meta(s, rec.Version, t0)
			add(rec)
		case 4:
			s := "term" + fmt.Sprint(rng.IntN(4))
			rec := SearchTerm{Meta: meta(s, next(s), t0), Key: s, MarketplaceID: mkt,
				Period:     Period{Kind: "WEEK", Start: day("2026-01-04"), End: day("2026-01-10"), Zone: la},
				Department: "Beauty", Term: s, FrequencyRank: int64(rng.IntN(9))}
			// Brand Analytics lists three clicked ASINs, sometimes one twice.
			clicked := append(slices.Clone(asins), "COMPETITOR")
			rng.Shuffle(len(clicked), func(i, j int) { clicked[i], clicked[j] = clicked[j], clicked[i] })
			for i := range 1 + rng.IntN(3) {
				a := clicked[i]
				if i > 0 && rng.IntN(4) == 0 {
					a = clicked[0]
				}
				rec.Clicked = append(rec.Clicked, ClickedASIN{a, int64(i + 1), rng.Float64(), rng.Float64()})
			}
			add(rec)
		case 5, 6:
			n := rng.IntN(5)
			o := "O" + fmt.Sprint(n)
			d := day(pick(days)).Time().Add(5 * time.Hour)
			if rng.IntN(2) == 0 {
				s := "ao" + o
				h := AmazonOrder{Meta: meta(s, next(s), t0), MarketplaceID: mkt, OrderID: o, PurchaseDate: d}
				add(h)
				continue
			}
			item := fmt.Sprint(rng.IntN(3))
			s := "aoi" + o + item
			it := AmazonOrderItem{Meta: meta(s, next(s), t0), MarketplaceID: mkt, OrderID: o, ItemID: item, ASIN: pick(asins),
				OrderStatus: "Shipped"}
			if rng.IntN(2) == 0 {
				it.PurchaseDate = d
			}
			if rng.IntN(6) == 0 {
				it.OrderStatus = "Canceled"
			}
			add(it)
		case 9:
			v, d := pick(videos), pick(days)
			s := "vp" + v + d
			rec := VideoPerformance{Meta: meta(s, next(s), t0), ShopID: shop, VideoID: v, Date: ZonedDay{day(d), la},
				Currency: pick(curs), Views: optI(5000), Likes: optI(300), Comments: optI(30), Shares: optI(30),
				ProductImpressions: optI(900), ProductClicks: optI(90)}
			if rng.IntN(2) == 0 {
				rec.PostTime = day(days[0]).Time().Add(-time.Duration(rng.IntN(96)) * time.Hour)
			}
			for _, sku := range skus[:rng.IntN(len(skus))] {
				gmv := rat(fmt.Sprintf("%d.%04d", rng.IntN(100), rng.IntN(10000)))
				if rng.IntN(5) == 0 {
					gmv = nil
				}
				rec.Products = append(rec.Products, VideoProduct{ProductID: productOfSKU(sku), GMV: gmv})
			}
			add(rec)
		case 10, 11:
			v := pick(videos)
			s := "ve" + v
			ts := day(pick(days)).Time().Add(time.Duration(rng.IntN(24)) * time.Hour)
			rec := VideoEngagement{Meta: meta(s, next(s), ts), BusinessID: "biz", ItemID: v, Views: optI(90000),
				Likes: optI(900), Comments: optI(90), Shares: optI(90), Saves: optI(90)}
			if rng.IntN(4) != 0 {
				w := float64(rng.IntN(1000000)) / 8
				rec.WatchTimeSeconds = &w
			}
			if rng.IntN(2) == 0 {
				rec.CreateTime = day(days[0]).Time().Add(-time.Duration(rng.IntN(96)) * time.Hour)
			}
			add(rec)
		default:
			steps = append(steps, step{links: randomLinks(rng, keys, asins, skus, true)})
		}
	}
	return steps
}

// TestPartitionedEqualsJoin: the join run as the transform runs it
// (facts in partitions by entity, each with its own store, flushed in
// batches of random size, partials summed per row, rows emitted once per
// batch, links applied between batches, the entities a link change
// relinks spread over batches of at most 1 or 2, or all at once) emits,
// per row, last version wins, exactly the rows of the Join fed the same
// history one record at a time, for one and for several partitions and
// both attributions.
func TestPartitionedEqualsJoin(t *testing.T) {
	spread := 0
	for seed := uint64(0); seed < 80; seed++ {
		for _, parts := range []int{1, 3} {
			cfg := Config{Attribution: Attribution(seed % 2)}
			rng := rand.New(rand.NewPCG(seed, 3))
			steps := randomFacts(rng)
			j := New(cfg)
			p := newPartitioned(t, cfg, parts)
			p.budget = int(seed/2) % 3
			for _, s := range steps {
				if s.links != nil {
					j.ApplyLinks(s.links, m(1, t0))
					p.relink(s.links)
					continue
				}
				if _, err := j.Apply(s.fact); err != nil {
					t.Fatal(err)
				}
				// The fact crosses the repartition topic in its wire form.
				back, err := DecodeFact(AppendFact(nil, s.fact))
				if err != nil {
					t.Fatal(err)
				}
				p.apply(back)
				if rng.IntN(8) == 0 {
					p.commit()
				}
			}
			for p.commit() {
			}
			spread += p.spread
			want, got := content(j.Rows()), content(p.current())
			if !slices.Equal(want, got) {
				t.Fatalf("seed %d, %d partitions: partitioned rows differ from the join's (- join, + partitioned):\n%s",
					seed, parts, diff(want, got))
			}
		}
	}
	if spread == 0 {
		t.Error("no relink was spread over batches")
	}
}

// TestFactWire: every fact kind survives its wire form, and corrupt or
// truncated records are errors, not panics or garbage.
func TestFactWire(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	n := 0
	for _, s := range randomFacts(rng) {
		if s.fact == nil {
			continue
		}
		b := AppendFact(nil, s.fact)
		back, err := DecodeFact(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(AppendFact(nil, back), b) {
			t.Fatalf("%T does not survive its wire form: %+v -> %+v", s.fact, s.fact, back)
		}
		for cut := range len(b) {
			if _, err := DecodeFact(b[:cut]); err == nil {
				t.Fatalf("%T truncated to %d of %d bytes decoded", s.fact, cut, len(b))
			}
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d facts", n)
	}
}
