package load

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/load/tables"
)

// DeadLettersTable holds every dead letter next to the data.
const DeadLettersTable = "dead_letters"

// Headers of a dead-letter record; its key and value are the original ones.
const (
	HeaderReason     = "shopstream.dlq.reason"
	HeaderErrorClass = "shopstream.dlq.error_class"
	HeaderStage      = "shopstream.dlq.stage"
	HeaderTopic      = "shopstream.dlq.original_topic"
	HeaderPartition  = "shopstream.dlq.original_partition"
	HeaderOffset     = "shopstream.dlq.original_offset"
)

// DLQTopic returns the dead-letter topic of topic.
func DLQTopic(topic string) string { return topic + ".dlq" }

// ReplayedTable records the dead letters a replay loaded; the view
// dead_letters_open lists those it has not.
const ReplayedTable = "dead_letters_replayed"

var replayedColumns = []tables.Column{
	{Name: "source_topic", Type: "LowCardinality(String)"},
	{Name: "source_partition", Type: "UInt32"},
	{Name: "source_offset", Type: "UInt64"},
	{Name: "replayed_at", Type: "DateTime64(3, 'UTC')"},
}

var deadLetterColumns = []tables.Column{
	{Name: "source_topic", Type: "LowCardinality(String)"},
	{Name: "source_partition", Type: "UInt32"},
	{Name: "source_offset", Type: "UInt64"},
	{Name: "key", Type: "String"},
	{Name: "value", Type: "String"},
	{Name: "error_class", Type: "LowCardinality(String)"},
	{Name: "reason", Type: "String"},
	{Name: "stage", Type: "LowCardinality(String)"},
	{Name: "dead_at", Type: "DateTime64(3, 'UTC')"},
}

func (l *Loader) ensureDLQTopics(ctx context.Context) error {
	dlqs := make([]string, len(l.topics))
	for i, t := range l.topics {
		dlqs[i] = DLQTopic(t)
	}
	// Unlimited retention: `dlq replay` reads the topic, whenever the fix
	// comes.
	if err := kafkatopic.Ensure(ctx, l.adm, kafkatopic.KeepAll(), dlqs...); err != nil {
		return fmt.Errorf("load: dead-letter topics: %w", err)
	}
	return nil
}

