package simworld

import (
	"context"
	"testing"
	"time"
)

// TestManualClockSleepMovesTime: a sleep on the manual clock moves simulated
// time by d and returns at once; a sleep under a done context neither moves
// the clock nor succeeds.
func TestManualClockSleepMovesTime(t *testing.T) {
	c := NewManualClock(DefaultStart)
	if err := c.Sleep(context.Background(), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); !got.Equal(DefaultStart.Add(90 * time.Second)) {
		t.Fatalf("after Sleep(90s) the clock reads %s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep under a cancelled context succeeded")
	}
	if got := c.Now(); !got.Equal(DefaultStart.Add(90 * time.Second)) {
		t.Fatalf("a cancelled Sleep moved the clock to %s", got)
	}
}
