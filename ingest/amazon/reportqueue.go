package amazon

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultReportsInFlight is how many reports a client keeps in flight
// (IN_QUEUE or IN_PROGRESS) by default. Reports take minutes to generate
// while createReport allows one a minute after its burst of 15, so a few in
// flight keep createReport, the limiting operation, busy without piling work
// up at Amazon.
const DefaultReportsInFlight = 4

// prefetchTTL is how long a prefetched report waits for a caller to claim
// it. Its data is as of its creation; older than this, a caller asking now
// deserves a fresh one.
const prefetchTTL = time.Hour

// reportQueue runs a client's reports concurrently: several are created up
// front and polled together, at most limit in flight at a time, and each
// caller takes its own report's outcome when it asks for it, in whatever
// order callers ask. The queue has no goroutine of its own: whoever waits for
// a report drives the queue (creates what fits, polls what is due, sleeps on
// the client's Clock until the next poll or createReport token), so it runs
// alike on the wall clock and on a simulator's manual clock, and a caller
// that stops waiting leaves nothing running.
type reportQueue struct {
	c     *Client
	limit int
	// drive is held by the one goroutine driving the queue; others wait
	// for it, and their claimed reports progress meanwhile.
	drive chan struct{}

	mu   sync.Mutex
	jobs []*reportJob // in submission order, which is the creation order
}

// reportJob is one report the queue runs. Its fields are guarded by the
// queue's mu.
type reportJob struct {
	key  string // the createReport body: equal requests share a job
	spec ReportSpec
	// claimed says a caller waits for the job. An unclaimed job is a
	// prefetch: created only with a createReport token to spare, dropped
	// when it fails or when nobody claims it within prefetchTTL.
	claimed  bool
	queued   time.Time
	id       string // set once created
	created  time.Time
	report   Report // the last getReport answer
	nextPoll time.Time
	interval time.Duration
	err      error // creating or polling failed for good
}

func (j *reportJob) terminal() bool {
	if j.err != nil {
		return true
	}
	switch j.report.ProcessingStatus {
	case StatusDone, StatusCancelled, StatusFatal:
		return true
	}
	return false
}

func (j *reportJob) pending() bool  { return j.id == "" && j.err == nil }
func (j *reportJob) inFlight() bool { return j.id != "" && !j.terminal() }

func newReportQueue(c *Client, limit int) *reportQueue {
	return &reportQueue{c: c, limit: limit, drive: make(chan struct{}, 1)}
}

// normalize fills the marketplace as CreateReport would and returns the
// job key of spec.
func (q *reportQueue) normalize(spec ReportSpec) (ReportSpec, string) {
	if len(spec.MarketplaceIDs) == 0 {
		spec.MarketplaceIDs = []string{q.c.cfg.MarketplaceID}
	}
	// Strings and a string map always marshal; map keys come out sorted,
	// so equal specs give equal keys.
	b, _ := json.Marshal(spec)
	return spec, string(b)
}

// prefetch queues reports that callers are expected to ask for soon, unless
// they are queued already or 2×limit prefetches wait unclaimed.
func (q *reportQueue) prefetch(specs ...ReportSpec) {
	now := q.c.clock.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(now)
	unclaimed := 0
	for _, j := range q.jobs {
		if !j.claimed {
			unclaimed++
		}
	}
	for _, s := range specs {
		if unclaimed >= 2*q.limit {
			return
		}
		s, key := q.normalize(s)
		if q.findLocked(key, true) != nil {
			continue
		}
		q.jobs = append(q.jobs, &reportJob{key: key, spec: s, queued: now})
		unclaimed++
	}
}

// findLocked returns a queued job for key; claimed ones count only if
// anyClaim.
func (q *reportQueue) findLocked(key string, anyClaim bool) *reportJob {
	for _, j := range q.jobs {
		if j.key == key && (anyClaim || !j.claimed) {
			return j
		}
	}
	return nil
}

