package schemas

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Errors of Serde.Decode. They tell a value that can never be decoded (send it
// to the dead-letter topic) from a registry that is merely unreachable (retry):
// the latter matches none of them.
var (
	// ErrBadHeader: the value does not start with the Confluent wire-format
	// header (magic byte 0 and a 4-byte schema id).
	ErrBadHeader = errors.New("schemas: not in Confluent wire format")
	// ErrUnknownSchemaID: the registry has no schema with the header's id.
	ErrUnknownSchemaID = errors.New("schemas: schema id unknown to the registry")
	// ErrUndecodable: the value does not decode as Avro with the schema its
	// header names.
	ErrUndecodable = errors.New("schemas: value does not decode with its schema")
)

// wireHeader is the Confluent header: magic byte 0, then the schema id as a
// 4-byte big-endian integer.
var wireHeader sr.ConfluentHeader

const headerLen = 5

// Registry registers the embedded schemas with a Confluent-compatible schema
// registry and builds wire-format serdes from it.
type Registry struct {
	client *sr.Client
}

// NewRegistry returns a Registry that talks to the registry through client.
func NewRegistry(client *sr.Client) *Registry {
	return &Registry{client: client}
}

// Register makes sure every embedded schema is registered under its topic's
// subject and returns the schema id per subject. For each subject it sets the
// compatibility level to BACKWARD, asks the registry whether the embedded
// schema is compatible with the latest registered version, and registers it
// only if so. Registering an unchanged schema is a no-op that returns the
// existing id.
//
// Register goes through all topics even when some fail, so one run reports
// every problem; the returned map then holds the subjects that succeeded and
// the error joins one error per failed topic.
func (r *Registry) Register(ctx context.Context) (map[string]int, error) {
	ids := make(map[string]int, len(topics))
	var errs []error
	for _, topic := range topics {
		if err := ctx.Err(); err != nil {
			// One "context canceled" per remaining topic would bury the cause.
			errs = append(errs, fmt.Errorf("schemas: register stopped before topic %s: %w", topic, err))
			break
		}
		text, err := Source(topic)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		id, err := r.register(ctx, topic, text)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids[Subject(topic)] = id
	}
	return ids, errors.Join(errs...)
}

// register registers schema text for topic; see Register.
func (r *Registry) register(ctx context.Context, topic, text string) (int, error) {
	subject := Subject(topic)
	for _, res := range r.client.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject) {
		if res.Err != nil {
			return 0, fmt.Errorf("schemas: topic %s: set compatibility of subject %s to BACKWARD: %w", topic, subject, res.Err)
		}
	}
	schema := sr.Schema{Schema: text, Type: sr.TypeAvro}

	// Check before registering: a registry that enforces compatibility only on
	// this endpoint (or a fake that does not enforce it at all on register)
	// must not end up with an incompatible version. Verbose asks the registry
	// for its reasons.
	res, err := r.client.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), subject, -1, schema)
	switch {
	case isNotFound(err):
		// No version yet: the first one is compatible by definition.
	case err != nil:
		return 0, fmt.Errorf("schemas: topic %s: check compatibility with subject %s: %w", topic, subject, err)
	case !res.Is:
		reasons := "the registry gave no reason"
		if len(res.Messages) > 0 {
			reasons = strings.Join(res.Messages, "; ")
		}
		return 0, fmt.Errorf("schemas: topic %s: schema is not BACKWARD compatible with the latest version of subject %s: %s", topic, subject, reasons)
	}

	id, err := r.client.RegisterSchema(ctx, subject, schema, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("schemas: topic %s: register schema under subject %s: %w", topic, subject, err)
	}
	return id, nil
}

// isNotFound reports whether err is the registry saying that the subject or
// version does not exist.
func isNotFound(err error) bool {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.ErrorCode == sr.ErrSubjectNotFound.Code || re.ErrorCode == sr.ErrVersionNotFound.Code
}

// Serde returns a Serde that encodes records of forTopics (all topics when
// none are given) with the ids under which their embedded schemas are registered.
// It does not register anything: run Register first.
func (r *Registry) Serde(ctx context.Context, forTopics ...string) (*Serde, error) {
	if len(forTopics) == 0 {
		forTopics = Topics()
	}
	s := &Serde{
		client: r.client,
		enc:    make(map[string]encoder, len(forTopics)),
		byID:   make(map[int]*goavro.Codec, len(forTopics)),
	}
	for _, topic := range forTopics {
		text, err := Source(topic)
		if err != nil {
			return nil, err
		}
		c, err := NewCodec(topic)
		if err != nil {
			return nil, err
		}
		subject := Subject(topic)
		ss, err := r.client.LookupSchema(ctx, subject, sr.Schema{Schema: text, Type: sr.TypeAvro})
		if err != nil {
			if isNotFound(err) || isSchemaNotFound(err) {
				return nil, fmt.Errorf("schemas: topic %s: embedded schema is not registered under subject %s (run Register first): %w", topic, subject, err)
			}
			return nil, fmt.Errorf("schemas: topic %s: look up schema id in subject %s: %w", topic, subject, err)
		}
		s.enc[topic] = encoder{id: ss.ID, codec: c}
		// Our own records decode without a registry round trip.
		s.byID[ss.ID] = c.avro
	}
	return s, nil
}

