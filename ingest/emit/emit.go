package emit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/schemas"
)

// Errors of [Writer.Commit] that tell the caller what became of the batch.
// Any other error means the outcome is unknown: close the Writer, create a
// new one and reload cursors and change-capture state, which then say what
// was committed.
var (
	// ErrAborted: the transaction was aborted; none of the batch is
	// visible to read_committed readers. The Writer can take the next batch.
	ErrAborted = errors.New("emit: transaction aborted, nothing was written")
	// ErrFenced: a Writer with the same transactional id took over (another
	// instance of the stage, or this one after a transaction outlived the
	// transaction timeout). Nothing of the batch is visible. This Writer is
	// dead; if this keeps happening, two instances share one id.
	ErrFenced = errors.New("emit: fenced by a newer producer with the same transactional id")
)

// Encoder encodes a record of a topic in the Confluent wire format;
// *schemas.Serde is one.
type Encoder interface {
	Encode(topic string, v map[string]any) ([]byte, error)
}

// Participant has state that must commit or roll back with the transaction,
// such as a *changecapture.Tracker: its pending state goes into the
// transaction as cursor records.
type Participant interface {
	Pending(ingestTS time.Time) []cursor.Cursor
	Commit()
	Rollback()
}

// DefaultMaxDeadLetterBytes bounds the payload of a dead letter: Kafka's
// default max.message.bytes is 1 MiB, and a dead letter too large to write
// would abort every transaction that carries it, stopping the stage.
const DefaultMaxDeadLetterBytes = 512 << 10

// Config configures a Writer.
type Config struct {
	// ClientOpts connect to the cluster (seed brokers, SASL, TLS, logger).
	// The Writer adds the transactional id.
	ClientOpts []kgo.Opt
	// TransactionalID must be stable for one instance of one stage across
	// restarts and unique among running instances; see [TransactionalID].
	TransactionalID string
	// Stage names the stage in dead-letter headers, e.g. ingest-amazon
	// (deadletter.IngestStage).
	Stage string
	// Encoder encodes records and cursors.
	Encoder Encoder
	// CursorTopic is where cursors go; empty means schemas.TopicCursors.
	CursorTopic string
	// MaxDeadLetterBytes bounds dead-letter payloads; 0 means
	// DefaultMaxDeadLetterBytes.
	MaxDeadLetterBytes int
	// Now is the clock for ingest times and dead-letter times; nil means
	// time.Now.
	Now func() time.Time
}

// TransactionalID returns the transactional id of one instance of an ingest
// stage: shopstream-ingest-<source>-<instance>. instance must survive
// restarts (a shard name, a StatefulSet ordinal), so that a restarted
// instance fences the producer of its previous incarnation.
func TransactionalID(source, instance string) string {
	return "shopstream-ingest-" + source + "-" + instance
}

// Writer writes batches of records, dead letters and cursors, each batch in
// one Kafka transaction. It is not safe for concurrent use: a stage has one
// loop that commits.
type Writer struct {
	cl          *kgo.Client
	enc         Encoder
	stage       string
	cursorTopic string
	maxDLQ      int
	now         func() time.Time

	// beforeEnd, when set (by tests), runs after every record of a batch
	// was acknowledged and before the transaction ends; an error leaves the
	// transaction open, as a crash at that point would.
	beforeEnd func(context.Context) error
}

// New returns a Writer with its own transactional client. Before returning
// it initialises the producer id, which fences any earlier producer with the
// same transactional id and waits until that producer's open transaction is
// aborted (or its commit completed). Load cursors only after New returned:
// from then on nothing but this Writer moves them.
func New(ctx context.Context, cfg Config) (*Writer, error) {
	if cfg.TransactionalID == "" || cfg.Encoder == nil || cfg.Stage == "" {
		return nil, errors.New("emit: config needs a transactional id, a stage and an encoder")
	}
	w := &Writer{
		enc:         cfg.Encoder,
		stage:       cfg.Stage,
		cursorTopic: cfg.CursorTopic,
		maxDLQ:      cfg.MaxDeadLetterBytes,
		now:         cfg.Now,
	}
	if w.cursorTopic == "" {
		w.cursorTopic = schemas.TopicCursors
	}
	if w.maxDLQ <= 0 {
		w.maxDLQ = DefaultMaxDeadLetterBytes
	}
	if w.now == nil {
		w.now = time.Now
	}
	opts := append(slices.Clone(cfg.ClientOpts), kgo.TransactionalID(cfg.TransactionalID))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("emit: client for transactional id %s: %w", cfg.TransactionalID, err)
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("emit: init producer id for transactional id %s: %w", cfg.TransactionalID, err)
	}
	w.cl = cl
	return w, nil
}

