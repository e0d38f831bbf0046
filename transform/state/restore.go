package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RestoreStats says what Restore did for one store.
type RestoreStats struct {
	Store string
	// From and To are the changelog offsets read: [From, To).
	From, To int64
	// Records is the number of changelog records applied.
	Records int
	// Wiped is set when the local range was discarded and restored from
	// the start of the changelog, and Reason says why.
	Wiped  bool
	Reason string
}

// restoreIdle is how long a restore waits for more changelog records
// before it takes the partition as read: the records between the last one
// delivered and the end were compacted away.
const restoreIdle = 3 * time.Second

// restoreBatchBytes bounds the memory a restore holds before it applies
// what it read (with a checkpoint, so an interrupted restore resumes).
const restoreBatchBytes = 4 << 20

// Restore brings the committed local range of every store up to the end
// of its changelog partition (its last stable offset: read_committed).
// opts are the Kafka client options (seed brokers, TLS, SASL); the
// restore uses a client of its own. Call it before the stores' tasks
// process anything and with no pending writes of theirs.
func (d *DB) Restore(ctx context.Context, opts []kgo.Opt, stores ...*Store) ([]RestoreStats, error) {
	if len(stores) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)],
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Commit markers move the position past a transaction's end.
		kgo.KeepControlRecords())...)
	if err != nil {
		return nil, fmt.Errorf("state: restore: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var topics []string
	for _, s := range stores {
		topics = append(topics, s.changelog)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("state: restore: changelog start offsets: %w", err)
	}
	ends, stable, err := settled(ctx, adm, stores)
	if err != nil {
		return nil, err
	}

	for _, s := range stores {
		// The restore writes underneath the value cache.
		s.forget()
	}
	type progress struct {
		s      *Store
		stats  RestoreStats
		target int64
		batch  *pebble.Batch
	}
	work := map[string]map[int32]*progress{}
	consume := map[string]map[int32]kgo.Offset{}
	var out []RestoreStats
	var pending []*progress
	for _, s := range stores {
		start, _ := starts.Lookup(s.changelog, s.partition)
		end, _ := ends.Lookup(s.changelog, s.partition)
		lso, _ := stable.Lookup(s.changelog, s.partition)
		p := &progress{s: s, stats: RestoreStats{Store: s.name}, target: lso.Offset}
		ck, at, ok, err := s.Checkpoint()
		if err != nil {
			return nil, err
		}
		from := ck
		switch {
		case !ok:
			p.stats.Reason = "no local checkpoint"
		case ck > end.Offset:
			p.stats.Reason = fmt.Sprintf("checkpoint %d is beyond the changelog's end %d (recreated topic)", ck, end.Offset)
		case ck < start.Offset:
			p.stats.Reason = fmt.Sprintf("checkpoint %d is below the changelog's start %d", ck, start.Offset)
		case d.opts.Now().Sub(at) > d.opts.MaxCheckpointAge:
			p.stats.Reason = fmt.Sprintf("checkpoint of %s is older than %s", at.UTC().Format(time.RFC3339), d.opts.MaxCheckpointAge)
		}
		if p.stats.Reason != "" {
			if ok {
				p.stats.Wiped = true
			}
			if err := s.wipe(); err != nil {
				return nil, err
			}
			from = start.Offset
		}
		p.stats.From, p.stats.To = from, from
		if from >= p.target {
			if p.stats.Reason != "" {
				// An empty changelog: record where the store stands.
				if err := d.applyRestored(s, d.db.NewBatch(), from); err != nil {
					return nil, err
				}
			}
			out = append(out, p.stats)
			continue
		}
		p.batch = d.db.NewBatch()
		if work[s.changelog] == nil {
			work[s.changelog] = map[int32]*progress{}
			consume[s.changelog] = map[int32]kgo.Offset{}
		}
		work[s.changelog][s.partition] = p
		consume[s.changelog][s.partition] = kgo.NewOffset().At(from)
		pending = append(pending, p)
	}
	if len(pending) == 0 {
		return out, nil
	}
	cl.AddConsumePartitions(consume)
	remaining := len(pending)
	idle := time.Now()
	finish := func(p *progress) error {
		if err := d.applyRestored(p.s, p.batch, p.stats.To); err != nil {
			return err
		}
		p.batch = nil
		delete(work[p.s.changelog], p.s.partition)
		cl.RemoveConsumePartitions(map[string][]int32{p.s.changelog: {p.s.partition}})
		remaining--
		return nil
	}
	for remaining > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, fmt.Errorf("state: restore %s[%d]: %w", t, p, err))
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		got := false
		var aerr error
		fs.EachRecord(func(r *kgo.Record) {
			p := work[r.Topic][r.Partition]
			if p == nil || p.batch == nil || aerr != nil {
				return
			}
			got = true
			if !r.Attrs.IsControl() {
				k := append(append([]byte(nil), p.s.data...), r.Key...)
				if r.Value == nil {
					aerr = p.batch.Delete(k, nil)
				} else {
					aerr = p.batch.Set(k, r.Value, nil)
				}
				p.stats.Records++
			}
			p.stats.To = r.Offset + 1
			if aerr == nil && p.batch.Len() >= restoreBatchBytes {
				aerr = d.applyRestored(p.s, p.batch, p.stats.To)
				p.batch = d.db.NewBatch()
			}
		})
		if aerr != nil {
			return nil, fmt.Errorf("state: restore: %w", aerr)
		}
		if got {
			idle = time.Now()
		}
		for _, p := range pending {
			if p.batch == nil {
				continue
			}
			// Done at the last stable offset, or when nothing more comes:
			// the records up to it were compacted away.
			if p.stats.To >= p.target || !got && time.Since(idle) > restoreIdle {
				p.stats.To = max(p.stats.To, p.target)
				if err := finish(p); err != nil {
					return nil, err
				}
				out = append(out, p.stats)
			}
		}
	}
	return out, nil
}

