package stream

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
)

// ownership tracks the input partitions this instance was assigned. The
// join needs every input partition: producing while a departed member's
// partitions are not yet reassigned would emit rows from part of the state,
// and partitions assigned later would bring history the state never saw.
type ownership struct {
	mu          sync.Mutex
	assignments int
	assigned    map[string]int // partitions per topic
}

// assign records an assignment and reports whether it came after the first
// one, which means the state lacks the new partitions' history.
func (o *ownership) assign(m map[string][]int32) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.assigned == nil {
		o.assigned = map[string]int{}
	}
	for t, ps := range m {
		o.assigned[t] += len(ps)
	}
	o.assignments++
	return o.assignments > 1
}

// ownsAll reports whether every partition of every existing input topic is
// assigned here.
func (o *ownership) ownsAll(ctx context.Context, adm *kadm.Client, topics []string) (bool, error) {
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return false, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range details {
		if d.Err != nil {
			continue // not created yet: its partitions come with a new assignment
		}
		if o.assigned[d.Topic] < len(d.Partitions) {
			return false, nil
		}
	}
	return true, nil
}
