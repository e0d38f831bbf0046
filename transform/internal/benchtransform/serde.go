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
	out, err := s.AppendHeader(nil, topic)
	if err != nil {
		return nil, err
	}
	b, err := s.codecs[out[0]].Encode(v)
	if err != nil {
		return nil, err
	}
	return append(out, b...), nil
}

func (s *benchSerde) AppendHeader(b []byte, topic string) ([]byte, error) {
	i, ok := s.index[topic]
	if !ok {
		return nil, fmt.Errorf("no schema for %s", topic)
	}
	return append(b, i), nil
}

// schemaOf returns the index of the codec (and topic) a value was
// encoded with: its first byte.
func (s *benchSerde) schemaOf(b []byte) (int, error) {
	if len(b) == 0 || int(b[0]) >= len(s.codecs) {
		return 0, errors.New("not a bench record")
	}
	return int(b[0]), nil
}

// topic returns the topic of an encoded value.
func (s *benchSerde) topic(b []byte) (string, error) {
	i, err := s.schemaOf(b)
	if err != nil {
		return "", err
	}
	return s.topics[i], nil
}

func (s *benchSerde) Decode(_ context.Context, b []byte) (map[string]any, error) {
	i, err := s.schemaOf(b)
	if err != nil {
		return nil, err
	}
	return s.codecs[i].Decode(b[1:])
}

// WriterSchema answers as schemas.Serde does, so the stage decodes with
// its fast decoders as it does with the registry's serde.
func (s *benchSerde) WriterSchema(_ context.Context, b []byte) (int, string, []byte, error) {
	i, err := s.schemaOf(b)
	if err != nil {
		return 0, "", nil, err
	}
	return i, s.texts[i], b[1:], nil
}
