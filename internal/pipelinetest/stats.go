package pipelinetest

import (
	"fmt"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method, or 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// Summary is "p50 X p95 Y p99 Z max W (n N)" of ds, in milliseconds.
func Summary(ds []time.Duration) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }
	return fmt.Sprintf("p50 %s p95 %s p99 %s max %s (n %d)", ms(Percentile(ds, 50)), ms(Percentile(ds, 95)),
		ms(Percentile(ds, 99)), ms(Percentile(ds, 100)), len(ds))
}
