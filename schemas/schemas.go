package schemas

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// files holds one Avro schema per topic, named <topic>.avsc.
//
//go:embed *.avsc
var files embed.FS

const ext = ".avsc"

// topics is the sorted list of topic names, derived once from the embedded
// file names so that adding a schema file is all it takes to add a topic.
var topics = func() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		// The embed pattern guarantees the directory exists; failing here
		// means the binary itself is broken.
		panic(fmt.Sprintf("schemas: read embedded schemas: %v", err))
	}
	var ts []string
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ext) {
			ts = append(ts, strings.TrimSuffix(name, ext))
		}
	}
	slices.Sort(ts)
	return ts
}()

// ErrUnknownTopic is returned for a topic that has no embedded schema.
var ErrUnknownTopic = errors.New("schemas: no schema for topic")

// Topics returns the names of all topics that have a schema, sorted.
// The caller owns the returned slice.
func Topics() []string {
	return slices.Clone(topics)
}

// Source returns the Avro schema text (JSON) of topic, exactly as embedded.
func Source(topic string) (string, error) {
	if _, ok := slices.BinarySearch(topics, topic); !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownTopic, topic)
	}
	b, err := files.ReadFile(topic + ext)
	if err != nil {
		return "", fmt.Errorf("schemas: read schema of topic %q: %w", topic, err)
	}
	return string(b), nil
}

// Subject returns the schema registry subject of topic's record values under
// the TopicNameStrategy: the topic name followed by "-value".
func Subject(topic string) string {
	return topic + "-value"
}
