package join

import (
	"math/big"
	"testing"
)

// TestMoneyMatchesRatSums: the int64 fast path of money adds up to what
// plain big.Rat sums give, also for amounts it cannot hold (finer than
// 0.0001, or near overflow), and gives up on a second currency.
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
		for _, a := range amts {
			m.add("USD", a)
			want.Add(want, a)
		}
		if got := m.sum(); got == nil || got.Cmp(want) != 0 || m.currency != "USD" {
			t.Errorf("%s: sum %v %s, want %v USD", name, got, m.currency, want)
		}
	}
	var m money
	if m.sum() != nil {
		t.Error("empty money has a sum")
	}
	m.add("USD", r(1, 1))
	m.add("EUR", r(1, 1))
	m.add("USD", r(1, 1))
	if m.sum() != nil || m.currency != "" || !m.mixed {
		t.Errorf("mixed currencies summed: %v %q", m.sum(), m.currency)
	}
}