// claim returns the job that will run spec for the caller: a prefetch of
// the same report if one is queued and fresh, else a new job. The caller
// must await or release it.
func (q *reportQueue) claim(spec ReportSpec) *reportJob {
	spec, key := q.normalize(spec)
	now := q.c.clock.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	// A prefetch (or an abandoned claim) older than prefetchTTL holds data
	// as of its creation: a Sales & Traffic day read again hours later, to
	// pick up its restatement, must not be answered with the report of
	// the earlier run.
	q.expireLocked(now)
	if j := q.findLocked(key, false); j != nil {
		j.claimed = true
		return j
	}
	j := &reportJob{key: key, spec: spec, claimed: true, queued: now}
	q.jobs = append(q.jobs, j)
	return j
}

// release ends a claim whose outcome the caller will not take. keep turns
// the job back into a prefetch, so that a later claim of the same report
// (the step retried after a restart) finds it under way.
func (q *reportQueue) release(j *reportJob, keep bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if keep && j.err == nil {
		j.claimed = false
		return
	}
	q.removeLocked(j)
}

func (q *reportQueue) removeLocked(j *reportJob) {
	for i, x := range q.jobs {
		if x == j {
			q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
			return
		}
	}
}

func (q *reportQueue) acquire(ctx context.Context) error {
	select {
	case q.drive <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for reports: %w", ctx.Err())
	}
}

func (q *reportQueue) unlock() { <-q.drive }

// start creates j now if a slot is free, so that Amazon generates it while
// the caller does other work; it returns j's creation error. Otherwise j is
// created when a slot frees up.
func (q *reportQueue) start(ctx context.Context, j *reportJob) error {
	if err := q.acquire(ctx); err != nil {
		return err
	}
	defer q.unlock()
	if err := q.fill(ctx); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.id == "" {
		return j.err
	}
	return nil
}

// await drives the queue until j is terminal and returns its outcome (see
// Client.outcome): DONE returns the report, CANCELLED ErrReportCancelled,
// FATAL a *ReportFatalError with the reason document's content. The job
// leaves the queue, unless ctx ends first: then it stays as a prefetch.
func (q *reportQueue) await(ctx context.Context, j *reportJob) (Report, error) {
	if err := q.acquire(ctx); err != nil {
		q.release(j, true)
		return Report{}, err
	}
	err := q.driveUntil(ctx, j)
	q.mu.Lock()
	r, jerr := j.report, j.err
	if err == nil || jerr != nil {
		q.removeLocked(j)
	} else {
		j.claimed = false
	}
	q.mu.Unlock()
	q.unlock()
	switch {
	case err != nil:
		return r, err
	case jerr != nil:
		return r, jerr
	}
	return q.c.outcome(ctx, r)
}

// driveUntil creates, polls and sleeps until j is terminal. It returns an
// error only when ctx ends; j's own failures are in j.err.
func (q *reportQueue) driveUntil(ctx context.Context, j *reportJob) error {
	for {
		q.expire(q.c.clock.Now())
		if err := q.fill(ctx); err != nil {
			return err
		}
		if err := q.poll(ctx); err != nil {
			return err
		}
		q.mu.Lock()
		done := j.terminal()
		q.mu.Unlock()
		if done {
			return nil
		}
		d, ok := q.nextEvent()
		if !ok {
			// Not reachable: an unfinished j is pending (so a report is in
			// flight, or fill would have created j) or in flight itself.
			return fmt.Errorf("report queue: nothing to wait for")
		}
		if err := q.c.clock.Sleep(ctx, d); err != nil {
			return fmt.Errorf("wait for reports: %w", err)
		}
	}
}

// expire drops prefetches nobody claimed in time.
func (q *reportQueue) expire(now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(now)
}

func (q *reportQueue) expireLocked(now time.Time) {
	kept := q.jobs[:0]
	for _, j := range q.jobs {
		since := j.queued
		if !j.created.IsZero() {
			since = j.created
		}
		if j.claimed || now.Sub(since) <= prefetchTTL {
			kept = append(kept, j)
		}
	}
	clear(q.jobs[len(kept):])
	q.jobs = kept
}

// next returns the job to create next, if fewer than limit are in flight:
// claimed jobs first (a caller waits for them), then prefetches in
// submission order.
func (q *reportQueue) next() *reportJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	var first *reportJob
	n := 0
	for _, j := range q.jobs {
		switch {
		case j.inFlight():
			n++
		case j.pending() && j.claimed && (first == nil || !first.claimed):
			first = j
		case j.pending() && first == nil:
			first = j
		}
	}
	if n >= q.limit {
		return nil
	}
	return first
}