// Close closes the client. An open transaction (there is none between
// Commits) is left to the broker, which aborts it when the next Writer with
// the same id starts or when it times out.
func (w *Writer) Close() { w.cl.Close() }

// NewBatch returns an empty batch for this Writer.
func (w *Writer) NewBatch() *Batch { return &Batch{w: w} }

// Batch collects what one transaction writes. Build it, then hand it to
// [Writer.Commit].
type Batch struct {
	w            *Writer
	records      []*kgo.Record
	nRecords     int
	nDeadLetters int
	nCursors     int
	participants []Participant
}

// Add encodes value for topic and adds it with key, the entity's natural
// key. An error means value does not fit the topic's schema: the batch is
// unchanged, and the payload it came from belongs in a dead letter.
func (b *Batch) Add(topic, key string, value map[string]any) error {
	v, err := b.w.enc.Encode(topic, value)
	if err != nil {
		return fmt.Errorf("emit: encode %s record %q: %w", topic, key, err)
	}
	b.records = append(b.records, &kgo.Record{Topic: topic, Key: []byte(key), Value: v})
	b.nRecords++
	return nil
}

// DeadLetter is an API payload that could not become a record.
type DeadLetter struct {
	// Topic is the topic the payload was meant for; the dead letter goes to
	// deadletter.Topic(Topic).
	Topic string
	// Key is the entity key if it is known, else empty.
	Key string
	// Payload is the raw payload as the API sent it.
	Payload []byte
	// Reason says what is wrong with it, and Class sorts it (a
	// deadletter.Class* constant; ClassMalformed when empty).
	Reason string
	Class  string
	// Endpoint is the API operation or URL path it came from.
	Endpoint string
	// Change is the change capture recorded for the payload before writing
	// it failed, if any: a replay writes that change.
	Change *deadletter.Change
}

// AddDeadLetter adds d to the batch as a dead letter of package
// deadletter: the payload as the value (cut to the size limit), the
// reason, class, stage, endpoint and time as headers. It commits with the
// batch, so the window that contained the payload is done and the stage
// goes on.
func (b *Batch) AddDeadLetter(d DeadLetter) {
	class := d.Class
	if class == "" {
		class = deadletter.ClassMalformed
	}
	l := deadletter.FromPayload(b.w.stage, d.Topic, d.Key, d.Payload, d.Endpoint, class, d.Reason, b.w.now())
	l.Change = d.Change
	b.records = append(b.records, l.Record(b.w.maxDLQ))
	b.nDeadLetters++
}

// AddReplayed adds the marker that the dead letter id was replayed: it
// commits with the records the replay wrote, so a dead letter is marked
// exactly when its records are in.
func (b *Batch) AddReplayed(id deadletter.ID) {
	b.records = append(b.records, deadletter.MarkerRecord(id, b.w.now()))
}

// SetCursor adds cursors to the batch: the position(s) the batch's records
// bring the stage to.
func (b *Batch) SetCursor(cs ...cursor.Cursor) error {
	for _, c := range cs {
		if err := b.addCursor(c); err != nil {
			return err
		}
	}
	return nil
}

