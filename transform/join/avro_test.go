package join

import (
	"bytes"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// TestAppendAvro: the direct encoding of a row decodes, with the embedded
// product_daily schema, to exactly what Record() encodes to, for every
// row random histories emit (deleted ones, several currencies, search
// terms) and for amounts at the edges of the decimal.
func TestAppendAvro(t *testing.T) {
	codec, err := schemas.NewCodec(TopicProductDaily)
	if err != nil {
		t.Fatal(err)
	}
	check := func(r Row) {
		t.Helper()
		want, err := codec.Encode(r.Record())
		if err != nil {
			t.Fatal(err)
		}
		got := r.AppendAvro(nil)
		if bytes.Equal(got, want) {
			return
		}
		gv, err := codec.Decode(got)
		if err != nil {
			t.Fatalf("%s: direct encoding does not decode: %v", r.Key(), err)
		}
		wv, _ := codec.Decode(want)
		if !reflect.DeepEqual(fmt.Sprint(gv), fmt.Sprint(wv)) {
			t.Fatalf("%s:\ndirect  %v\nRecord  %v", r.Key(), gv, wv)
		}
	}
	n := 0
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		j := New(Config{Attribution: Attribution(seed % 2)})
		for _, s := range randomFacts(rng) {
			var rows []Row
			if s.links != nil {
				rows = j.ApplyLinks(s.links, m(1, t0))
			} else {
				rows = must(j.Apply(s.fact))
			}
			for _, r := range rows {
				check(r)
				n++
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d rows", n)
	}
	for _, s := range []string{"0", "-0.0001", "0.0001", "12.5", "-12.5", "99999999999999.9999", "-99999999999999.9999",
		"922337203685477.5807", "-922337203685477.5808", "128", "-128", "255", "-129", "1/3"} {
		x, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatal(s)
		}
		check(Row{ProductKey: "k", Day: 20000, Zone: "UTC", Version: 7, AmazonSales: x, AmazonCurrency: "USD",
			Trigger: Meta{SourceTS: time.UnixMilli(-5), IngestTS: time.UnixMilli(1 << 41)}})
	}
}
