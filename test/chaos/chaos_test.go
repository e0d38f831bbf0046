package chaos

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/testenv"
)

// Settings of a soak, from the environment (make chaos sets them from its
// CHAOS_* variables).
const (
	seedVar       = "CHAOS_SEED"       // the schedule's and the world's seed (default: drawn, printed)
	durationVar   = "CHAOS_DURATION"   // how long the chaos lasts (default 150s; make chaos 10m)
	transformsVar = "CHAOS_TRANSFORMS" // transform instances (default 2)
	outageVar     = "CHAOS_OUTAGE"     // the warehouse outage (default 60s)
	settleVar     = "CHAOS_SETTLE"     // the longest wait for the pipeline to settle (default 10m)
)

type settings struct {
	seed                uint64
	duration, outage    time.Duration
	settle              time.Duration
	transforms          int
	killEvery, faultsEv time.Duration
}

func settingsFromEnv(t *testing.T) settings {
	t.Helper()
	s := settings{seed: uint64(time.Now().UnixNano() % 1e6), duration: 150 * time.Second, outage: time.Minute,
		settle: 10 * time.Minute, transforms: 2, killEvery: 25 * time.Second, faultsEv: 2 * time.Minute}
	if v := os.Getenv(seedVar); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", seedVar, v, err)
		}
		s.seed = n
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{durationVar, &s.duration}, {outageVar, &s.outage}, {settleVar, &s.settle}} {
		if v := os.Getenv(d.name); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x < 0 {
				t.Fatalf("%s=%q: want a duration such as 10m", d.name, v)
			}
			*d.to = x
		}
	}
	if v := os.Getenv(transformsVar); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a number of instances, at least 1", transformsVar, v)
		}
		s.transforms = n
	}
	return s
}

// descInfo is what the checks need of the simulators' description.
type descInfo struct{ marketplace, shopID string }

// say prints a line of the soak's report on standard output: make chaos
// shows it, and go test shows it when the package fails.
func say(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}

