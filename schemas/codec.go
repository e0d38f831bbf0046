package schemas

import (
	"fmt"

	"github.com/linkedin/goavro/v2"
)

// maxBlockCount bounds the entries of one array or map block that goavro
// accepts. goavro allocates a block's entries up front from the count it
// reads, so a corrupt value of five bytes can ask for 2^31 entries (32 GiB)
// and end the process with a fatal out-of-memory error that no recover
// catches: one bad Kafka record would crash-loop the consumer. No record of
// these schemas comes near the bound: every array entry takes at least one
// byte and a Kafka record is a few MiB at most.
const maxBlockCount = 1 << 20

func init() {
	// goavro documents the limit as a variable to tune. It is process-wide,
	// so lowering it guards every goavro user in the binary; only raise
	// it back with a reason.
	if goavro.MaxBlockCount > maxBlockCount {
		goavro.MaxBlockCount = maxBlockCount
	}
}

// Codec converts the records of one topic between goavro's native form and
// Avro binary (without any wire-format header). It is safe for concurrent use.
type Codec struct {
	topic string
	avro  *goavro.Codec
}

// NewCodec returns the codec of topic's embedded schema.
func NewCodec(topic string) (*Codec, error) {
	text, err := Source(topic)
	if err != nil {
		return nil, err
	}
	c, err := newAvroCodec(text)
	if err != nil {
		return nil, fmt.Errorf("schemas: compile schema of topic %q: %w", topic, err)
	}
	return &Codec{topic: topic, avro: c}, nil
}

// Topic returns the topic whose schema the codec uses.
func (c *Codec) Topic() string { return c.topic }

// Encode returns the Avro binary encoding of the record v, given in goavro's
// native form (see the package documentation).
func (c *Codec) Encode(v map[string]any) ([]byte, error) {
	b, err := c.avro.BinaryFromNative(nil, v)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode %s record: %w", c.topic, err)
	}
	return b, nil
}

// Decode returns the record encoded in b, in goavro's native form. Bytes left
// over after the record are an error: they mean b was written with another
// schema.
func (c *Codec) Decode(b []byte) (map[string]any, error) {
	v, err := decodeRecord(c.avro, b)
	if err != nil {
		return nil, fmt.Errorf("schemas: decode %s record: %w", c.topic, err)
	}
	return v, nil
}

// newAvroCodec compiles schema text. Every codec in the package is built here
// so that embedded schemas and schemas fetched from the registry behave alike.
func newAvroCodec(schema string) (*goavro.Codec, error) {
	return goavro.NewCodec(schema)
}

// decodeRecord decodes exactly one top-level record from b.
func decodeRecord(c *goavro.Codec, b []byte) (map[string]any, error) {
	native, rest, err := c.NativeFromBinary(b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the record", len(rest))
	}
	rec, ok := native.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decoded %T, want a record", native)
	}
	return rec, nil
}
