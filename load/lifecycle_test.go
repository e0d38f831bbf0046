package load_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/load"
)

// TestLoaderCloseWithoutRun: a Loader that never ran closes, twice, and
// refuses to run after; New reports every bad option at once.
func TestLoaderCloseWithoutRun(t *testing.T) {
	if _, err := load.New(load.Options{Topics: []string{"no.such.topic"}}, nil, nil); err == nil {
		t.Fatal("New accepted empty options")
	} else if msg := err.Error(); !strings.Contains(msg, "consumer group and brokers") || !strings.Contains(msg, "must be positive") || !strings.Contains(msg, "no.such.topic") {
		t.Fatalf("New's error does not name every problem: %v", err)
	}
	l, err := load.New(load.Options{Brokers: []string{"127.0.0.1:1"}, Group: "g", Topics: []string{ordersTopic},
		BatchRows: 1, BatchBytes: 1, MaxWait: time.Second, MaxInFlight: 1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Run(context.Background()); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

// TestLoaderRunsAgain: Run returns nil when its context ends and may be
// called again, as the supervisor restarts a part (a second Run used to
// panic on close(clientSet)); the second incarnation resumes from the
// committed offsets, so every record lands exactly once.
func TestLoaderRunsAgain(t *testing.T) {
	h := newHarness(t, 2, "native")
	l, err := load.New(h.options(nil), h.serde, h.conn)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	all := orders(400, 2)
	for i, half := range [][]order{all[:200], all[200:]} {
		var recs []*kgo.Record
		for _, o := range half {
			recs = append(recs, h.record(o))
		}
		h.produce(recs...)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		want := int64(200 * (i + 1))
		h.eventually(fmt.Sprintf("incarnation %d committed", i+1), 2*time.Minute, func() (bool, string) {
			c := h.committed()
			return c == want, fmt.Sprint(c)
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("incarnation %d: Run = %v, want nil after cancel", i+1, err)
		}
	}
	h.assertExactlyOnce(len(all))
}
