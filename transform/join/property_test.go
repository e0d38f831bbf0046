package join

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
)

// event is one input change, applied to a Join by apply. stream groups
// events that must stay in order (one Kafka key, one partition).
type event struct {
	stream string
	apply  func(j *Join) []Row
}

// versions returns the version source of a random history: each call gives
// the next version of stream, mostly growing, sometimes a stale one.
func versions(rng *rand.Rand) func(stream string) int64 {
	version := map[string]int64{}
	return func(stream string) int64 {
		if rng.IntN(6) == 0 && version[stream] > 1 {
			return version[stream] - 1
		}
		version[stream]++
		return version[stream]
	}
}

// randomLinks returns one or two random link changes of keys to asins and
// skus, some of them deletes; with moves, some SKUs move to another product.
func randomLinks(rng *rand.Rand, keys, asins, skus []string, moves bool) []identity.Change {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	var cs []identity.Change
	for range 1 + rng.IntN(2) {
		l := identity.Link{ProductKey: pick(keys)}
		if rng.IntN(2) == 0 {
			l.Ref = aref(pick(asins))
		} else {
			l.Ref = tref(pick(skus))
			l.ProductID = productOfSKU(l.Ref.ID)
			if moves && rng.IntN(5) == 0 {
				l.ProductID = "P3" // a SKU that moves to another product
			}
		}
		cs = append(cs, identity.Change{Link: l, Deleted: rng.IntN(6) == 0})
	}
	return cs
}

