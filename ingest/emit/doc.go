// Package emit is the exactly-once writer of the ingest stages: each batch
// of records, the dead letters found while building it, the cursor that
// covers it and the change-capture state it implies are produced in one
// Kafka transaction, so a crash at any point neither skips nor repeats a
// window.
//
// # How exactly-once works
//
//   - One transactional id per stage instance ([TransactionalID]), stable
//     across restarts. [New] initialises the producer id before returning,
//     which fences the previous incarnation: the broker aborts its open
//     transaction (or finishes its commit) before New returns, and it can
//     never commit again.
//   - Only then does the stage load its cursors and state (cursor.Load,
//     changecapture.NewTracker): what they say is exactly what was
//     committed, and nothing else will move them.
//   - [Writer.Commit] begins a transaction, produces everything and waits for
//     every acknowledgement; any produce error aborts the whole transaction.
//     Then it commits. Readers with read_committed isolation (every
//     downstream stage) see all of the batch or none of it.
//   - A crash before the commit leaves an open transaction that the next
//     incarnation aborts; the cursor still points at the start of the window,
//     so the window is read again, and change capture, whose state was
//     rolled back with the transaction, finds the same changes with the same
//     event ids and versions.
//
// The proof is in the tests: TestCommitIsAtomic (nothing visible while the
// transaction is open, all of it after), TestAbortedBatchLeavesNothing,
// TestFencedZombieAndReplay (in-process zombie), TestKilledStageReplaysExactlyOnce
// (a child process killed with SIGKILL between produce and commit; downstream
// sees every record exactly once), TestChangeCaptureAcrossRestarts and
// TestDeadLetters.
//
// # Errors
//
// After a failed Commit nothing of the batch is visible if the error is
// [ErrAborted] (retry the window with the same Writer) or [ErrFenced]
// (another instance owns the id: stop or restart with a back-off, and alert
// if it repeats). Any other error leaves the outcome unknown: close the
// Writer and restart from New, which reloads what really was committed.
// Participants (change-capture trackers) are rolled back on every error.
//
// # Dead letters
//
// A payload that cannot become a record (it does not parse, a field has an
// unexpected type, it does not fit the schema: [Batch.Add] returns the
// error) goes to <topic>.dlq with [Batch.AddDeadLetter]: a dead letter of
// package deadletter, the raw payload as the value and the reason, class,
// stage, endpoint and time as headers. It commits with the window, so the
// stage goes on and the payload is never lost. `shopstream dlq replay`
// parses it again later and writes the result with [Batch.AddReplayed] in
// the same transaction.
//
// # A source stage
//
// Every source stage follows this loop (Example has it compiled):
//
//	run := func(ctx context.Context) error {
//		w, err := emit.New(ctx, emit.Config{ClientOpts: opts,
//			TransactionalID: emit.TransactionalID("amazon", instance),
//			Stage: "ingest-amazon", Encoder: serde})
//		if err != nil {
//			return err
//		}
//		defer w.Close()
//		set, err := cursor.Load(ctx, cursor.LoadConfig{ClientOpts: opts, Decoder: serde}, "amazon")
//		if err != nil {
//			return err
//		}
//		tracker, err := changecapture.NewTracker(changecapture.Config{Source: "amazon", Entity: "order"}, set)
//		if err != nil {
//			return err
//		}
//		cur := set.Cursor("orders/ATVPDKIKX0DER")
//		for {
//			from, to := cur.WindowEnd, time.Now().Add(-2*time.Minute)
//			payloads, err := api.Fetch(ctx, from, to) // fetch the window
//			if err != nil {
//				return err
//			}
//			b := w.NewBatch()
//			b.Join(tracker)
//			for _, p := range payloads {
//				key, err := capture(b, tracker, p) // change capture
//				if err != nil {
//					b.AddDeadLetter(emit.DeadLetter{Topic: "amazon.orders", Key: key,
//						Payload: p.Raw, Reason: err.Error(), Endpoint: "getOrders"})
//				}
//			}
//			next := cur.Advance("", from, to, time.Now())
//			if err := b.SetCursor(next); err != nil {
//				return err
//			}
//			if err := w.Commit(ctx, b); err != nil { // one transaction
//				if errors.Is(err, emit.ErrAborted) {
//					continue // nothing written: retry the window after a back-off
//				}
//				return err // restart run: fence, reload, go on
//			}
//			cur = next // advance
//		}
//	}
//
//	// capture adds p's record to b if its entity really changed.
//	capture := func(b *emit.Batch, tracker *changecapture.Tracker, p payload) (string, error) {
//		rec, key, changedAt, err := toRecord(p) // parse and map to the Avro record
//		if err != nil {
//			return key, err
//		}
//		c, changed, err := tracker.Observe(key, rec, changedAt)
//		if err != nil || !changed {
//			return key, err
//		}
//		return key, b.Add("amazon.orders", key, c.Stamp(rec, time.Now()))
//	}
//
// A paged window (NextToken, page_token) stores the token as the cursor's
// Position after each page and clears it when the window is complete, so a
// restart resumes at the page after the last committed one.
package emit
