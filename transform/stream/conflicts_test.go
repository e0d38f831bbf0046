package stream

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/transform/identity"
)

// TestConflictsCountedAtMostEvery: the identity task walks its state for
// the conflicts gauge after a commit that moved links, at most once per
// conflictsEvery; a count left out is made at the first commit after the
// interval, links moved or not, and an aborted transaction neither counts
// nor takes the pending count away.
func TestConflictsCountedAtMostEvery(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	res := identity.NewResolver(nil)
	s := &identityStep{res: res, now: func() time.Time { return now }}
	gtin := "00887276302195"
	conflicting := func(asin string) []identity.Item {
		return []identity.Item{{Ref: identity.Ref{Channel: identity.ChannelAmazon, Account: "ATVPDKIKX0DER", ID: asin},
			Identifiers: []identity.Identifier{{Type: "GTIN", Value: gtin}}}}
	}
	commit := func(links int, committed bool) int {
		s.links = links
		_, _, c := s.counted(committed)
		return c
	}
	if c := commit(0, true); c != -1 {
		t.Fatalf("no links moved yet: counted %d, want -1 (not counted)", c)
	}
	res.Put("a/B1", conflicting("B1"))
	if c := commit(1, true); c != 0 {
		t.Fatalf("first commit with links: %d conflicts, want 0", c)
	}
	res.Put("a/B2", conflicting("B2"))
	now = now.Add(conflictsEvery / 2)
	if c := commit(1, true); c != -1 {
		t.Fatalf("links moved within the interval: counted %d, want -1 (left for later)", c)
	}
	if c := commit(3, false); c != -1 {
		t.Fatalf("aborted transaction: counted %d, want -1", c)
	}
	now = now.Add(conflictsEvery / 2)
	if c := commit(0, true); c != 1 {
		t.Fatalf("first commit after the interval, no links moved: %d conflicts, want the count left out (1)", c)
	}
	now = now.Add(conflictsEvery)
	if c := commit(0, true); c != -1 {
		t.Fatalf("nothing moved since the last count: counted %d, want -1", c)
	}
}
