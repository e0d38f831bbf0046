package simworld

import (
	"context"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/clock"
)

// Clock is the time source of a world and of every simulator built on it,
// and a clock.Clock for the clients and stages that talk to them. Tests
// drive a ManualClock; `shopstream sim` runs on a WallClock.
type Clock interface {
	clock.Clock
	// Advance moves the clock forward by d (negative d is ignored: simulated
	// time never runs backwards, because token buckets, report state machines
	// and engagement counters all assume it does not).
	Advance(d time.Duration)
}

// ManualClock is a Clock that only moves when Advance or Set is called.
// It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock reading start (in UTC).
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start.UTC()}
}

// Now returns the clock's reading.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep implements clock.Clock on simulated time: it moves the clock to d
// after the current reading and returns at once, or returns ctx.Err() if ctx
// is done. Concurrent sleepers waiting for the same instant move the clock
// once, not once each.
func (c *ManualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if t := c.now.Add(d); t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
	return nil
}

// Still returns a view of c whose Sleep returns at once without moving
// time: a client's backoff then leaves the world as it is, so what it read
// can be compared with one instant's truth.
func (c *ManualClock) Still() clock.Clock { return stillClock{c} }

type stillClock struct{ c *ManualClock }

func (s stillClock) Now() time.Time { return s.c.Now() }

func (s stillClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// Set moves the clock to t if t is later than the current reading.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t.UTC()
	}
	c.mu.Unlock()
}

// WallClock follows the machine's wall clock, shifted by everything passed to
// Advance, so a long-running simulator can be fast-forwarded.
type WallClock struct {
	mu     sync.Mutex
	offset time.Duration
	now    func() time.Time
}

// NewWallClock returns a clock that reads time.Now.
func NewWallClock() *WallClock { return &WallClock{now: time.Now} }

// Now returns the wall-clock time plus the accumulated offset, in UTC.
func (c *WallClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now().Add(c.offset).UTC()
}

// Sleep waits for d of wall time, or until ctx is done.
func (c *WallClock) Sleep(ctx context.Context, d time.Duration) error {
	return clock.Wall{}.Sleep(ctx, d)
}

// Advance adds d to the clock's offset.
func (c *WallClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
