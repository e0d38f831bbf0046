package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/internal/retry"
	"github.com/shopstream/shopstream/load/tables"
)

// Dead letters in the warehouse.
//
// dead_letters holds a row per dead letter of every stage, keyed by its
// deadletter.ID (source_topic, source_partition, source_offset, stage): the
// loader inserts its own with the batch they came from, before the batch's
// offsets are committed; the others (ingest, transform) it loads from the
// dead-letter topics of the topics it loads, which it consumes in the same
// group, batch by batch like any topic. Replayed markers on those topics go
// to dead_letters_replayed, where `dlq replay` also records the load dead
// letters it loaded; the view dead_letters_open is the difference.
const (
	// DeadLettersTable holds every dead letter next to the data.
	DeadLettersTable = "dead_letters"
	// ReplayedTable records the dead letters replayed; the view
	// dead_letters_open lists those it does not.
	ReplayedTable = "dead_letters_replayed"
)

// sourceColumns are the dead letter's original coordinates, which lead
// both tables' columns.
var sourceColumns = []tables.Column{
	{Name: "source_topic", Type: "LowCardinality(String)"},
	{Name: "source_partition", Type: "UInt32"},
	{Name: "source_offset", Type: "UInt64"},
}

var replayedColumns = slices.Concat(sourceColumns, []tables.Column{
	{Name: "replayed_at", Type: "DateTime64(3, 'UTC')"},
	{Name: "stage", Type: "LowCardinality(String)"},
})

var deadLetterColumns = slices.Concat(sourceColumns, []tables.Column{
	{Name: "key", Type: "String"},
	{Name: "value", Type: "String"},
	{Name: "error_class", Type: "LowCardinality(String)"},
	{Name: "reason", Type: "String"},
	{Name: "stage", Type: "LowCardinality(String)"},
	{Name: "dead_at", Type: "DateTime64(3, 'UTC')"},
	{Name: "source_endpoint", Type: "LowCardinality(String)"},
	{Name: "truncated_from_bytes", Type: "UInt64"},
})

// dlqTopics returns the dead-letter topics of topics.
func dlqTopics(topics []string) []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = deadletter.Topic(t)
	}
	return out
}

// consumed returns every topic the loader consumes: the data topics and
// their dead-letter topics.
func (l *Loader) consumed() []string { return append(slices.Clone(l.topics), l.dlqTopics...) }

// ensureDLQTopics creates the dead-letter topics before the group consumes
// them. Unlimited retention: `dlq replay` reads the topic, whenever the fix
// comes.
// While no broker answers it retries.
func (l *Loader) ensureDLQTopics(ctx context.Context) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(l.opts.Brokers...), kgo.WithHooks(brokerHook{l.brokers})}, l.opts.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("load: dead-letter topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	return retryOp(ctx, l.m.retries.WithLabelValues(DeadLettersTable, "create topics"), nil, l.log, "create dead-letter topics", func() error {
		err := kafkatopic.Ensure(ctx, adm, kafkatopic.KeepAll(), l.dlqTopics...)
		if err == nil {
			return nil
		}
		err = fmt.Errorf("load: dead-letter topics: %w", err)
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable {
			return err
		}
		return retry.Retryable(err)
	})
}

// checkDeadLetterTables compares the dead-letter tables with the columns
// the loader writes.
func (l *Loader) checkDeadLetterTables(ctx context.Context) error {
	var errs []error
	for _, t := range []struct {
		name string
		cols []tables.Column
	}{{DeadLettersTable, deadLetterColumns}, {ReplayedTable, replayedColumns}} {
		got, err := describe(ctx, l.conn, t.name)
		if err != nil {
			return err
		}
		for _, c := range t.cols {
			if typ, ok := got[c.Name]; !ok || typ != c.Type {
				errs = append(errs, fmt.Errorf("table %s has no column %s %s: run shopstream migrate", t.name, c.Name, c.Type))
			}
		}
	}
	return errors.Join(errs...)
}

// deadLetterRow is the dead_letters row of l.
func deadLetterRow(l deadletter.Letter) []any {
	id := l.ID()
	return []any{id.Topic, uint32(id.Partition), uint64(id.Offset), string(l.Key), string(l.Value), l.Class, l.Reason,
		id.Stage, l.Time.UTC(), l.Endpoint, uint64(max(l.TruncatedFrom, 0))}
}

func replayedRow(id deadletter.ID, at time.Time) []any {
	return []any{id.Topic, uint32(id.Partition), uint64(id.Offset), at.UTC(), id.Stage}
}

