package join

import (
	"math/big"
	"testing"
)

// TestMoneyMatchesRatSums: the int64 fast paths of money and amount add
// up to what plain big.Rat sums give, also for amounts they cannot hold
// (finer than 0.0001, or near overflow), and money gives up on a second
// currency.
func TestMoneyMatchesRatSums(t *testing.T) {
	r := func(a, b int64) *big.Rat { return big.NewRat(a, b) }
	huge, _ := new(big.Rat).SetString("4611686018427387.9999") // just under maxUnits units
	for name, amts := range map[string][]*big.Rat{
		"cents":               {r(1999, 100), r(1, 100), r(-5, 1), r(3, 4), r(12345, 10000)},
		"integers":            {r(7, 1), r(0, 1), r(1_000_000, 1)},
		"finer than 1e-4":     {r(1999, 100), r(1, 3), r(1, 100000)},
		"near overflow":       {huge, huge, r(1, 10000)},
		"overflow then cents": {huge, huge, r(1999, 100), r(-1, 100)},
	} {
		var m money
		want := new(big.Rat)
		plus := amountOf(amts[0])
		for i, a := range amts {
			m.add("USD", amountOf(a))
			want.Add(want, a)
			if i > 0 {
				plus = plus.plus(amountOf(a))
			}
		}
		if got := m.sum(); got == nil || got.Cmp(want) != 0 || m.currency != "USD" {
			t.Errorf("%s: sum %v %s, want %v USD", name, got, m.currency, want)
		}
		if got := plus.rat(); got.Cmp(want) != 0 {
			t.Errorf("%s: amount sum %v, want %v", name, got, want)
		}
	}
	var m money
	if m.sum() != nil {
		t.Error("empty money has a sum")
	}
	one := amountOf(r(1, 1))
	m.add("USD", one)
	m.add("EUR", one)
	m.add("USD", one)
	if m.sum() != nil || m.currency != "" || !m.mixed {
		t.Errorf("mixed currencies summed: %v %q", m.sum(), m.currency)
	}
}
