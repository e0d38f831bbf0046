package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld/fault"
)

// Event kinds of a schedule.
const (
	// kindKill SIGKILLs Target; it starts again after Down.
	kindKill = "kill"
	// kindOutage is a kill of the warehouse that stays down for Down.
	kindOutage = "outage"
	// kindFaults sets the simulators' faults (the zero config: none).
	kindFaults = "faults"
)

// event is one step of the chaos, At after the chaos began.
type event struct {
	At     time.Duration
	Kind   string
	Target string
	Down   time.Duration
	Faults fault.Config
}

func (e event) String() string {
	at := fmt.Sprintf("+%02d:%04.1f", int(e.At.Minutes()), (e.At % time.Minute).Seconds())
	switch e.Kind {
	case kindFaults:
		c := e.Faults
		if !c.Enabled() {
			return at + " faults off"
		}
		return fmt.Sprintf("%s faults on: 5xx %.2f, 429 %.2f, malformed %.2f, slow %.2f (%s), broken entity %.2f", at,
			c.ServerErrorRate, c.ThrottleRate, c.MalformedRate, c.SlowRate, c.SlowDelay, c.EntityRate)
	case kindOutage:
		return fmt.Sprintf("%s outage %s for %s", at, e.Target, e.Down)
	}
	return fmt.Sprintf("%s kill %s (down %s)", at, e.Target, e.Down.Round(100*time.Millisecond))
}

// plan is what a schedule is drawn for.
type plan struct {
	seed     uint64
	duration time.Duration
	// targets are the processes a kill may hit; brokerName and
	// warehouseName among them take longer to come back.
	targets []string
	// outage is how long the warehouse stays away once (0: no outage).
	outage time.Duration
	// killEvery is the mean time between kills; every target is killed at
	// least once anyway.
	killEvery time.Duration
	// faultWindow is the mean time between fault windows (at least one).
	faultWindow time.Duration
}

// recovery is how long a target needs after its restart before it may be
// killed again: the broker replays its log, the warehouse loads its parts.
func recovery(target string) time.Duration {
	switch target {
	case brokerName:
		return 45 * time.Second
	case warehouseName:
		return 20 * time.Second
	}
	return 8 * time.Second
}

// schedule draws the chaos of p from its seed, ordered by time: the outage,
// the kills (every target once, then random ones; a target is not killed
// while it is down or recovering) and fault windows (faults on, then off).
func schedule(p plan) []event {
	rng := rand.New(rand.NewPCG(p.seed, 0xc4a05))
	d := p.duration
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(rng.Int64N(int64(hi-lo)))
	}
	var evs []event
	busy := map[string][][2]time.Duration{}
	free := func(target string, from, to time.Duration) bool {
		for _, b := range busy[target] {
			if from < b[1] && b[0] < to {
				return false
			}
		}
		return true
	}
	if p.outage > 0 {
		at := between(d/5, max(d/5, d*4/5-p.outage))
		evs = append(evs, event{At: at, Kind: kindOutage, Target: warehouseName, Down: p.outage})
		busy[warehouseName] = append(busy[warehouseName], [2]time.Duration{at - recovery(warehouseName), at + p.outage + recovery(warehouseName)})
	}
	n := max(len(p.targets), int(d/p.killEvery))
	order := slices.Clone(p.targets)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for i := range n {
		target := p.targets[rng.IntN(len(p.targets))]
		if i < len(order) {
			target = order[i]
		}
		down := between(500*time.Millisecond, 5*time.Second)
		if target == brokerName {
			down = between(0, 3*time.Second)
		}
		// Kills land in the chaos, not in its last seconds: the last
		// restart belongs to the chaos too.
		for try := 0; try < 200; try++ {
			at := between(3*time.Second, d-10*time.Second)
			if free(target, at-recovery(target), at+down+recovery(target)) {
				evs = append(evs, event{At: at, Kind: kindKill, Target: target, Down: down})
				busy[target] = append(busy[target], [2]time.Duration{at, at + down + recovery(target)})
				break
			}
		}
	}
	windows := max(1, int(d/p.faultWindow))
	for w := range windows {
		slot0, slot1 := d*time.Duration(w)/time.Duration(windows), d*time.Duration(w+1)/time.Duration(windows)
		length := between(min(30*time.Second, (slot1-slot0)/2), min(60*time.Second, (slot1-slot0)*3/4))
		on := between(slot0, slot1-length)
		rate := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
		c := fault.Config{ServerErrorRate: rate(0.05, 0.15), ThrottleRate: rate(0.05, 0.15), MalformedRate: rate(0.02, 0.08),
			SlowRate: rate(0.05, 0.15), SlowDelay: between(time.Second, 4*time.Second).Round(100 * time.Millisecond),
			EntityRate: rate(0.1, 0.25)}
		evs = append(evs, event{At: on, Kind: kindFaults, Faults: c}, event{At: on + length, Kind: kindFaults})
	}
	slices.SortStableFunc(evs, func(a, b event) int { return int(a.At - b.At) })
	return evs
}

