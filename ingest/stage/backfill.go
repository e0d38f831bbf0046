package stage

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"
)

// BackfillConfig shapes Backfill.
type BackfillConfig struct {
	// Since and Until bound the history pulled; they measure progress.
	Since, Until time.Time
	// Out receives one line per slice.
	Out io.Writer
	// Now is the wall clock for the ETA. Default time.Now.
	Now func() time.Time
}

// Backfill steps st until it has nothing left to do, printing a line per
// committed slice with its records, how far the backfill is (the mean over
// the kinds of work of how far each reaches between Since and Until) and an
// estimate of the time left. Every slice is committed with its cursor, so an
// interrupted backfill resumes at the next slice when run again.
func Backfill(ctx context.Context, st Stepper, cfg BackfillConfig) error {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	start := cfg.Now()
	through := map[string]time.Time{}
	total := cfg.Until.Sub(cfg.Since)
	records := 0
	for slice := 1; ; slice++ {
		p, err := st.Step(ctx)
		if err != nil {
			return fmt.Errorf("backfill slice %d: %w", slice, err)
		}
		if !p.Done {
			fmt.Fprintf(cfg.Out, "backfill done: %d slices, %d records in %s\n", slice-1, records, cfg.Now().Sub(start).Round(time.Second))
			return nil
		}
		records += p.Records
		if p.Kind != "" && !p.Through.IsZero() && p.Through.After(through[p.Kind]) {
			through[p.Kind] = p.Through
		}
		pct := progress(through, cfg.Since, total)
		eta := "unknown"
		if pct > 0 {
			elapsed := cfg.Now().Sub(start)
			eta = time.Duration(float64(elapsed) * (1 - pct) / pct).Round(time.Second).String()
		}
		fmt.Fprintf(cfg.Out, "slice %4d  %-50s %6d records %3d dead letters  %5.1f%% done  ETA %s\n",
			slice, p.Work, p.Records, p.DeadLetters, 100*pct, eta)
	}
}

func progress(through map[string]time.Time, since time.Time, total time.Duration) float64 {
	if len(through) == 0 || total <= 0 {
		return 0
	}
	kinds := make([]string, 0, len(through))
	for k := range through {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	sum := 0.0
	for _, k := range kinds {
		f := float64(through[k].Sub(since)) / float64(total)
		sum += max(0, min(1, f))
	}
	return sum / float64(len(kinds))
}
