package stage

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestTurns: kinds are taken in turn from the one after the last that did
// something, disabled kinds never run, and a failure also passes the turn.
func TestTurns(t *testing.T) {
	names := []string{"a", "b", "c"}
	var ran []string
	work := map[string]bool{"a": true, "b": true, "c": true}
	var fail error
	steps := make([]func(context.Context) (Progress, error), len(names))
	for i, n := range names {
		steps[i] = func(context.Context) (Progress, error) {
			ran = append(ran, n)
			if fail != nil {
				return Progress{}, fail
			}
			return Progress{Done: work[n]}, nil
		}
	}
	tr := &turns{off: []string{"b"}}
	ctx := context.Background()
	for range 3 {
		if _, err := tr.step(ctx, names, steps); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"a", "c", "a"}; !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v (b disabled, kinds in turn)", ran, want)
	}
	// After a comes b, disabled: c, and then the turn wraps round to a,
	// which has nothing to do: c runs again.
	ran = nil
	if p, _ := tr.step(ctx, names, steps); !p.Done || !slices.Equal(ran, []string{"c"}) {
		t.Errorf("ran %v, done %v; want c", ran, p.Done)
	}
	ran, work["a"] = nil, false
	if p, _ := tr.step(ctx, names, steps); !p.Done || !slices.Equal(ran, []string{"a", "c"}) {
		t.Errorf("ran %v, done %v; want a then c", ran, p.Done)
	}
	ran, fail = nil, errors.New("boom")
	if _, err := tr.step(ctx, names, steps); err == nil || !slices.Equal(ran, []string{"a"}) {
		t.Errorf("ran %v, err %v; want a failing", ran, err)
	}
	ran, fail, work["c"] = nil, nil, false
	if p, err := tr.step(ctx, names, steps); err != nil || p.Done || !slices.Equal(ran, []string{"c", "a"}) {
		t.Errorf("ran %v, done %v; want c then a, nothing done", ran, p.Done)
	}
	if tr.disabled("a") || !tr.disabled("b") {
		t.Error("disabled disagrees with off")
	}
}