// kills counts the SIGKILLs of a schedule (an outage is one).
func kills(evs []event) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kindKill || e.Kind == kindOutage {
			n++
		}
	}
	return n
}

func scheduleText(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}

// TestSchedule: the same seed draws the same schedule and another seed
// another one; ten minutes kill at least 20 times, every target at least
// once, never a target that is still down or recovering; there is one
// outage of the warehouse and fault windows that end with faults off.
func TestSchedule(t *testing.T) {
	targets := []string{"ingest-amazon", "ingest-tiktokbiz", "ingest-webhooks", "transform-0", "transform-1", "load", warehouseName, brokerName}
	p := plan{seed: 42, duration: 10 * time.Minute, targets: targets, outage: time.Minute, killEvery: 25 * time.Second, faultWindow: 2 * time.Minute}
	a, b := schedule(p), schedule(p)
	if scheduleText(a) != scheduleText(b) {
		t.Fatalf("same seed, different schedules:\n%s\n%s", scheduleText(a), scheduleText(b))
	}
	p2 := p
	p2.seed = 43
	if scheduleText(schedule(p2)) == scheduleText(a) {
		t.Error("seeds 42 and 43 drew the same schedule")
	}
	if n := kills(a); n < 20 {
		t.Errorf("ten minutes of chaos kill %d times, want at least 20:\n%s", n, scheduleText(a))
	}
	killed := map[string]int{}
	var downUntil = map[string]time.Duration{}
	outages, faultsOn := 0, false
	for _, e := range a {
		if e.At < 0 || e.At >= p.duration {
			t.Errorf("%s: outside the chaos", e)
		}
		switch e.Kind {
		case kindKill, kindOutage:
			if e.At < downUntil[e.Target] {
				t.Errorf("%s: %s is still down or recovering until +%s", e, e.Target, downUntil[e.Target])
			}
			downUntil[e.Target] = e.At + e.Down + recovery(e.Target)
			killed[e.Target]++
			if e.Kind == kindOutage {
				outages++
				if e.Target != warehouseName || e.Down != time.Minute {
					t.Errorf("%s: want the warehouse away for a minute", e)
				}
			}
		case kindFaults:
			if e.Faults.Enabled() == faultsOn {
				t.Errorf("%s: faults were already %v", e, faultsOn)
			}
			faultsOn = e.Faults.Enabled()
			if err := e.Faults.Validate(); err != nil {
				t.Errorf("%s: %v", e, err)
			}
		}
	}
	for _, tg := range targets {
		if killed[tg] == 0 {
			t.Errorf("%s never killed:\n%s", tg, scheduleText(a))
		}
	}
	if outages != 1 || faultsOn {
		t.Errorf("%d outages (want 1), faults left on %v:\n%s", outages, faultsOn, scheduleText(a))
	}
	// The short run of make test still kills everything once.
	short := plan{seed: 7, duration: 150 * time.Second, targets: targets, outage: time.Minute, killEvery: 25 * time.Second, faultWindow: 2 * time.Minute}
	s := schedule(short)
	seen := map[string]bool{}
	for _, e := range s {
		seen[e.Target] = true
	}
	for _, tg := range targets {
		if !seen[tg] {
			t.Errorf("short run: %s never killed:\n%s", tg, scheduleText(s))
		}
	}
}
