package simworld

import (
	"math"
	"math/rand/v2"
)

// The world never keeps a running random stream: every entity draws from its
// own generator, keyed by (seed, domain, coordinates). That is what makes any
// slice of the world computable on demand, in any order, with the same result.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashKey folds a domain name and integer coordinates into one 64-bit key.
func hashKey(domain string, coords ...int64) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(domain); i++ {
		h ^= uint64(domain[i])
		h *= fnvPrime
	}
	for _, c := range coords {
		u := uint64(c)
		for i := 0; i < 8; i++ {
			h ^= u & 0xff
			h *= fnvPrime
			u >>= 8
		}
	}
	return splitmix(h)
}

// hashString folds a string into a coordinate for hashKey.
func hashString(s string) int64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return int64(h)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rngFor returns a generator private to (seed, domain, coords).
func rngFor(seed uint64, domain string, coords ...int64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, hashKey(domain, coords...)))
}

// unitFor returns a deterministic float in [0,1) for (seed, domain, coords).
func unitFor(seed uint64, domain string, coords ...int64) float64 {
	return float64(splitmix(seed^hashKey(domain, coords...))>>11) / (1 << 53)
}

// poisson draws a Poisson-distributed count with mean lambda (Knuth's method,
// fine for the small means the world uses; large means fall back to a normal
// approximation).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		n := int(math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64()))
		return max(n, 0)
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// digits returns n random decimal digits.
func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

const base36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// alnum returns n random upper-case alphanumerics.
func alnum(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base36[r.IntN(len(base36))]
	}
	return string(b)
}

// between returns a uniform duration in [lo, hi).
func between(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }
