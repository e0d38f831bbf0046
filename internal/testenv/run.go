package testenv

import (
	"context"
	"testing"
)

// RunUntilCleanup runs run in a goroutine until t ends; then it cancels
// run's context, waits for run to return and fails t with an error it
// returned, prefixed with what. The returned channel is closed when run
// has returned, for a test that must notice an early stop.
func RunUntilCleanup(t testing.TB, what string, run func(ctx context.Context) error) (stopped <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	})
	return done
}