// deadLetter writes b's dead records to <topic>.dlq and to dead_letters,
// both before b's offsets are committed. The table insert carries b's token,
// so a replayed batch adds nothing; the topic may get a replayed record
// twice, which dlq replay tolerates (it skips changes already loaded).
func (l *Loader) deadLetter(ctx context.Context, tbl *tables.Table, b *batch, dead []deadRecord) error {
	recs := make([]*kgo.Record, len(dead))
	rows := make([][]any, len(dead))
	now := time.Now().UTC()
	for i, d := range dead {
		r := b.recs[d.idx]
		recs[i] = &kgo.Record{
			Topic: DLQTopic(r.Topic), Key: r.Key, Value: r.Value,
			Headers: []kgo.RecordHeader{
				{Key: HeaderReason, Value: []byte(d.reason)},
				{Key: HeaderErrorClass, Value: []byte(d.class)},
				{Key: HeaderStage, Value: []byte("load")},
				{Key: HeaderTopic, Value: []byte(r.Topic)},
				{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
				{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
			},
		}
		rows[i] = []any{r.Topic, uint32(r.Partition), uint64(r.Offset), string(r.Key), string(r.Value), d.class, d.reason, "load", now}
		l.m.deadLetters.WithLabelValues(r.Topic, d.class).Inc()
	}
	log := l.log.With().Str("table", tbl.Raw).Str("batch_id", b.token()).Logger()
	if err := retry(ctx, l.m.retries.WithLabelValues(DeadLettersTable, "produce"), log, "produce dead letters", func() error {
		return l.cl.ProduceSync(ctx, recs...).FirstErr()
	}); err != nil {
		return err
	}
	return retry(ctx, l.m.retries.WithLabelValues(DeadLettersTable, "insert"), log, "insert dead letters", func() error {
		return insertRows(ctx, l.conn, l.opts.HTTP, DeadLettersTable, deadLetterColumns, b.token(), rows)
	})
}

// ReplayOptions configure ReplayDLQ.
type ReplayOptions struct {
	Brokers   []string
	KafkaOpts []kgo.Opt
	// Topic is the original topic; its dead letters are read from
	// DLQTopic(TopicPrefix+Topic).
	Topic       string
	TopicPrefix string
	HTTP        bool
	BatchRows   int
	Log         zerolog.Logger
}

// ReplayStats count what a replay did.
type ReplayStats struct {
	Read          int // dead letters read
	Loaded        int // now in the raw change table
	AlreadyLoaded int // were already there (an earlier replay)
	StillFailing  int // still do not decode or map
}

// ReplayDLQ re-processes every dead letter of a topic, e.g. after the
// schema registry learned a missing schema or a mapping bug was fixed. Each
// record lands in the raw change table with its original partition and
// offset, so it is indistinguishable from a record loaded the first time.
// It is idempotent: changes already in the table (by partition and offset)
// are skipped, and each batch is inserted with the token
// <topic>.dlq-<partition>-<first>-<last>. Each record loaded (now or by an
// earlier replay) is recorded in dead_letters_replayed, so the view
// dead_letters_open lists only those still needing a fix. Records that still
// fail stay in the dead-letter topic for a later replay and are counted.
func ReplayDLQ(ctx context.Context, opts ReplayOptions, dec Decoder, conn BatchConn) (ReplayStats, error) {
	var st ReplayStats
	tbl, err := tables.ForTopic(opts.Topic)
	if err != nil {
		return st, err
	}
	dlq := DLQTopic(opts.TopicPrefix + opts.Topic)
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(opts.Brokers...),
		kgo.ConsumeTopics(dlq),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}, opts.KafkaOpts...)...)
	if err != nil {
		return st, fmt.Errorf("dlq replay: kafka client: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, dlq)
	if err != nil {
		return st, fmt.Errorf("dlq replay: end offsets of %s: %w", dlq, err)
	}
	if err := ends.Error(); err != nil {
		return st, fmt.Errorf("dlq replay: end offsets of %s: %w", dlq, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	pending := map[int32][]*kgo.Record{}
	flush := func(p int32) error {
		recs := pending[p]
		pending[p] = nil
		if len(recs) == 0 {
			return nil
		}
		return replayBatch(ctx, opts, tbl, dec, conn, recs, &st)
	}
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return st, fmt.Errorf("dlq replay: fetch %s: %w", dlq, errs[0].Err)
		}
		var ferr error
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || ferr != nil {
				return
			}
			pending[r.Partition] = append(pending[r.Partition], r)
			if len(pending[r.Partition]) >= opts.BatchRows || r.Offset+1 >= end {
				ferr = flush(r.Partition)
			}
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
		if ferr != nil {
			return st, ferr
		}
	}
	return st, nil
}

func replayBatch(ctx context.Context, opts ReplayOptions, tbl *tables.Table, dec Decoder, conn BatchConn, recs []*kgo.Record, st *ReplayStats) error {
	st.Read += len(recs)
	type change struct {
		topic     string
		partition int32
		offset    int64
		row       []any
	}
	var changes []change
	for _, r := range recs {
		topic, partition, offset, err := originalCoordinates(r)
		if err != nil {
			opts.Log.Warn().Err(err).Int64("offset", r.Offset).Msg("dead letter without coordinates; left in place")
			st.StillFailing++
			continue
		}
		rec, err := dec.Decode(ctx, r.Value)
		if err != nil {
			if poisonClass(err) == "" {
				return fmt.Errorf("dlq replay: decode: %w", err)
			}
			opts.Log.Warn().Err(err).Int32("partition", partition).Int64("offset", offset).Msg("dead letter still does not decode")
			st.StillFailing++
			continue
		}
		row, err := tbl.Row(rec, r.Key, partition, offset)
		if err != nil {
			opts.Log.Warn().Err(err).Int32("partition", partition).Int64("offset", offset).Msg("dead letter still does not map")
			st.StillFailing++
			continue
		}
		changes = append(changes, change{topic, partition, offset, row})
	}
	if len(changes) == 0 {
		return nil
	}
	coords := make([]string, len(changes))
	for i, c := range changes {
		coords[i] = fmt.Sprintf("(%d, %d)", c.partition, c.offset)
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
	rows.Close()
	var out, replayed [][]any
	now := time.Now().UTC()
	for _, c := range changes {
		replayed = append(replayed, []any{c.topic, uint32(c.partition), uint64(c.offset), now})
		if loaded[[2]int64{int64(c.partition), c.offset}] {
			st.AlreadyLoaded++
			continue
		}
		out = append(out, c.row)
	}
	token := fmt.Sprintf("%s-%d-%d-%d", recs[0].Topic, recs[0].Partition, recs[0].Offset, recs[len(recs)-1].Offset)
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

func originalCoordinates(r *kgo.Record) (string, int32, int64, error) {
	var topic, p, o string
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderTopic:
			topic = string(h.Value)
		case HeaderPartition:
			p = string(h.Value)
		case HeaderOffset:
			o = string(h.Value)
		}
	}
	pn, err1 := strconv.ParseInt(p, 10, 32)
	on, err2 := strconv.ParseInt(o, 10, 64)
	var err3 error
	if topic == "" {
		err3 = errors.New("no " + HeaderTopic + " header")
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", 0, 0, fmt.Errorf("dead letter %s/%d/%d: original coordinates: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return topic, int32(pn), on, nil
}
