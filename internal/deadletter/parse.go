package deadletter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Entry is one record of a dead-letter topic, parsed.
type Entry struct {
	// Kind is "" for a dead letter, else EntryReplayRequest or EntryReplayed.
	Kind string
	// Letter is the dead letter; for a replay request, the dead letter it
	// carries (with the request's position as its DLQ position).
	Letter Letter
	// ID names the dead letter the entry is, or is about.
	ID ID
	// Err says what was missing or malformed in the headers; the entry
	// holds what could be read. A record without any shopstream header
	// (written by someone else) is a dead letter of an unknown stage.
	Err error
}

// Parse reads a record of a dead-letter topic. It also understands the
// headers shopstream wrote before this package: ingest's (reason, stage,
// source_endpoint, time, truncated_from_bytes) and the transform's (reason,
// stage, topic, partition, offset), so dead letters kept from then stay
// readable and replayable.
func Parse(r *kgo.Record) Entry {
	h := make(map[string]string, len(r.Headers))
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	l := Letter{
		Topic: strings.TrimSuffix(r.Topic, Suffix), Key: r.Key, Value: r.Value, Offset: -1,
		DLQPartition: r.Partition, DLQOffset: r.Offset,
	}
	var errs []error
	num := func(name string, bits int) int64 {
		n, err := strconv.ParseInt(h[name], 10, bits)
		if err != nil {
			errs = append(errs, fmt.Errorf("header %s: %w", name, err))
			return -1
		}
		return n
	}
	_, current := h[HeaderStage]
	switch {
	case current:
		l.Stage, l.Reason, l.Class, l.Endpoint = h[HeaderStage], h[HeaderReason], h[HeaderErrorClass], h[HeaderEndpoint]
		if t := h[HeaderTopic]; t != "" {
			l.Topic = t
		}
		if _, ok := h[HeaderOffset]; ok {
			l.Partition, l.Offset = int32(num(HeaderPartition, 32)), num(HeaderOffset, 64)
		}
		l.Time = parseTime(h[HeaderTime], &errs)
		if _, ok := h[HeaderTruncated]; ok {
			l.TruncatedFrom = int(num(HeaderTruncated, 64))
		}
		if s, ok := h[HeaderChange]; ok {
			op, v, _ := strings.Cut(s, "/")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || op == "" {
				errs = append(errs, fmt.Errorf("header %s: %q is not op/version", HeaderChange, s))
			} else {
				l.Change = &Change{Op: op, Version: n}
			}
		}
	case h["stage"] != "":
		// The dialects before this package.
		l.Stage, l.Reason, l.Endpoint = h["stage"], h["reason"], h["source_endpoint"]
		if t := h["topic"]; t != "" {
			l.Topic = t
			l.Partition, l.Offset = int32(num("partition", 32)), num("offset", 64)
		}
		l.Time = parseTime(h["time"], &errs)
		if _, ok := h["truncated_from_bytes"]; ok {
			l.TruncatedFrom = int(num("truncated_from_bytes", 64))
		}
		switch {
		case l.Stage == StageTransform && strings.HasPrefix(l.Reason, "decode: "):
			l.Class = ClassUndecodable
		case l.Stage == StageTransform:
			l.Class = ClassProcessing
		default:
			l.Class = ClassMapping
		}
	default:
		errs = append(errs, errors.New("no shopstream dead-letter headers"))
	}
	e := Entry{Kind: h[HeaderKind], Letter: l, ID: l.ID(), Err: errors.Join(errs...)}
	if e.Err != nil {
		e.Err = fmt.Errorf("dead-letter record %s/%d/%d: %w", r.Topic, r.Partition, r.Offset, e.Err)
	}
	return e
}

func parseTime(s string, errs *[]error) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("time %q: %w", s, err))
	}
	return t
}

// Log is what a dead-letter topic holds.
type Log struct {
	Entries []Entry
}

// Replayed returns the dead letters that have a marker.
func (g Log) Replayed() map[ID]bool {
	out := map[ID]bool{}
	for _, e := range g.Entries {
		if e.Kind == EntryReplayed {
			out[e.ID] = true
		}
	}
	return out
}

// Letters returns the dead letters whose stage is of kind (KindIngest,
// KindTransform, KindLoad), in topic order per partition.
func (g Log) Letters(kind string) []Letter {
	var out []Letter
	for _, e := range g.Entries {
		if e.Kind == "" && e.Letter.Kind() == kind {
			out = append(out, e.Letter)
		}
	}
	return out
}

// Read returns every record of the dead-letter topics from their start to
// their end as of the call, parsed. clientOpts must name the seed brokers.
// It reads committed records only: a dead letter in an aborted transaction
// never was.
func Read(ctx context.Context, clientOpts []kgo.Opt, topics ...string) (Log, error) {
	var g Log
	err := readRecords(ctx, clientOpts, topics, func(r *kgo.Record) { g.Entries = append(g.Entries, Parse(r)) })
	return g, err
}

// readRecords calls fn with every record of topics from their start to
// their end as of the call (read_committed), in offset order per partition.
func readRecords(ctx context.Context, clientOpts []kgo.Opt, topics []string, fn func(*kgo.Record)) error {
	what := strings.Join(topics, ", ")
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), clientOpts...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers take offsets: seeing them tells that a
		// partition ending in one was read to its end.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("read %s: kafka client: %w", what, err)
	}
	defer cl.Close()
	// The last stable offsets: a transaction still open at the end is not
	// waited for.
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("read %s: end offsets: %w", what, err)
	}
	type tp struct {
		topic     string
		partition int32
	}
	remaining := map[tp]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("read %s: fetch %s/%d: %w", what, errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			k := tp{r.Topic, r.Partition}
			end, ok := remaining[k]
			if !ok {
				return
			}
			if !r.Attrs.IsControl() && r.Offset < end {
				fn(r)
			}
			if r.Offset+1 >= end {
				delete(remaining, k)
			}
		})
	}
	return nil
}
