package stream

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestRejoinAfterLostSession: the group coordinator drops the instance's
// membership (as when a broker outage or a stall outlives the session; here
// an admin removes the static member) while it works. The instance logs
// the lost session, rejoins and goes on in place: Run does not return, and
// the outputs, read read_committed, equal the reference's.
func TestRejoinAfterLostSession(t *testing.T) {
	e := newKafkaEnv(t)
	rows, links := e.followOutputs(t, t.Context())
	ins := history(t)
	var log lockedBuffer
	stop := e.startInstance(t, "0", t.TempDir(), &log)
	half := len(ins) / 2
	e.produce(t, ins[:half])
	waitFor(t, "first outputs", 2*time.Minute, func() bool { return len(rows.current()) > 0 }, func() string { return "no row" })

	resp, err := e.adm.LeaveGroup(t.Context(), kadm.LeaveGroup(e.group).InstanceIDs("0").Reason("test: session lost"))
	if err != nil {
		t.Fatalf("remove the member: %v", err)
	}
	if err := resp.Error(); err != nil {
		t.Fatalf("remove the member: %v", err)
	}
	e.produce(t, ins[half:])

	wantRows, wantLinks := expected(t, ins)
	waitTables(t, "rows and links", 2*time.Minute, rows, links, wantRows, wantLinks)
	// The session was lost indeed (else the test proves nothing).
	if !strings.Contains(log.String(), "consumer group session lost; rejoining") {
		t.Fatalf("the lost session was not logged:\n%s", log.String())
	}
	// Run returns nil on cancel; an error here means it gave up on the
	// lost session instead of rejoining.
	if err := stop(); err != nil {
		t.Fatalf("instance: %v", err)
	}
	checkTables(t, rows, links)
}

// lockedBuffer is a log sink safe for the instance's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