// isSchemaNotFound reports whether err is the registry saying that it has no
// such schema (unknown id, or a schema not registered under the subject).
func isSchemaNotFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.ErrorCode == sr.ErrSchemaNotFound.Code
}

// Serde converts records between goavro's native form and the Confluent wire
// format: magic byte 0, the 4-byte big-endian schema id, then Avro binary.
// It encodes with the ids of the embedded schemas and decodes any value whose
// schema id the registry knows, so records written with an older version of a
// schema still decode (with that older schema: fields it lacks are absent from
// the map). It is safe for concurrent use.
type Serde struct {
	client *sr.Client
	enc    map[string]encoder // by topic; read-only after construction

	mu   sync.RWMutex
	byID map[int]*goavro.Codec
}

// WireFormat encodes records of a topic in the Confluent wire format and
// decodes wire-format values: what the stages need of a Serde, which is one
// (tests substitute their own).
type WireFormat interface {
	Encode(topic string, v map[string]any) ([]byte, error)
	Decode(ctx context.Context, b []byte) (map[string]any, error)
}

var _ WireFormat = (*Serde)(nil)

type encoder struct {
	id    int
	codec *Codec
}

// Encode returns record v of topic in the wire format.
func (s *Serde) Encode(topic string, v map[string]any) ([]byte, error) {
	e, ok := s.enc[topic]
	if !ok {
		return nil, fmt.Errorf("%w %q in this serde", ErrUnknownTopic, topic)
	}
	b, err := wireHeader.AppendEncode(make([]byte, 0, 256), e.id, nil)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode %s header: %w", topic, err)
	}
	b, err = e.codec.avro.BinaryFromNative(b, v)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode %s record with schema id %d: %w", topic, e.id, err)
	}
	return b, nil
}

// AppendHeader appends the wire-format header of topic's schema (magic
// byte and schema id) to b, for a caller that writes the Avro body itself.
func (s *Serde) AppendHeader(b []byte, topic string) ([]byte, error) {
	e, ok := s.enc[topic]
	if !ok {
		return nil, fmt.Errorf("%w %q in this serde", ErrUnknownTopic, topic)
	}
	b, err := wireHeader.AppendEncode(b, e.id, nil)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode %s header: %w", topic, err)
	}
	return b, nil
}

// Decode returns the record in the wire-format value b, in goavro's native
// form. A schema id seen for the first time is fetched from the registry,
// which is what ctx bounds. Values that can never decode fail with an error
// matching ErrBadHeader, ErrUnknownSchemaID or ErrUndecodable.
func (s *Serde) Decode(ctx context.Context, b []byte) (map[string]any, error) {
	id, c, payload, err := s.split(ctx, b)
	if err != nil {
		return nil, err
	}
	v, err := decodeRecord(c, payload)
	if err != nil {
		return nil, fmt.Errorf("%w: schema id %d: %w", ErrUndecodable, id, err)
	}
	return v, nil
}

// WriterSchema returns the id and text of the schema the wire-format value
// b was written with, and its Avro payload, for decoders of their own. It
// fails like Decode on a bad header or an unknown id.
func (s *Serde) WriterSchema(ctx context.Context, b []byte) (id int, schema string, payload []byte, err error) {
	id, c, payload, err := s.split(ctx, b)
	if err != nil {
		return 0, "", nil, err
	}
	return id, c.Schema(), payload, nil
}

// split reads the wire-format header of b and finds its schema's codec.
func (s *Serde) split(ctx context.Context, b []byte) (int, *goavro.Codec, []byte, error) {
	if len(b) < headerLen {
		return 0, nil, nil, fmt.Errorf("%w: value has %d bytes, the header alone needs %d", ErrBadHeader, len(b), headerLen)
	}
	if b[0] != 0 {
		return 0, nil, nil, fmt.Errorf("%w: magic byte is 0x%02x, want 0x00", ErrBadHeader, b[0])
	}
	id, payload, err := wireHeader.DecodeID(b)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %w", ErrBadHeader, err)
	}
	c, err := s.codec(ctx, id)
	if err != nil {
		return 0, nil, nil, err
	}
	return id, c, payload, nil
}

// codec returns the codec of schema id, fetching and caching it on first use.
func (s *Serde) codec(ctx context.Context, id int) (*goavro.Codec, error) {
	s.mu.RLock()
	c, ok := s.byID[id]
	s.mu.RUnlock()
	if ok {
		return c, nil
	}

	// Fetch without holding the lock so one slow lookup does not stall
	// decoding of known ids; concurrent first uses may fetch twice, which is
	// harmless because a schema id never changes meaning.
	schema, err := s.client.SchemaByID(ctx, id)
	if err != nil {
		if isSchemaNotFound(err) {
			return nil, fmt.Errorf("%w: id %d: %w", ErrUnknownSchemaID, id, err)
		}
		return nil, fmt.Errorf("schemas: fetch schema id %d from the registry: %w", id, err)
	}
	if schema.Type != sr.TypeAvro {
		return nil, fmt.Errorf("%w: schema id %d is a %s schema, not Avro", ErrUndecodable, id, schema.Type)
	}
	c, err = newAvroCodec(schema.Schema)
	if err != nil {
		return nil, fmt.Errorf("%w: compile schema id %d: %w", ErrUndecodable, id, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.byID[id]; ok {
		return prev, nil
	}
	s.byID[id] = c
	return c, nil
}