func (b *Batch) addCursor(c cursor.Cursor) error {
	if c.Source == "" || c.Name == "" {
		return fmt.Errorf("emit: cursor without source or name: %+v", c)
	}
	v, err := b.w.enc.Encode(b.w.cursorTopic, c.Record())
	if err != nil {
		return fmt.Errorf("emit: encode cursor %s: %w", c.Key(), err)
	}
	b.records = append(b.records, &kgo.Record{Topic: b.w.cursorTopic, Key: []byte(c.Key()), Value: v})
	b.nCursors++
	return nil
}

// Join makes p's pending state part of the batch: Commit writes it in the
// transaction and then commits p, or rolls it back if the batch did not
// commit.
func (b *Batch) Join(p Participant) {
	b.participants = append(b.participants, p)
}

// Counts returns how many records, dead letters and cursors the batch holds
// (not counting participants' state).
func (b *Batch) Counts() (records, deadLetters, cursors int) {
	return b.nRecords, b.nDeadLetters, b.nCursors
}

// Commit writes the batch in one transaction: every record, dead letter and
// cursor, and the participants' pending state. On success all of it is
// visible to read_committed readers at once; on any error none of it is
// (see [ErrAborted] and [ErrFenced]; other errors leave the outcome unknown
// and the Writer unusable). Participants are committed on success and rolled
// back otherwise. Commit takes b even when it holds nothing: it then writes
// nothing.
func (w *Writer) Commit(ctx context.Context, b *Batch) (err error) {
	defer func() {
		for _, p := range b.participants {
			if err == nil {
				p.Commit()
			} else {
				p.Rollback()
			}
		}
	}()
	records := b.records
	now := w.now()
	for _, p := range b.participants {
		for _, c := range p.Pending(now) {
			v, err := w.enc.Encode(w.cursorTopic, c.Record())
			if err != nil {
				return fmt.Errorf("%w: encode state cursor %s: %w", ErrAborted, c.Key(), err)
			}
			records = append(records, &kgo.Record{Topic: w.cursorTopic, Key: []byte(c.Key()), Value: v})
		}
	}
	if len(records) == 0 {
		return nil
	}

	if err := w.cl.BeginTransaction(); err != nil {
		return classify(fmt.Errorf("emit: begin transaction: %w", err))
	}
	// Ending a transaction is not cancelled with the caller's context:
	// franz-go warns that a cancelled EndTxn leaves the outcome unknowable.
	// The client's own request timeouts and retry limits still bound it.
	endCtx := context.WithoutCancel(ctx)
	// ProduceSync waits for every record's acknowledgement, so every
	// produce error is known before the transaction ends.
	if perr := w.cl.ProduceSync(ctx, records...).FirstErr(); perr != nil {
		if aerr := w.cl.EndTransaction(endCtx, kgo.TryAbort); aerr != nil {
			return classify(fmt.Errorf("emit: produce failed (%w), then abort failed: %w", perr, aerr))
		}
		return classify(fmt.Errorf("%w: produce: %w", ErrAborted, perr))
	}
	if w.beforeEnd != nil {
		if err := w.beforeEnd(ctx); err != nil {
			return err
		}
	}
	cerr := w.cl.EndTransaction(endCtx, kgo.TryCommit)
	if cerr == nil {
		return nil
	}
	// The commit was refused or its outcome is unknown. franz-go's answer
	// to both is an abort, which for an unconfirmed commit bumps the epoch
	// and fence-aborts whatever is still open broker-side; only a refusal
	// that never reached the log (OperationNotAttempted,
	// TransactionAbortable) lets us say that nothing was written.
	aerr := w.cl.EndTransaction(endCtx, kgo.TryAbort)
	if aerr == nil && (errors.Is(cerr, kerr.OperationNotAttempted) || errors.Is(cerr, kerr.TransactionAbortable)) {
		return fmt.Errorf("%w: commit refused: %w", ErrAborted, cerr)
	}
	if aerr != nil {
		return classify(fmt.Errorf("emit: commit: %w; abort after it: %w", cerr, aerr))
	}
	return classify(fmt.Errorf("emit: commit outcome unknown: %w", cerr))
}

// classify marks errors that mean this producer was fenced.
func classify(err error) error {
	fenced := errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
	if fenced && !errors.Is(err, ErrFenced) {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return err
}
