package load

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Batch boundaries, and why a replay re-forms the same batches.
//
// ClickHouse drops a repeated insert only if it carries the same
// insert_deduplication_token, topic-partition-firstOffset-lastOffset, so a
// batch replayed after a crash must span exactly the records it spanned the
// first time. Offsets are committed only at batch ends, after the insert was
// acknowledged; a replay therefore starts at a batch boundary, and from there
// the cutter below is a pure function of the records that follow:
//
//   - size cuts: a batch ends after BatchRows records or once its values reach
//     BatchBytes, counted from the batch's first record; poison records count
//     like any other, so the boundaries do not depend on decoding;
//   - time cuts (MaxWait, for freshness when traffic is low) depend on the
//     clock, so before inserting a time-cut batch the loader commits its
//     start offset again with the metadata "shopstream-cut:<lastOffset>" (a
//     write-ahead record in Kafka's own offset store). A replay that finds
//     that metadata cuts there first, re-forming the same batch. A time cut is
//     only taken while the partition has no batch in flight, so the committed
//     offset is the batch's start and one pending cut per partition is enough.
//
// What breaks determinism, and what then happens: changing BatchRows or
// BatchBytes while a partition has an uncommitted batch; compaction or
// retention deleting records between the attempt and the replay; a replay
// after more than the tables' deduplication window of other inserts. Then a
// replayed change can land twice in a raw change table (event_id tells), and
// the current-state tables still hold it once (same key and version).
type cutter struct {
	rows  int
	bytes int
}

// cutMetaPrefix starts the commit metadata of a pending time cut.
const cutMetaPrefix = "shopstream-cut:"

func cutMetadata(last int64) string { return cutMetaPrefix + strconv.FormatInt(last, 10) }

// parseCutMetadata returns the last offset of a pending time cut, or -1.
func parseCutMetadata(meta string) int64 {
	s, ok := strings.CutPrefix(meta, cutMetaPrefix)
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// batch is a run of consecutive records of one partition.
type batch struct {
	topic     string
	partition int32
	recs      []*kgo.Record
	bytes     int
	timeCut   bool
}

func (b *batch) first() int64 { return b.recs[0].Offset }
func (b *batch) last() int64  { return b.recs[len(b.recs)-1].Offset }

// token is the insert_deduplication_token of the batch.
func (b *batch) token() string {
	return fmt.Sprintf("%s-%d-%d-%d", b.topic, b.partition, b.first(), b.last())
}

// builder accumulates one partition's records into batches.
type builder struct {
	topic     string
	partition int32
	cut       cutter
	// pendingCut is the last offset of a time-cut batch recorded in the
	// commit metadata, -1 if none.
	pendingCut int64

	recs    []*kgo.Record
	bytes   int
	firstAt time.Time // when the oldest buffered record arrived
}

// add appends r and returns the batches it completes (at most two: the one
// a pending cut closes before r, and one r fills).
func (bd *builder) add(r *kgo.Record, now time.Time) []*batch {
	var out []*batch
	if bd.pendingCut >= 0 && r.Offset > bd.pendingCut {
		// The recorded cut's last record is gone (compaction): cut before r.
		if len(bd.recs) > 0 {
			out = append(out, bd.take(false))
		}
		bd.pendingCut = -1
	}
	if len(bd.recs) == 0 {
		bd.firstAt = now
	}
	bd.recs = append(bd.recs, r)
	bd.bytes += len(r.Value) + len(r.Key)
	switch {
	case bd.pendingCut >= 0 && r.Offset == bd.pendingCut:
		bd.pendingCut = -1
		out = append(out, bd.take(false))
	case len(bd.recs) >= bd.cut.rows || bd.bytes >= bd.cut.bytes:
		out = append(out, bd.take(false))
	}
	return out
}

// due reports whether the buffered records have waited maxWait.
func (bd *builder) due(now time.Time, maxWait time.Duration) bool {
	return len(bd.recs) > 0 && bd.pendingCut < 0 && now.Sub(bd.firstAt) >= maxWait
}

func (bd *builder) take(timeCut bool) *batch {
	b := &batch{topic: bd.topic, partition: bd.partition, recs: bd.recs, bytes: bd.bytes, timeCut: timeCut}
	bd.recs, bd.bytes = nil, 0
	return b
}
