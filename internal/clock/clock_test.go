package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWallSleepEndsWithContext: a sleep of an hour returns ctx's error as
// soon as ctx is cancelled, and a non-positive sleep returns at once.
func TestWallSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Wall{}.Sleep(ctx, time.Hour) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v, want context.Canceled", err)
	}
	if err := (Wall{}).Sleep(context.Background(), 0); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
}
