package retry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeClock records the waits and never sleeps.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
}

func (f *fakeClock) Now() time.Time { return f.now }

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	f.waits = append(f.waits, d)
	f.now = f.now.Add(d)
	return ctx.Err()
}

var errFlaky = errors.New("flaky")

// TestRetryableUntilSuccess: retryable failures are retried after growing,
// capped waits, OnRetry sees each, and success ends Do with nil.
func TestRetryableUntilSuccess(t *testing.T) {
	fc := &fakeClock{}
	var seen []int
	err := Do(context.Background(), Policy{MaxAttempts: 10, Initial: time.Second, Max: 4 * time.Second, Clock: fc,
		OnRetry: func(attempt int, err error, _ time.Duration) {
			if !errors.Is(err, errFlaky) || IsRetryable(err) {
				t.Errorf("OnRetry got %v, want the unwrapped failure", err)
			}
			seen = append(seen, attempt)
		}}, func(attempt int) error {
		if attempt < 6 {
			return Retryable(errFlaky)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.waits) != 5 || len(seen) != 5 || seen[4] != 5 {
		t.Fatalf("waits %v, retries seen %v", fc.waits, seen)
	}
	// ±50% jitter around 1, 2, 4, 4, 4 s.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second} {
		if w := fc.waits[i]; w < want/2 || w > want*3/2 {
			t.Errorf("wait %d = %s, want %s ±50%%", i, w, want)
		}
	}
}

// TestPermanentEndsAtOnce: an unmarked error is returned as it is, after
// one attempt and no wait.
func TestPermanentEndsAtOnce(t *testing.T) {
	fc := &fakeClock{}
	perm := errors.New("400 bad request")
	calls := 0
	err := Do(context.Background(), Policy{MaxAttempts: 5, Clock: fc}, func(int) error { calls++; return perm })
	if err != perm || calls != 1 || len(fc.waits) != 0 {
		t.Fatalf("err %v after %d calls and %d waits", err, calls, len(fc.waits))
	}
}

// TestGivingUp: the attempts run out with an error that names the
// operation and wraps the last failure.
func TestGivingUp(t *testing.T) {
	err := Do(context.Background(), Policy{Op: "api list", MaxAttempts: 3, Clock: &fakeClock{}}, func(int) error { return Retryable(errFlaky) })
	if !errors.Is(err, errFlaky) || IsRetryable(err) || err.Error() != "api list: giving up after 3 attempts: flaky" {
		t.Fatalf("err = %v", err)
	}
}

// TestAfterAndImmediately: After waits at least its duration (jittered up
// to 1.5×) even when the backoff is shorter; Immediately does not wait.
func TestAfterAndImmediately(t *testing.T) {
	fc := &fakeClock{}
	err := Do(context.Background(), Policy{MaxAttempts: 4, Initial: time.Millisecond, Clock: fc}, func(attempt int) error {
		switch attempt {
		case 1:
			return After(errFlaky, time.Minute)
		case 2:
			return Immediately(errFlaky)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.waits) != 1 || fc.waits[0] < time.Minute || fc.waits[0] > 90*time.Second {
		t.Fatalf("waits %v, want one of 1-1.5 min", fc.waits)
	}
}

// TestContextEnds: a cancelled context stops the retries with an error
// that wraps ctx's and names the last failure.
func TestContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := Do(ctx, Policy{Op: "fetch", Clock: &fakeClock{}}, func(attempt int) error {
		if attempt == 3 {
			cancel()
		}
		return Retryable(errFlaky)
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "last error: flaky") || !strings.HasPrefix(err.Error(), "fetch: ") {
		t.Fatalf("err = %v", err)
	}
}