// deadLetter writes b's dead records to <topic>.dlq and to dead_letters,
// both before b's offsets are committed. The table insert carries b's token,
// so a replayed batch adds nothing; the topic may get a replayed record
// twice, which is the same dead letter (the same deadletter.ID) and which
// the loader's own feed of the topic skips.
func (l *Loader) deadLetter(ctx context.Context, tbl *tables.Table, b *batch, dead []deadRecord) error {
	recs := make([]*kgo.Record, len(dead))
	rows := make([][]any, len(dead))
	now := time.Now().UTC()
	for i, d := range dead {
		r := b.recs[d.idx]
		dl := deadletter.FromKafka(deadletter.StageLoad, r, d.class, d.reason, now)
		recs[i] = dl.Record(0)
		rows[i] = deadLetterRow(dl)
		l.m.deadLetters.WithLabelValues(r.Topic, d.class).Inc()
	}
	log := l.log.With().Str("table", tbl.Raw).Str("batch_id", b.token()).Logger()
	if err := retryOp(ctx, l.m.retries.WithLabelValues(DeadLettersTable, "produce"), nil, log, "produce dead letters", func() error {
		return retry.Retryable(l.cl.ProduceSync(ctx, recs...).FirstErr())
	}); err != nil {
		return err
	}
	return l.warehouseOp(ctx, DeadLettersTable, "insert", log, func() error {
		return retry.Retryable(insertRows(ctx, l.conn, l.opts.HTTP, DeadLettersTable, deadLetterColumns, b.token(), rows))
	})
}

// decodeDLQBatch turns a batch of a dead-letter topic into rows: the dead
// letters of other stages for dead_letters (the loader's own are in the
// table already), the replayed markers for dead_letters_replayed. Replay
// requests are for the transform. A record whose headers are damaged or
// missing is still a dead letter: it is kept with what could be read.
func (l *Loader) decodeDLQBatch(b *batch) (letters, replayed [][]any) {
	for _, r := range b.recs {
		e := deadletter.Parse(r)
		if e.Err != nil {
			l.log.Warn().Err(e.Err).Str("topic", r.Topic).Int32("partition", r.Partition).Int64("offset", r.Offset).
				Msg("dead-letter record with damaged headers; kept as it is")
		}
		switch e.Kind {
		case deadletter.EntryReplayed:
			at := e.Letter.Time
			if at.IsZero() {
				at = r.Timestamp
			}
			replayed = append(replayed, replayedRow(e.ID, at))
		case "":
			dl := e.Letter
			if dl.Stage == deadletter.StageLoad {
				continue
			}
			if dl.Stage == "" {
				dl.Stage = "unknown"
			}
			if dl.Time.IsZero() {
				dl.Time = r.Timestamp
			}
			letters = append(letters, deadLetterRow(dl))
		}
	}
	return letters, replayed
}

// loadDLQBatch inserts a dead-letter topic's batch, with the batch's token
// in both tables, then commits its offsets.
func (l *Loader) loadDLQBatch(ctx context.Context, d decoded) error {
	b := d.b
	if b.timeCut {
		if err := l.commit(ctx, DeadLettersTable, b, b.first(), cutMetadata(b.last())); err != nil {
			return err
		}
	}
	log := l.log.With().Str("topic", b.topic).Str("batch_id", b.token()).Logger()
	for _, ins := range []struct {
		table string
		cols  []tables.Column
		rows  [][]any
	}{{DeadLettersTable, deadLetterColumns, d.rows}, {ReplayedTable, replayedColumns, d.replayed}} {
		if len(ins.rows) == 0 {
			continue
		}
		if err := l.warehouseOp(ctx, ins.table, "insert", log, func() error {
			return retry.Retryable(insertRows(ctx, l.conn, l.opts.HTTP, ins.table, ins.cols, b.token(), ins.rows))
		}); err != nil {
			return err
		}
		l.m.rows.WithLabelValues(ins.table).Add(float64(len(ins.rows)))
	}
	return l.commit(ctx, DeadLettersTable, b, b.last()+1, "")
}

// ReplayOptions configure ReplayDLQ.
type ReplayOptions struct {
	Brokers   []string
	KafkaOpts []kgo.Opt
	// Topic is the original topic; its dead letters are read from
	// deadletter.Topic(TopicPrefix+Topic).
	Topic       string
	TopicPrefix string
	HTTP        bool
	BatchRows   int
	Log         zerolog.Logger
}

// ReplayStats count what a replay did.
type ReplayStats struct {
	Read          int // the loader's dead letters read
	Loaded        int // now in the raw change table
	AlreadyLoaded int // were already there (an earlier replay)
	StillFailing  int // still do not decode or map
}