// fill creates queued reports while slots are free. A claimed report waits
// for its createReport token; a prefetch is created only when a token is
// there now, so that prefetching never delays a caller.
func (q *reportQueue) fill(ctx context.Context) error {
	for {
		j := q.next()
		if j == nil {
			return nil
		}
		q.mu.Lock()
		claimed := j.claimed
		q.mu.Unlock()
		if !claimed && q.c.tokenDelay(OpCreateReport) > 0 {
			return nil
		}
		id, err := q.c.CreateReport(ctx, j.spec)
		if err != nil && ctx.Err() != nil {
			return err // j stays queued: the next driver creates it
		}
		now := q.c.clock.Now()
		q.mu.Lock()
		switch {
		case err != nil && j.claimed:
			j.err = err
		case err != nil:
			q.removeLocked(j)
			q.c.log.Debug().Err(err).Msg("prefetched report not created; it is requested again when needed")
		default:
			j.id, j.created, j.interval = id, now, q.c.cfg.ReportPollInterval
			j.nextPoll = now.Add(j.interval)
		}
		q.mu.Unlock()
	}
}

// poll asks getReport about every report in flight whose poll is due. Polls
// start ReportPollInterval apart and grow by half up to ReportPollMax.
func (q *reportQueue) poll(ctx context.Context) error {
	now := q.c.clock.Now()
	q.mu.Lock()
	var due []*reportJob
	for _, j := range q.jobs {
		if j.inFlight() && !j.nextPoll.After(now) {
			due = append(due, j)
		}
	}
	q.mu.Unlock()
	for _, j := range due {
		r, err := q.c.GetReport(ctx, j.id)
		if err != nil && ctx.Err() != nil {
			return err
		}
		now := q.c.clock.Now()
		q.mu.Lock()
		if err == nil {
			j.report = r
			switch r.ProcessingStatus {
			case StatusDone, StatusCancelled, StatusFatal:
			case StatusInQueue, StatusInProgress:
				if now.Sub(j.created) > q.c.cfg.ReportTimeout {
					err = fmt.Errorf("report %s still %s after %s", j.id, r.ProcessingStatus, q.c.cfg.ReportTimeout)
				}
				j.nextPoll = now.Add(j.interval)
				j.interval = min(j.interval*3/2, q.c.cfg.ReportPollMax)
			default:
				err = fmt.Errorf("report %s: unknown processingStatus %q", j.id, clip(r.ProcessingStatus))
			}
		}
		if err != nil {
			if j.claimed {
				j.err = err
			} else {
				q.removeLocked(j)
			}
		}
		q.mu.Unlock()
	}
	return nil
}

// nextEvent returns how long to sleep until the next poll is due or, if a
// prefetch waits for a free slot's createReport token, until that token.
func (q *reportQueue) nextEvent() (time.Duration, bool) {
	now := q.c.clock.Now()
	q.mu.Lock()
	var at time.Time
	inFlight, pending := 0, false
	for _, j := range q.jobs {
		switch {
		case j.inFlight():
			inFlight++
			if at.IsZero() || j.nextPoll.Before(at) {
				at = j.nextPoll
			}
		case j.pending():
			pending = true
		}
	}
	q.mu.Unlock()
	if pending && inFlight < q.limit {
		if t := now.Add(q.c.tokenDelay(OpCreateReport)); at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if at.IsZero() {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// tokenDelay is how long until op's bucket holds a token, rounded up to a
// millisecond so that float rounding cannot make a waiter spin.
func (c *Client) tokenDelay(op string) time.Duration {
	l := c.limiter(op)
	tokens := l.TokensAt(c.clock.Now())
	if tokens >= 1 || l.Limit() == rate.Inf {
		return 0
	}
	if l.Limit() <= 0 {
		return c.cfg.ReportPollMax
	}
	d := time.Duration((1 - tokens) / float64(l.Limit()) * float64(time.Second))
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}