// TestChaos is the chaos soak (see the package doc). Under make test it
// runs the short variant: 150 s of chaos on a small world, every process
// killed at least once, one fault window and a 60 s warehouse outage;
// make chaos runs it for CHAOS_DURATION (10 minutes by default).
// CHAOS_SEED replays a printed schedule.
func TestChaos(t *testing.T) {
	testenv.Binary(t)
	set := settingsFromEnv(t)
	dir := t.TempDir()
	if keep := os.Getenv(pipelinetest.KeepDirVar); keep != "" {
		var err error
		if dir, err = os.MkdirTemp(keep, "chaos-"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()

	w := world{seed: set.seed, historyWeeks: 1, products: 8, amazonPerMinute: 0.5, tiktokPerMinute: 0.5, videosPerDay: 3}
	p := start(t, ctx, dir, w, set.transforms)
	truth, err := groundTruth(p.desc)
	if err != nil {
		t.Fatal(err)
	}
	targets := append([]string{brokerName}, p.order...)
	plan := plan{seed: set.seed, duration: set.duration, targets: targets, outage: set.outage, killEvery: set.killEvery, faultWindow: set.faultsEv}
	evs := schedule(plan)
	say("chaos: seed %d (replay: %s=%d), %s of chaos on %d processes, %d transform instance(s), data in %s; schedule:\n%s",
		set.seed, seedVar, set.seed, set.duration, len(targets), set.transforms, dir, scheduleText(evs))

	superCtx, stopSupervising := context.WithCancel(ctx)
	supervisors := p.supervise(superCtx)
	// Before the processes' own cleanups kill them: no restarts after.
	t.Cleanup(func() { stopSupervising(); supervisors.Wait() })

	kills := runChaos(t, ctx, p, evs, time.Now())
	say("chaos: over after %s: %d kills; settling", time.Since(began).Round(time.Second), kills)
	if err := p.setFaults(ctx, fault.Config{}); err != nil {
		t.Fatal(err)
	}

	// Settle: the stages catch up with the world, then stop; the loader
	// and the transform drain what is left.
	settleBy := time.Now().Add(set.settle)
	sctx, scancel := context.WithDeadline(ctx, settleBy)
	defer scancel()
	info := descInfo{marketplace: p.desc.MarketplaceID, shopID: p.desc.TikTokShop.Credentials.ShopID}
	var truthRes []check
	for {
		var attempts []tiktokshoptest.Attempt
		if err := p.getJSON(sctx, sim.WebhooksPath, &attempts); err != nil {
			t.Fatal(err)
		}
		truthRes, err = truthChecks(sctx, p.wh, truth, info, delivered(attempts), began, time.Now())
		if err == nil && allOK(truthRes) {
			break
		}
		if sctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Second)
	}
	for _, name := range []string{"ingest-amazon", "ingest-tiktokbiz", "ingest-webhooks"} {
		if err := p.members[name].stop(30 * time.Second); err != nil {
			t.Log(err)
		}
	}
	// What the receiver acknowledged up to its stop must all be stored.
	var attempts []tiktokshoptest.Attempt
	if err := p.getJSON(ctx, sim.WebhooksPath, &attempts); err != nil {
		t.Fatal(err)
	}
	var lag check
	for {
		var total int64
		lag, total = lagCheck(sctx, p.brokers)
		if total == 0 && lag.ok || sctx.Err() != nil {
			break
		}
		time.Sleep(2 * time.Second)
	}
	checkCtx, ccancel := context.WithTimeout(ctx, 5*time.Minute)
	defer ccancel()
	if truthRes, err = truthChecks(checkCtx, p.wh, truth, info, delivered(attempts), began, time.Now()); err != nil {
		t.Fatalf("truth checks: %v", err)
	}
	// With no lag the outputs are loaded; the comparison is still retried
	// until the settle deadline, so that a failure is a difference that
	// stayed, not a moment's.
	var orc check
	var equal, want int
	for {
		orc, equal, want, err = oracleCheck(checkCtx, p.wh)
		if err == nil && orc.ok || checkCtx.Err() != nil || time.Now().After(settleBy) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	dups, err := duplicateChecks(checkCtx, p.wh)
	if err != nil {
		t.Fatal(err)
	}
	counts, broken, err := p.faultCounts(checkCtx)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := deadLetterCheck(checkCtx, p.wh, broken)
	if err != nil {
		t.Fatal(err)
	}
	faults := 0
	var kinds []string
	for k, n := range counts {
		faults += n
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}

	all := append(append(append(truthRes, dups...), lag, dead), orc)
	lost, duplicated := 0, 0
	for _, c := range all {
		say("%s", c)
		lost += c.lost
		duplicated += c.duplicated
		if !c.ok {
			t.Errorf("%s failed", c.name)
		}
	}
	for _, name := range p.order {
		if ex := p.members[name].exits(); len(ex) > 0 {
			say("note %s exited on its own %d times (restarted): %s", name, len(ex), strings.Join(ex, "; "))
		}
	}
	slices.Sort(kinds)
	say("chaos: API faults by kind: %s; warehouse outage %s; took %s", strings.Join(kinds, ", "), set.outage, time.Since(began).Round(time.Second))
	say("chaos: kills %d, faults %d, lost %d, duplicated %d, oracle rows equal %d/%d", kills, faults, lost, duplicated, equal, want)
	if kills < len(targets) {
		t.Errorf("%d kills, fewer than the %d processes", kills, len(targets))
	}
	if faults == 0 {
		t.Error("no API fault was injected")
	}
	if !t.Failed() {
		checkTheChecks(t, checkCtx, p.wh, truth, info, delivered(attempts), broken, began)
	}
}

// checkTheChecks proves, on the soak's own data, that the checks catch
// what they look for: it stores one change twice, deletes the changes of a
// settled order and a row of product_daily, adds a dead letter no fault
// planted, and every check concerned must fail.
func checkTheChecks(t *testing.T, ctx context.Context, wh *pipelinetest.Warehouse, truth *simworld.World, info descInfo,
	delivered []tiktokshoptest.Attempt, broken []string, began time.Time) {
	for _, q := range []string{
		"INSERT INTO tiktok_orders_changes SELECT * FROM tiktok_orders_changes ORDER BY _key LIMIT 1 SETTINGS insert_deduplicate = 0",
		"DELETE FROM amazon_orders_changes WHERE _key = (SELECT min(_key) FROM amazon_orders_changes WHERE last_update_date < now() - INTERVAL 1 DAY)",
		"DELETE FROM product_daily WHERE (product_key, date) = (SELECT product_key, date FROM product_daily FINAL WHERE is_deleted = 0 ORDER BY product_key, date LIMIT 1)",
		"INSERT INTO dead_letters (source_topic, source_partition, source_offset, key, value, error_class, reason, stage, dead_at) " +
			"VALUES ('chaos.selfcheck', 0, 0, '', '{}', 'mapping', 'planted by the chaos self-check', 'load', now64(3))",
	} {
		if _, err := wh.Query(ctx, q); err != nil {
			t.Fatalf("plant a fault: %v", err)
		}
	}
	dups, err := duplicateChecks(ctx, wh)
	if err != nil {
		t.Fatal(err)
	}
	res, err := truthChecks(ctx, wh, truth, info, delivered, began, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	orc, _, _, err := oracleCheck(ctx, wh)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := deadLetterCheck(ctx, wh, broken)
	if err != nil {
		t.Fatal(err)
	}
	caught := map[string]bool{}
	for _, c := range append(append(dups, res...), orc, dead) {
		if !c.ok {
			caught[c.name] = true
		}
	}
	for _, name := range []string{"unique tiktok_orders_changes", "raw amazon_orders_changes", "oracle product_daily, product_links", "open dead letters"} {
		if !caught[name] {
			t.Errorf("check %q did not catch the fault planted for it", name)
		}
	}
	say("check %-44s %-4s a change stored twice, an order's changes and a product_daily row deleted, a dead letter no fault planted: %d checks failed, as they must",
		"the checks", map[bool]string{true: "ok", false: "FAIL"}[len(caught) >= 4], len(caught))
}

// runChaos plays the schedule from began and returns the kills made.
func runChaos(t *testing.T, ctx context.Context, p *pipeline, evs []event, began time.Time) int {
	var wg sync.WaitGroup
	defer wg.Wait()
	n := 0
	for _, e := range evs {
		select {
		case <-ctx.Done():
			return n
		case <-time.After(time.Until(began.Add(e.At))):
		}
		switch e.Kind {
		case kindFaults:
			if err := p.setFaults(ctx, e.Faults); err != nil {
				t.Errorf("%s: %v", e, err)
			}
		case kindKill, kindOutage:
			n++
			if e.Target == brokerName {
				if err := p.broker.kill(); err != nil {
					t.Errorf("%s: %v", e, err)
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					select {
					case <-ctx.Done():
						return
					case <-time.After(e.Down):
					}
					rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
					defer cancel()
					if err := p.broker.resume(rctx); err != nil {
						t.Errorf("%s: restart the broker: %v", e, err)
					}
				}()
				break
			}
			if !p.members[e.Target].kill(e.Down) {
				n--
				fmt.Printf("chaos %s: not running (it exited on its own), not counted\n", e)
				continue
			}
		}
		fmt.Printf("chaos %s\n", e)
	}
	return n
}

func delivered(as []tiktokshoptest.Attempt) []tiktokshoptest.Attempt {
	var out []tiktokshoptest.Attempt
	for _, a := range as {
		if a.Delivered {
			out = append(out, a)
		}
	}
	return out
}

func allOK(cs []check) bool {
	for _, c := range cs {
		if !c.ok {
			return false
		}
	}
	return len(cs) > 0
}
