package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/stream"
)

// benchSerde is the stage's Serde over the embedded schemas, without a
// registry: values carry a one-byte topic index where the Confluent wire
// format has a magic byte and a schema id (which the stage resolves from
// a cache, as this does from a slice).
type benchSerde struct {
	codecs []*schemas.Codec
	texts  []string // the schema of each codec
	topics []string // the topic of each codec
	index  map[string]byte
}

func newBenchSerde() (*benchSerde, error) {
	s := &benchSerde{index: map[string]byte{}}
	for _, t := range append(stream.Topics(), join.TopicProductDaily, identity.TopicProductLinks) {
		c, err := schemas.NewCodec(t)
		if err != nil {
			return nil, err
		}
		text, err := schemas.Source(t)
		if err != nil {
			return nil, err
		}
		s.index[t] = byte(len(s.codecs))
		s.codecs = append(s.codecs, c)
		s.texts = append(s.texts, text)
		s.topics = append(s.topics, t)
	}
	return s, nil
}

func (s *benchSerde) Encode(topic string, v map[string]any) ([]byte, error) {
	i, ok := s.index[topic]
	if !ok {
		return nil, fmt.Errorf("no schema for %s", topic)
	}
	b, err := s.codecs[i].Encode(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{i}, b...), nil
}

// topic returns the topic of an encoded value.
func (s *benchSerde) topic(b []byte) (string, error) {
	if len(b) == 0 || int(b[0]) >= len(s.topics) {
		return "", errors.New("not a bench record")
	}
	return s.topics[b[0]], nil
}

func (s *benchSerde) AppendHeader(b []byte, topic string) ([]byte, error) {
	i, ok := s.index[topic]
	if !ok {
		return nil, fmt.Errorf("no schema for %s", topic)
	}
	return append(b, i), nil
}

func (s *benchSerde) Decode(_ context.Context, b []byte) (map[string]any, error) {
	if len(b) == 0 || int(b[0]) >= len(s.codecs) {
		return nil, errors.New("not a bench record")
	}
	return s.codecs[b[0]].Decode(b[1:])
}

// WriterSchema answers as schemas.Serde does, so the stage decodes with
// its fast decoders as it does with the registry's serde.
func (s *benchSerde) WriterSchema(_ context.Context, b []byte) (int, string, []byte, error) {
	if len(b) == 0 || int(b[0]) >= len(s.codecs) {
		return 0, "", nil, errors.New("not a bench record")
	}
	return int(b[0]), s.texts[b[0]], b[1:], nil
}
