package config

import (
	"fmt"
	"strings"

	"github.com/knadh/koanf/v2"
)

// deprecatedPrefixKeys are the per-stage topic prefixes kafka.topic_prefix
// replaces. They still work, with a warning, as long as every prefix that
// is set agrees: stages with different prefixes would not find each other's
// topics.
var deprecatedPrefixKeys = []string{"sources.topic_prefix", "transform.topic_prefix", "load.topic_prefix"}

// mergeTopicPrefixes sets Kafka.TopicPrefix from the deprecated keys when
// they are set, warning about each, and reports prefixes that disagree.
func (c *Config) mergeTopicPrefixes(k *koanf.Koanf) []error {
	set := []string{}
	values := map[string]bool{}
	if c.Kafka.TopicPrefix != "" {
		set = append(set, fmt.Sprintf("kafka.topic_prefix=%q", c.Kafka.TopicPrefix))
		values[c.Kafka.TopicPrefix] = true
	}
	for _, key := range deprecatedPrefixKeys {
		v := k.String(key)
		if v == "" {
			continue
		}
		set = append(set, fmt.Sprintf("%s=%q", key, v))
		values[v] = true
		c.Kafka.TopicPrefix = v
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s is deprecated: set kafka.topic_prefix (%s) instead; it applies to every stage",
			key, EnvName("kafka.topic_prefix")))
	}
	if len(values) > 1 {
		return []error{fmt.Errorf("kafka.topic_prefix: the topic prefixes disagree (%s), so the stages would not find each other's topics; set kafka.topic_prefix only",
			strings.Join(set, ", "))}
	}
	return nil
}
