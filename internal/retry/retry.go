// Package retry runs an operation again after the failures another attempt
// can fix: exponential backoff with jitter (cenkalti/backoff's), waiting on a
// clock.Clock so that tests drive the waits on the simulator's clock.
//
// The operation classifies its own failures, the way PeerDB keeps its
// retryable ClickHouse codes in one place: it wraps a failure worth another
// attempt with Retryable (or After, when the failure says how long to wait at
// least, or Immediately, when the next attempt needs no wait: a refreshed
// token, a new download URL). Any other error is permanent: Do returns it at
// once, as it is. An unknown failure therefore ends the retries rather than
// looping on it.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/shopstream/shopstream/internal/clock"
)

// Policy shapes Do. The zero Policy retries until ctx ends, from 1 s up to
// 1 min, on the wall clock.
type Policy struct {
	// Op names the operation in the errors Do makes itself (giving up, ctx
	// ended), e.g. "tiktokshop: orders.search".
	Op string
	// MaxAttempts bounds the attempts, the first included; zero or less
	// bounds them only by ctx.
	MaxAttempts int
	// Initial is the first wait (default 1 s); each next one doubles up to
	// Max (default 1 min). Every wait is jittered by ±50%.
	Initial, Max time.Duration
	// Clock waits between attempts. Default clock.Wall.
	Clock clock.Clock
	// OnRetry, if set, is told about every failure that will be retried:
	// the attempt that failed (1 for the first), its error (unwrapped of
	// the classification) and the wait before the next attempt.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// classified is a failure the operation marked as worth another attempt.
type classified struct {
	err error
	// min is the least wait before the next attempt; now skips the wait.
	min time.Duration
	now bool
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

// Retryable marks err as worth another attempt after the policy's backoff.
// Retryable(nil) is nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err}
}

// After marks err as worth another attempt no sooner than d (jittered up to
// 1.5 d, so that callers throttled together do not come back together), or
// after the backoff if that is longer: a 429 that says when the quota
// refills.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, min: d}
}

// Immediately marks err as worth another attempt at once; the attempt still
// counts against MaxAttempts.
func Immediately(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, now: true}
}

// IsRetryable reports whether err carries one of the marks above.
func IsRetryable(err error) bool {
	var c *classified
	return errors.As(err, &c)
}

// Do runs op (attempt is 1 for the first call) until it returns nil or a
// permanent error (returned as is). A retryable failure is followed by the
// wait and another attempt, unless ctx has ended (the error wraps ctx.Err()
// and names the last failure) or the attempts ran out (the error wraps the
// last failure).
func Do(ctx context.Context, p Policy, op func(attempt int) error) error {
	if p.Clock == nil {
		p.Clock = clock.Wall{}
	}
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Minute
	}
	b := &backoff.ExponentialBackOff{InitialInterval: p.Initial, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: p.Max}
	b.Reset()
	for attempt := 1; ; attempt++ {
		err := op(attempt)
		var c *classified
		if err == nil || !errors.As(err, &c) {
			return err
		}
		last := c.err
		if ctx.Err() != nil {
			return p.ended(ctx.Err(), last)
		}
		if p.MaxAttempts > 0 && attempt >= p.MaxAttempts {
			return fmt.Errorf("%sgiving up after %d attempts: %w", p.prefix(), attempt, last)
		}
		var wait time.Duration
		if !c.now {
			wait = b.NextBackOff()
			if wait < c.min {
				wait = c.min + time.Duration(rand.Float64()*0.5*float64(c.min))
			}
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, last, wait)
		}
		if wait > 0 {
			if err := p.Clock.Sleep(ctx, wait); err != nil {
				return p.ended(err, last)
			}
		}
	}
}

func (p Policy) prefix() string {
	if p.Op == "" {
		return ""
	}
	return p.Op + ": "
}

func (p Policy) ended(err, last error) error {
	return fmt.Errorf("%s%w (last error: %v)", p.prefix(), err, last)
}