// settledPoll is how often settled looks again at a changelog partition
// with an open transaction.
const settledPoll = 100 * time.Millisecond

// settled returns the end and last stable offsets of the stores'
// changelog partitions once no transaction is open on any of them (last
// stable offset = end). A transaction still open there is a previous
// owner's: committed, its markers not written yet, or a crashed
// instance's, until it is fenced or times out. Restoring up to the last
// stable offset below it would leave out writes that may yet commit,
// while the group's offsets, which the task's consumer fetches stable,
// would include the records that made them: the store would miss them
// for good. So the restore waits, as the consumer does.
func settled(ctx context.Context, adm *kadm.Client, stores []*Store) (ends, stable kadm.ListedOffsets, err error) {
	var topics []string
	for _, s := range stores {
		topics = append(topics, s.changelog)
	}
	for {
		ends, err = adm.ListEndOffsets(ctx, topics...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("state: restore: changelog end offsets: %w", err)
		}
		stable, err = adm.ListCommittedOffsets(ctx, topics...)
		if err == nil {
			err = stable.Error()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("state: restore: changelog stable offsets: %w", err)
		}
		open := false
		for _, s := range stores {
			end, _ := ends.Lookup(s.changelog, s.partition)
			lso, _ := stable.Lookup(s.changelog, s.partition)
			if lso.Offset < end.Offset {
				open = true
			}
		}
		if !open {
			return ends, stable, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(settledPoll):
		}
	}
}

// applyRestored applies a restore batch with the store's checkpoint.
func (d *DB) applyRestored(s *Store, b *pebble.Batch, next int64) error {
	if err := b.Set(s.meta, encodeCheckpoint(next, d.opts.Now().UnixMilli()), nil); err != nil {
		return fmt.Errorf("state: %s: restore checkpoint: %w", s.name, err)
	}
	// Through apply: the restored keys enter the key filter.
	if err := d.apply(b); err != nil {
		return fmt.Errorf("state: %s: apply restored records: %w", s.name, err)
	}
	return b.Close()
}

// wipe deletes the store's committed range and checkpoint.
func (s *Store) wipe() error {
	b := s.db.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(s.data, successor(s.data), nil); err != nil {
		return fmt.Errorf("state: %s: wipe: %w", s.name, err)
	}
	if err := b.Delete(s.meta, nil); err != nil {
		return fmt.Errorf("state: %s: wipe: %w", s.name, err)
	}
	if err := s.db.apply(b); err != nil {
		return fmt.Errorf("state: %s: wipe: %w", s.name, err)
	}
	return nil
}
