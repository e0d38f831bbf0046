package schemas

import (
	"slices"
	"testing"
)

// TestTopicConstants: every topic constant has a schema file and every
// schema file a constant, so a renamed or added file cannot leave a stage
// writing a topic nothing can encode.
func TestTopicConstants(t *testing.T) {
	consts := slices.Sorted(slices.Values(topicConstants))
	if !slices.Equal(consts, Topics()) {
		t.Fatalf("topic constants %v\nschema files     %v", consts, Topics())
	}
}
