package stage_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/internal/testenv"
)

// killAfter cancels the backfill's context once n slices committed.
type killAfter struct {
	stage.Stepper
	n      int
	cancel context.CancelFunc
}

func (k *killAfter) Step(ctx context.Context) (stage.Progress, error) {
	p, err := k.Stepper.Step(ctx)
	if p.Done {
		k.n--
		if k.n == 0 {
			k.cancel()
		}
	}
	return p, err
}

// TestBackfillResumes: a backfill of eight days of TikTok Shop history is
// interrupted after a few slices; run again, it resumes from the cursors
// (its first slice starts where the first run stopped), reports a line per
// slice with records, % done and ETA, and the topics hold the ground truth
// once. The stage's Backlog says how many of the eight days it has read.
func TestBackfillResumes(t *testing.T) {
	env := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	since := simworld.DefaultStart
	w, clock, _, clientCfg := shopSim(t, 9, since.Add(8*24*time.Hour), simworld.Scale{Products: 6, TikTokOrdersPerMinute: 0.03, VideosPerDay: 3}, tiktokshoptest.Options{})
	client, err := tiktokshop.New(clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	until := clock.Now()
	cfg := stage.ShopConfig{Kafka: kafkaOf(env), Client: client, Since: since, Until: until, Zone: w.Config().ShopZone, Clock: clock}
	var backlog stage.Backlog
	backfill := func(kill int) (string, error) {
		st, err := stage.OpenTikTokShop(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		defer func() { backlog = st.Backlog(clock.Now()) }()
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var s stage.Stepper = st
		if kill > 0 {
			s = &killAfter{Stepper: st, n: kill, cancel: cancel}
		}
		var out bytes.Buffer
		err = stage.Backfill(bctx, s, stage.BackfillConfig{Since: since, Until: until, Out: &out, Now: clock.Now})
		return out.String(), err
	}
	first, err := backfill(5)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted backfill: %v\n%s", err, first)
	}
	// Eight days of history, some of it read.
	if backlog.Days != 8 || backlog.Done <= 0 || backlog.Done >= 8 {
		t.Errorf("backlog after the interrupted run: %+v", backlog)
	}
	second, err := backfill(0)
	if err != nil {
		t.Fatal(err)
	}
	if backlog.Days != 8 || backlog.Done < 8-1.0/24 {
		t.Errorf("backlog after the backfill: %+v, want all 8 days read", backlog)
	}
	t.Logf("first run:\n%s\nsecond run:\n%s", first, second)
	lines := strings.Split(strings.TrimSpace(first), "\n")
	if len(lines) < 4 || !strings.Contains(lines[0], "% done") || !strings.Contains(lines[0], "ETA") || !strings.Contains(lines[0], "records") {
		t.Fatalf("progress lines: %q", lines)
	}
	if !strings.Contains(second, "backfill done:") || !strings.Contains(second, "9") {
		t.Fatalf("second run did not finish: %s", second)
	}
	// The second run starts after the slices the first committed: its
	// first orders window begins at the first run's last orders window's
	// end less the overlap, never back at --since.
	if strings.Contains(second, "orders "+since.Format(time.RFC3339)+"..") {
		t.Fatalf("second run started over:\n%s", second)
	}
	again, err := backfill(0)
	if err != nil || !strings.Contains(again, "backfill done: 0 slices") {
		t.Fatalf("a finished backfill run again does nothing: %v\n%s", err, again)
	}
	shop, err := client.Shop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkShop(t, shopResult{w: w, env: env, shopID: shop.ID, since: since, end: until})
}