// ReplayDLQ re-processes the loader's dead letters of a topic, e.g. after
// the schema registry learned a missing schema or a mapping bug was fixed
// (the other stages' dead letters on the same topic are theirs to replay).
// Each record lands in the raw change table with its original partition
// and offset, so it is indistinguishable from a record loaded the first
// time. It is idempotent: changes already in the table (by partition and
// offset) are skipped, and each batch is inserted with the token
// dlq-replay-<dead-letter topic>-<partition>-<first>-<last>. Each record
// loaded (now or by an earlier replay) is recorded in dead_letters_replayed,
// so the view dead_letters_open lists only those still needing a fix.
// Records that still fail stay in the dead-letter topic for a later replay
// and are counted.
func ReplayDLQ(ctx context.Context, opts ReplayOptions, dec Decoder, conn BatchConn) (ReplayStats, error) {
	var st ReplayStats
	tbl, err := tables.ForTopic(opts.Topic)
	if err != nil {
		return st, err
	}
	dlq := deadletter.Topic(opts.TopicPrefix + opts.Topic)
	g, err := deadletter.Read(ctx, append([]kgo.Opt{kgo.SeedBrokers(opts.Brokers...)}, opts.KafkaOpts...), dlq)
	if err != nil {
		return st, fmt.Errorf("dlq replay: %w", err)
	}
	// Per partition of the dead-letter topic, in batches of BatchRows.
	byPartition := map[int32][]deadletter.Letter{}
	for _, l := range g.Letters(deadletter.KindLoad) {
		byPartition[l.DLQPartition] = append(byPartition[l.DLQPartition], l)
	}
	for _, p := range slices.Sorted(maps.Keys(byPartition)) {
		for chunk := range slices.Chunk(byPartition[p], max(opts.BatchRows, 1)) {
			if err := replayBatch(ctx, opts, tbl, dec, conn, chunk, &st); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

func replayBatch(ctx context.Context, opts ReplayOptions, tbl *tables.Table, dec Decoder, conn BatchConn, letters []deadletter.Letter, st *ReplayStats) error {
	st.Read += len(letters)
	type change struct {
		id  deadletter.ID
		row []any
	}
	var changes []change
	for _, l := range letters {
		id := l.ID()
		log := opts.Log.With().Str("dead_letter", id.String()).Logger()
		if l.Offset < 0 {
			log.Warn().Msg("dead letter without its original coordinates; left in place")
			st.StillFailing++
			continue
		}
		rec, err := dec.Decode(ctx, l.Value)
		if err != nil {
			if deadletter.DecodeClass(err) == "" {
				return fmt.Errorf("dlq replay: decode: %w", err)
			}
			log.Warn().Err(err).Msg("dead letter still does not decode")
			st.StillFailing++
			continue
		}
		row, err := tbl.Row(rec, l.Key, l.Partition, l.Offset)
		if err != nil {
			log.Warn().Err(err).Msg("dead letter still does not map")
			st.StillFailing++
			continue
		}
		changes = append(changes, change{id, row})
	}
	if len(changes) == 0 {
		return nil
	}
	coords := make([]string, len(changes))
	for i, c := range changes {
		coords[i] = fmt.Sprintf("(%d, %d)", c.id.Partition, c.id.Offset)
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT _partition, _offset FROM `%s` WHERE (_partition, _offset) IN (%s)", tbl.Raw, strings.Join(coords, ", ")))
	if err != nil {
		return fmt.Errorf("dlq replay: look up loaded changes: %w", err)
	}
	loaded := map[[2]int64]bool{}
	for rows.Next() {
		var p uint32
		var o uint64
		if err := rows.Scan(&p, &o); err != nil {
			rows.Close()
			return fmt.Errorf("dlq replay: look up loaded changes: %w", err)
		}
		loaded[[2]int64{int64(p), int64(o)}] = true
	}
	// A read that fails part way must not pass for "not loaded": those
	// changes would be inserted again and counted as replayed.
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("dlq replay: look up loaded changes: %w", err)
	}
	var out, replayed [][]any
	now := time.Now().UTC()
	for _, c := range changes {
		replayed = append(replayed, replayedRow(c.id, now))
		if loaded[[2]int64{int64(c.id.Partition), c.id.Offset}] {
			st.AlreadyLoaded++
			continue
		}
		out = append(out, c.row)
	}
	first, last := letters[0], letters[len(letters)-1]
	// Not the token the loader gives the dead-letter topic's own batches.
	token := fmt.Sprintf("dlq-replay-%s-%d-%d-%d", deadletter.Topic(first.Topic), first.DLQPartition, first.DLQOffset, last.DLQOffset)
	if len(out) > 0 {
		if err := insertRows(ctx, conn, opts.HTTP, tbl.Raw, tbl.Columns, token, out); err != nil {
			return fmt.Errorf("dlq replay: %w", err)
		}
		st.Loaded += len(out)
	}
	// Only after the changes are in: a crash in between leaves them open,
	// and the next replay finds them loaded and marks them.
	if err := insertRows(ctx, conn, opts.HTTP, ReplayedTable, replayedColumns, token, replayed); err != nil {
		return fmt.Errorf("dlq replay: mark replayed: %w", err)
	}
	return nil
}

// MarkReplayed records in dead_letters_replayed that the dead letters ids
// were replayed by someone other than the loader (ingest, replayed by `dlq
// replay` through its stage's writer, which also wrote their markers to
// Kafka): the open list is then current at once, not only when the loader
// has read the markers. Marking twice is harmless.
func MarkReplayed(ctx context.Context, conn BatchConn, http bool, ids []deadletter.ID) error {
	if len(ids) == 0 {
		return nil
	}
	now := time.Now().UTC()
	rows := make([][]any, len(ids))
	h := sha256.New()
	for i, id := range ids {
		rows[i] = replayedRow(id, now)
		fmt.Fprintln(h, id.String())
	}
	token := "dlq-replayed-" + hex.EncodeToString(h.Sum(nil))
	if err := insertRows(ctx, conn, http, ReplayedTable, replayedColumns, token, rows); err != nil {
		return fmt.Errorf("dlq replay: mark replayed: %w", err)
	}
	return nil
}
