package load

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func records(from, to int64, size int) []*kgo.Record {
	var out []*kgo.Record
	for o := from; o <= to; o++ {
		out = append(out, &kgo.Record{Topic: "t", Partition: 3, Offset: o, Value: make([]byte, size)})
	}
	return out
}

func feed(bd *builder, recs []*kgo.Record) []string {
	var tokens []string
	for _, r := range recs {
		for _, b := range bd.add(r, time.Unix(0, 0)) {
			tokens = append(tokens, b.token())
		}
	}
	return tokens
}

// TestReplayFormsTheSameBatches: a replay from any committed offset (a
// batch end) cuts exactly where the first run did, by rows and by bytes,
// with gaps in the offsets (transaction markers) included.
func TestReplayFormsTheSameBatches(t *testing.T) {
	var recs []*kgo.Record
	recs = append(recs, records(0, 99, 10)...)
	recs = append(recs, records(101, 180, 300)...) // a gap at 100, then big values
	recs = append(recs, records(182, 400, 10)...)
	first := &builder{topic: "t", partition: 3, pendingCut: -1, cut: cutter{rows: 25, bytes: 4000}}
	all := feed(first, recs)
	if len(all) < 10 {
		t.Fatalf("only %d batches", len(all))
	}
	// Replay from the end of every batch: the following batches are the same.
	for i := range all[:len(all)-1] {
		parts := strings.Split(all[i], "-")
		last, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		var rest []*kgo.Record
		for _, r := range recs {
			if r.Offset > last {
				rest = append(rest, r)
			}
		}
		replay := &builder{topic: "t", partition: 3, pendingCut: -1, cut: cutter{rows: 25, bytes: 4000}}
		got := feed(replay, rest)
		want := all[i+1:]
		if len(got) != len(want) {
			t.Fatalf("replay after %s: %d batches, want %d", all[i], len(got), len(want))
		}
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("replay after %s: batch %d is %s, want %s", all[i], j, got[j], want[j])
			}
		}
	}
}

// TestPendingTimeCutIsReformed: a time-cut batch recorded in the commit
// metadata is cut at the same offset on replay, although more records are
// available now than when it was cut; a cut whose last record vanished
// (compaction) cuts before the next one.
func TestPendingTimeCutIsReformed(t *testing.T) {
	bd := &builder{topic: "t", partition: 3, pendingCut: -1, cut: cutter{rows: 100, bytes: 1 << 20}}
	feed(bd, records(10, 16, 1))
	if !bd.due(time.Unix(10, 0), time.Second) {
		t.Fatal("7 records waiting 10s are not due")
	}
	cut := bd.take(true)
	if cut.token() != "t-3-10-16" || parseCutMetadata(cutMetadata(cut.last())) != 16 {
		t.Fatalf("time cut %s", cut.token())
	}

	replay := &builder{topic: "t", partition: 3, pendingCut: 16, cut: cutter{rows: 100, bytes: 1 << 20}}
	if got := feed(replay, records(10, 300, 1)); len(got) < 1 || got[0] != "t-3-10-16" {
		t.Fatalf("replay batches %v, want t-3-10-16 first", got)
	}
	if replay.due(time.Unix(10, 0), time.Second) && replay.pendingCut >= 0 {
		t.Fatal("a pending cut must not be time-cut again")
	}

	compacted := &builder{topic: "t", partition: 3, pendingCut: 16, cut: cutter{rows: 100, bytes: 1 << 20}}
	recs := append(records(10, 14, 1), records(20, 30, 1)...)
	if got := feed(compacted, recs); len(got) != 1 || got[0] != "t-3-10-14" {
		t.Fatalf("compacted replay batches %v, want [t-3-10-14]", got)
	}
	if parseCutMetadata("") != -1 || parseCutMetadata("shopstream-cut:x") != -1 {
		t.Fatal("bad metadata parsed as a cut")
	}
}
