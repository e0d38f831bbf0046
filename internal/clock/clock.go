// Package clock is the time source of everything in shopstream that waits:
// the API clients' rate limiters, backoff and report polling, the ingest
// stages' poll interval, the supervisor's restart backoff. Production runs
// on Wall; tests run on the simulators' manual clock
// (simworld.ManualClock), whose Sleep moves simulated time instead of
// waiting, so no test sleeps on wall time.
package clock

import (
	"context"
	"time"
)

// Clock reads the time and waits.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first, and
	// returns ctx.Err() in the latter case.
	Sleep(ctx context.Context, d time.Duration) error
}

// Wall is the machine's clock: time.Now and a timer.
type Wall struct{}

var _ Clock = Wall{}

// Now returns time.Now().
func (Wall) Now() time.Time { return time.Now() }

// Sleep waits for d on a timer; d <= 0 returns at once.
func (Wall) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
