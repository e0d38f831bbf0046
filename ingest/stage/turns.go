package stage

import (
	"context"
	"iter"
	"slices"
)

// turns takes a stage's kinds of work in turn, so that no kind (a long
// backfill of orders, say) starves the others: a step starts with the kind
// after the one that last did something, and skips the disabled kinds.
type turns struct {
	next int
	off  []string // the disabled kinds
}

// disabled reports whether the kind named kind is disabled.
func (t *turns) disabled(kind string) bool { return slices.Contains(t.off, kind) }

// enabled yields the indexes of the kinds named in names that are not
// disabled, from the next one on, wrapping around.
func (t *turns) enabled(names []string) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range names {
			k := (t.next + i) % len(names)
			if !t.disabled(names[k]) && !yield(k) {
				return
			}
		}
	}
}

// step runs steps[k] (the kind names[k]) for the enabled kinds in turn until
// one does something or fails, and returns what it did; the next step starts
// after it. Nothing to do anywhere is a zero Progress.
func (t *turns) step(ctx context.Context, names []string, steps []func(context.Context) (Progress, error)) (Progress, error) {
	for k := range t.enabled(names) {
		p, err := steps[k](ctx)
		if err != nil || p.Done {
			t.next = (k + 1) % len(names)
			return p, err
		}
	}
	return Progress{}, nil
}
