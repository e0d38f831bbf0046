package state

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// TestCollectByLimit: the proportional trigger goes off only when the heap
// has a soft limit; without one, GOGC stays as it was.
func TestCollectByLimit(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: CollectByLimit leaves it alone")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	CollectByLimit()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("without a memory limit: GOGC %d, want 100 (unchanged)", got)
	}
	debug.SetMemoryLimit(256 << 20)
	CollectByLimit()
	if got := debug.SetGCPercent(100); got != -1 {
		t.Fatalf("with a memory limit: GOGC %d, want -1 (off: the limit alone triggers)", got)
	}
}
