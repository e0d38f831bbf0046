package config

import (
	"strings"
	"testing"
)

// TestTopicPrefix: kafka.topic_prefix is the pipeline's one prefix; each
// deprecated per-stage key still sets it, with a warning naming the new
// key, and prefixes that disagree are an error naming every one.
func TestTopicPrefix(t *testing.T) {
	c := mustLoad(t, "", "SHOPSTREAM_KAFKA_TOPIC_PREFIX=dev.")
	if c.Kafka.TopicPrefix != "dev." || len(c.Warnings) != 0 {
		t.Fatalf("prefix %q, warnings %q", c.Kafka.TopicPrefix, c.Warnings)
	}
	for _, key := range deprecatedPrefixKeys {
		c, err := load("", []string{EnvName(key) + "=old.", "SHOPSTREAM_KAFKA_TOPIC_PREFIX=old."})
		if err != nil {
			t.Fatalf("%s agreeing with kafka.topic_prefix: %v", key, err)
		}
		if c.Kafka.TopicPrefix != "old." || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], key+" is deprecated: set kafka.topic_prefix") {
			t.Fatalf("%s: prefix %q, warnings %q", key, c.Kafka.TopicPrefix, c.Warnings)
		}
	}
	p := writeConfig(t, "load:\n  topic_prefix: a.\nsources:\n  topic_prefix: a.\n")
	if c, err := load(p, nil); err != nil || c.Kafka.TopicPrefix != "a." || len(c.Warnings) != 2 {
		t.Fatalf("two deprecated keys that agree: %v, %+v", err, c)
	}
	_, err := load(p, []string{"SHOPSTREAM_TRANSFORM_TOPIC_PREFIX=b."})
	if err == nil {
		t.Fatal("disagreeing prefixes accepted")
	}
	for _, want := range []string{`load.topic_prefix="a."`, `transform.topic_prefix="b."`, "set kafka.topic_prefix only"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
}
