package testenv

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// cleanupTB records Cleanup functions and Errorf calls instead of acting on
// them, so that a test can run the cleanups and see what failed.
type cleanupTB struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (c *cleanupTB) Helper()          {}
func (c *cleanupTB) Cleanup(f func()) { c.cleanups = append(c.cleanups, f) }
func (c *cleanupTB) Errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *cleanupTB) end() {
	for i := len(c.cleanups) - 1; i >= 0; i-- {
		c.cleanups[i]()
	}
}

// TestRunUntilCleanup: run goes on until the test ends, then its context
// is cancelled and the test waits for it; an error it returns fails the
// test, and one it returns early closes the stopped channel at once.
func TestRunUntilCleanup(t *testing.T) {
	for _, want := range []error{nil, errors.New("broken")} {
		tb := &cleanupTB{TB: t}
		started := make(chan struct{})
		stopped := RunUntilCleanup(tb, "runner", func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return want
		})
		<-started
		select {
		case <-stopped:
			t.Fatal("run stopped before the test ended")
		default:
		}
		tb.end()
		<-stopped
		switch {
		case want == nil && len(tb.errs) != 0:
			t.Errorf("run returned nil, the test failed with %q", tb.errs)
		case want != nil && (len(tb.errs) != 1 || tb.errs[0] != "runner: broken"):
			t.Errorf("run returned %v, the test failed with %q", want, tb.errs)
		}
	}

	tb := &cleanupTB{TB: t}
	stopped := RunUntilCleanup(tb, "runner", func(context.Context) error { return errors.New("no port") })
	<-stopped // an early stop is seen before the test ends
	tb.end()
	if len(tb.errs) != 1 || tb.errs[0] != "runner: no port" {
		t.Errorf("an early error failed the test with %q", tb.errs)
	}
}
