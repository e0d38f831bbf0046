package join

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// goldenRowState sets every field of a row state, so that its wire form
// covers every part of the layout.
func goldenRowState() RowState {
	us := func(n, units int64) currencySum {
		return currencySum{currency: "USD", n: n, total: amount{units: units, set: true}}
	}
	s := RowState{
		n: 7, stN: 1, sessions: 40, pageViews: 55, units: 3,
		amzMoney: moneyAgg{mixed: 1, cur: []currencySum{us(1, 199900)}},
		sqp:      []sqpAgg{{period: Period{Kind: "WEEK", Start: 20454, End: 20460, Zone: "UTC"}, n: 1, impressions: 900, clicks: 12, purchases: 2}},
		terms: []termAgg{{period: Period{Kind: "WEEK", Start: 20454, End: 20460, Zone: "UTC"},
			term: TermRank{Term: "serum", Department: "Beauty", FrequencyRank: 4100, ClickShareRank: 2, ClickShare: 0.125, ConversionShare: 0.25}, n: 2}},
		rankN: 2, rankSum: 31, rankBests: []valueCount{{10, 1}, {21, 1}},
		amzOrders: 4, ttN: 1, ttUnits: 6, ttOrders: 5,
		ttMoney:  moneyAgg{cur: []currencySum{us(1, 312500), {currency: "EUR", n: 1, total: amount{units: 50000, set: true}}}},
		watch:    []valueCount{{1, 93000}, {2, 4000}},
		measured: 3, estimated: 1,
		videoMoney: moneyAgg{cur: []currencySum{us(2, 10000)}},
		emitted:    &Emitted{content: []byte("row content"), version: 9, deleted: true},
	}
	for m := range nMetrics {
		s.engN[m] = int64(m + 1)
		s.eng[m] = int64(100 * (m + 1))
	}
	s.eng[mWatch] = 0 // watch time is summed in watch
	return s
}

// goldenRowStateWire is AppendRowState(goldenRowState()): the layout the
// rows step's stores and changelogs hold. It must not change without a
// new wireVersion.
const goldenRowStateWire = "010112010b726f7720636f6e74656e740e02506e060201035553440201b8b31801045745454bccbf02d8bf020355544302880e180401045745454bccbf02d8bf020355544305736572756d06426561757479884004000000000000c03f000000000000d03f04043e0214022a0208020c0a0002035553440201e89226034555520201a08d06ff02c8010406d80408a0060ae8070cb0090ef80a10c00c020290ad0b04c03e06020001035553440401a09c01"

func TestRowStateWireGolden(t *testing.T) {
	s := goldenRowState()
	b := AppendRowState(nil, &s)
	if got := hex.EncodeToString(b); got != goldenRowStateWire {
		t.Fatalf("row state layout changed:\n got %s\nwant %s", got, goldenRowStateWire)
	}
	back, err := DecodeRowState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("row state does not survive its wire form:\n%+v\n->\n%+v", s, back)
	}
}

// rowStateCorpus is the wire form of every row state the partitioned
// topology keeps over random histories.
func rowStateCorpus(tb testing.TB) [][]byte {
	var out [][]byte
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		p := newPartitioned(tb, Config{Attribution: Attribution(seed % 2)}, 2)
		for _, s := range randomFacts(rng) {
			if s.links != nil {
				p.relink(s.links)
				continue
			}
			p.apply(s.fact)
			if rng.IntN(8) == 0 {
				p.commit()
			}
		}
		for p.commit() {
		}
		for _, b := range p.rows {
			out = append(out, b)
		}
	}
	return out
}

// TestRowStateWire: every row state the topology keeps survives its wire
// form byte for byte, and a truncated one is an error.
func TestRowStateWire(t *testing.T) {
	corpus := rowStateCorpus(t)
	if len(corpus) < 100 {
		t.Fatalf("only %d row states", len(corpus))
	}
	for _, b := range corpus {
		s, err := DecodeRowState(b)
		if err != nil {
			t.Fatal(err)
		}
		if again := AppendRowState(nil, &s); !bytes.Equal(again, b) {
			t.Fatalf("row state does not survive its wire form:\n%x\n%x", b, again)
		}
		for cut := range len(b) {
			if _, err := DecodeRowState(b[:cut]); err == nil {
				t.Fatalf("row state truncated to %d of %d bytes decoded", cut, len(b))
			}
		}
	}
}

// BenchmarkRowStateWire is the rows step's wire work per row and
// transaction: decode the row's state and encode it again.
func BenchmarkRowStateWire(b *testing.B) {
	benchWire(b, rowStateCorpus(b), DecodeRowState, AppendRowState)
}

// wireCorpus is the wire form of the partials (what the facts step sends)
// and of the entities (what it stores, without what follows them) over
// random histories.
func wireCorpus(tb testing.TB) (partials, entities [][]byte) {
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		links := NewMemLinks()
		st := memStore{}
		f := NewFacts(Config{Attribution: Attribution(seed % 2)}, st, links)
		for _, s := range randomFacts(rng) {
			if s.links != nil {
				if err := f.Relink(links.Apply(s.links), m(1, t0)); err != nil {
					tb.Fatal(err)
				}
				continue
			}
			if err := f.Apply(s.fact); err != nil {
				tb.Fatal(err)
			}
			if rng.IntN(5) != 0 {
				continue
			}
			if _, _, err := f.RelinkQueued(0); err != nil {
				tb.Fatal(err)
			}
			cs, err := f.Flush()
			if err != nil {
				tb.Fatal(err)
			}
			for _, c := range cs {
				if c.New != nil {
					partials = append(partials, c.New)
				}
			}
		}
		// Video and rank entities share the key prefix with layouts of
		// their own: what does not read back to itself is one of them.
		for k, v := range st {
			if !strings.HasPrefix(k, "e/") {
				continue
			}
			e, rest, err := decodeEntity(v)
			if err != nil {
				continue
			}
			if b := appendEntity(nil, e); bytes.Equal(b, v[:len(v)-len(rest)]) {
				entities = append(entities, b)
			}
		}
	}
	return partials, entities
}

// BenchmarkPartialWire decodes and encodes a partial: the rows step reads
// two per partial change, the facts step writes them.
func BenchmarkPartialWire(b *testing.B) {
	corpus, _ := wireCorpus(b)
	benchWire(b, corpus, DecodePartial, AppendPartial)
}

// BenchmarkEntityWire decodes and encodes an entity of the facts store.
func BenchmarkEntityWire(b *testing.B) {
	_, corpus := wireCorpus(b)
	decode := func(b []byte) (entity, error) {
		e, _, err := decodeEntity(b)
		return e, err
	}
	benchWire(b, corpus, decode, func(b []byte, e *entity) []byte { return appendEntity(b, *e) })
}

// benchWire decodes and encodes each value of corpus in turn.
func benchWire[T any](b *testing.B, corpus [][]byte, decode func([]byte) (T, error), encode func([]byte, *T) []byte) {
	var x T // escapes through encode: once for the run, not per value
	var buf []byte
	var err error
	b.ResetTimer()
	for i := range b.N {
		if x, err = decode(corpus[i%len(corpus)]); err != nil {
			b.Fatal(err)
		}
		buf = encode(buf[:0], &x)
	}
}
