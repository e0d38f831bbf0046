package simworld

import (
	"fmt"
	"strconv"
)

// Money is an amount in minor units (cents). The world never uses floats for
// money, so totals computed by a pipeline can be compared with ground truth
// exactly.
type Money int64

// String formats m with two decimals, e.g. "12.30".
func (m Money) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// Float returns m in major units, for APIs that publish money as a JSON number
// (Amazon's report documents do).
func (m Money) Float() float64 {
	f, _ := strconv.ParseFloat(m.String(), 64)
	return f
}

// Mul returns m multiplied by n.
func (m Money) Mul(n int) Money { return m * Money(n) }

// Percent returns m×p/100, rounded half up to the cent.
func (m Money) Percent(p int64) Money { return Money((int64(m)*p + 50) / 100) }
