package simworld

import (
	"sync"
	"time"
)

// Clock is the time source of a world and of every simulator built on it.
// Tests drive a ManualClock; `shopstream sim` runs on a WallClock.
type Clock interface {
	// Now returns the current simulated time.
	Now() time.Time
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

// Advance adds d to the clock's offset.
func (c *WallClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