// randomEvents generates a random history of every input kind, with
// restatements, duplicates, out-of-order versions, deletes and link
// changes.
func randomEvents(rng *rand.Rand) []event {
	var evs []event
	asins := []string{"B1", "B2", "B3"}
	skus := []string{"P1-1", "P1-2", "P2-1"}
	keys := []string{"K1", "K2", "K3"}
	days := []string{"2026-01-05", "2026-01-06", "2026-01-07"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	next := versions(rng)
	snapshots := map[string]int64{}
	for range 120 {
		switch rng.IntN(8) {
		case 0:
			a, d := pick(asins), pick(days)
			s := "st" + a + d
			v := next(s)
			rec := st(a, d, v, int64(rng.IntN(50)), int64(rng.IntN(5)), fmt.Sprintf("%d.%02d", rng.IntN(100), rng.IntN(100)))
			if rng.IntN(8) == 0 {
				rec.Meta.Op = "delete"
			}
			evs = append(evs, event{s, func(j *Join) []Row { return must(j.ApplySalesTraffic(rec)) }})
			if rng.IntN(4) == 0 { // duplicate delivery
				evs = append(evs, event{s, func(j *Join) []Row { return must(j.ApplySalesTraffic(rec)) }})
			}
		case 1:
			sku, d := pick(skus), pick(days)
			s := "tto" + sku + d
			v := next(s)
			status := "COMPLETED"
			if rng.IntN(5) == 0 {
				status = "CANCELLED"
			}
			o := TikTokOrder{Meta: m(v, t0), ShopID: shop, OrderID: s, Status: status,
				CreateTime: day(d).Time().Add(time.Duration(rng.IntN(24)) * time.Hour),
				Lines:      []TikTokLine{{SKUID: sku, Currency: "USD", SalePrice: rat(fmt.Sprint(rng.IntN(30)))}}}
			evs = append(evs, event{s, func(j *Join) []Row { return j.ApplyTikTokOrder(o) }})
		case 2:
			vid, d := fmt.Sprintf("V%d", rng.IntN(3)), pick(days)
			s := "vp" + vid + d
			v := next(s)
			var ps []VideoProduct
			for _, p := range []string{"P1", "P2"} {
				if rng.IntN(2) == 0 {
					ps = append(ps, VideoProduct{ProductID: p, GMV: rat(fmt.Sprintf("%d.0003", rng.IntN(20)))})
				}
			}
			rec := vperfRec(vid, d, v, ps...)
			// Measured figures sometimes, a post time now and then.
			if rng.IntN(3) > 0 {
				rec.Views = i64(int64(rng.IntN(500)))
			}
			if rng.IntN(3) == 0 {
				rec.Likes, rec.ProductClicks = i64(int64(rng.IntN(50))), i64(int64(rng.IntN(9)))
			}
			if rng.IntN(4) == 0 {
				rec.PostTime = day(pick(days)).Time().Add(-time.Duration(rng.IntN(72)) * time.Hour)
			}
			evs = append(evs, event{s, func(j *Join) []Row { return must(j.ApplyVideoPerformance(rec)) }})
		case 3:
			vid := fmt.Sprintf("V%d", rng.IntN(3))
			s := "ve" + vid
			snapshots[s]++ // engagement snapshots come in order
			v := snapshots[s]
			views := int64(v*100 - int64(rng.IntN(150)))
			var watch *float64
			if rng.IntN(3) > 0 {
				watch = f64(float64(v * 7))
			}
			rec := ve(vid, v, fmt.Sprintf("2026-01-%02dT%02d:00:00Z", 5+v/4, v%4*5), &views, watch)
			rec.Saves = i64(v * 3)
			if rng.IntN(2) == 0 {
				// Posted up to four days before the first days.
				rec.CreateTime = day(days[0]).Time().Add(-time.Duration(rng.IntN(96)) * time.Hour)
			}
			evs = append(evs, event{s, func(j *Join) []Row { return j.ApplyVideoEngagement(rec) }})
		case 4:
			a := pick(asins)
			s := "bsr" + a
			v := next(s)
			rec := bsr(a, v, fmt.Sprintf("%sT%02d:00:00Z", pick(days), rng.IntN(24)), int64(1+rng.IntN(500)))
			evs = append(evs, event{s, func(j *Join) []Row { return j.ApplyBestSellersRank(rec) }})
		case 5:
			a := pick(asins)
			s := "sqp" + a
			v := next(s)
			rec := sqpRec(a, "q", "WEEK", "2026-01-04", "2026-01-10", v, int64(rng.IntN(1000)))
			evs = append(evs, event{s, func(j *Join) []Row { return must(j.ApplySearchQuery(rec)) }})
		case 6:
			a, d := pick(asins), pick(days)
			s := "aoi" + a + d
			v := next(s)
			it := AmazonOrderItem{Meta: m(v, t0), MarketplaceID: mkt, OrderID: s, ItemID: "1", ASIN: a,
				PurchaseDate: day(d).Time().Add(3 * time.Hour), OrderStatus: "Shipped"}
			evs = append(evs, event{s, func(j *Join) []Row { return j.ApplyAmazonOrderItem(it) }})
		case 7:
			// Link changes come from one resolver, in its order.
			cs := randomLinks(rng, keys, asins, skus, false)
			evs = append(evs, event{"links", func(j *Join) []Row { return j.ApplyLinks(cs, m(1, t0)) }})
		}
	}
	return evs
}

// shuffleKeepingStreams returns evs interleaved differently, keeping the
// order of events within a stream (as Kafka keeps it within a partition).
func shuffleKeepingStreams(rng *rand.Rand, evs []event) []event {
	var streams []string
	by := map[string][]event{}
	for _, e := range evs {
		if _, ok := by[e.stream]; !ok {
			streams = append(streams, e.stream)
		}
		by[e.stream] = append(by[e.stream], e)
	}
	var out []event
	for len(out) < len(evs) {
		s := streams[rng.IntN(len(streams))]
		if len(by[s]) > 0 {
			out = append(out, by[s][0])
			by[s] = by[s][1:]
		}
	}
	return out
}

func content(rows []Row) []string {
	var out []string
	for _, r := range rows {
		r.Version, r.Trigger, r.First = 0, Meta{}, false
		rec := r.Record()
		delete(rec, "event_id")
		out = append(out, fmt.Sprint(rec))
	}
	return out
}

// TestInterleavingDoesNotMatter proves the rebuild claim: replaying the
// inputs in any interleaving that keeps each key's order gives the same
// rows, whatever mix of restatements, duplicates, stale versions, deletes
// and re-keying the history holds. It also checks that the rows emitted
// along the way, taken last-version-wins per key, equal the final state,
// which is what a ReplacingMergeTree table ends up holding.
func TestInterleavingDoesNotMatter(t *testing.T) {
	for seed := uint64(0); seed < 150; seed++ {
		for _, attr := range []Attribution{FullCredit, EvenSplit} {
			rng := rand.New(rand.NewPCG(seed, 7))
			evs := randomEvents(rng)
			a := New(Config{Attribution: attr})
			table := map[string]Row{}
			for _, e := range evs {
				e.apply(a)
			}
			b := New(Config{Attribution: attr})
			for _, e := range shuffleKeepingStreams(rng, evs) {
				e.apply(b)
			}
			if ca, cb := content(a.Rows()), content(b.Rows()); !slices.Equal(ca, cb) {
				t.Fatalf("seed %d attr %d: interleavings differ:\n%s", seed, attr, diff(ca, cb))
			}
			// Replay a third time capturing the output stream.
			c := New(Config{Attribution: attr})
			capture := func(rows []Row) {
				for _, r := range rows {
					if prev, ok := table[r.Key()]; ok && prev.Version >= r.Version {
						t.Fatalf("seed %d: version did not grow for %s: %d then %d", seed, r.Key(), prev.Version, r.Version)
					}
					table[r.Key()] = r
				}
			}
			for _, e := range evs {
				capture(e.apply(c))
			}
			var final []Row
			for _, r := range table {
				if !r.Deleted {
					final = append(final, r)
				}
			}
			slices.SortFunc(final, func(x, y Row) int {
				return cmp.Or(strings.Compare(x.ProductKey, y.ProductKey), cmp.Compare(x.Day, y.Day))
			})
			if cf, cc := content(final), content(c.Rows()); !slices.Equal(cf, cc) {
				t.Fatalf("seed %d attr %d: emitted stream does not add up to the state:\n%s", seed, attr, diff(cf, cc))
			}
		}
	}
}

// TestRecordEncodes encodes every row of random histories, deleted ones
// included, with the xchannel.product_daily schema and reads it back.
func TestRecordEncodes(t *testing.T) {
	codec, err := schemas.NewCodec(TopicProductDaily)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		j := New(Config{})
		link(j, "K1", aref("B1"))
		must(j.ApplySearchTerm(SearchTerm{Meta: m(1, t0), Key: "t", MarketplaceID: mkt,
			Period:     Period{Kind: "WEEK", Start: day("2026-01-04"), End: day("2026-01-10"), Zone: la},
			Department: "Beauty", Term: "serum", FrequencyRank: 3, Clicked: []ClickedASIN{{"B1", 1, 0.5, 0.25}}}))
		for _, e := range randomEvents(rng) {
			for _, r := range e.apply(j) {
				_, back := schematest.RoundTrip(t, codec, r.Record())
				if back["product_key"] != r.ProductKey || back["version"] != r.Version {
					t.Fatalf("read back %v", back)
				}
				n++
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d rows encoded", n)
	}
}

func diff(a, b []string) string {
	var out []string
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
	}
	return strings.Join(out, "\n")
}
