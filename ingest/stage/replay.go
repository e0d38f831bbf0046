package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/deadletter"
)

// ReplayStats count what replaying a stage's dead letters did.
type ReplayStats struct {
	// Replayed dead letters wrote records; Already ones had nothing left to
	// write (change capture shows their content written since). Both are
	// marked replayed, in Marked.
	Replayed, Already int
	// StillFailing ones still do not parse or map, or name nothing to fetch
	// again; they stay open. Failures says why, per dead letter.
	StillFailing int
	Failures     map[deadletter.ID]error
	Marked       []deadletter.ID
}

// replayRecord is a record a dead letter maps to now.
type replayRecord struct {
	e        entity
	key      string
	rec      map[string]any
	sourceTS time.Time
}

// replayed is what one dead letter maps to now, or why it does not.
type replayed struct {
	recs []replayRecord
	err  error
}

// errNoReplay says that a dead letter's endpoint has no replay.
var errNoReplay = errors.New("no replay for this endpoint: it stays open")

// replay writes, in one transaction of the session's writer, the records
// the dead letters map to now (through change capture, see
// changecapture.Tracker.Replay) and the replayed marker of each one that
// maps, so that a dead letter is marked exactly when its records are in.
// A dead letter whose records do not all encode is left open.
func (s *session) replay(ctx context.Context, letters []deadletter.Letter, results []replayed) (ReplayStats, error) {
	st := ReplayStats{Failures: map[deadletter.ID]error{}}
	b := &batch{s: s, b: s.w.NewBatch()}
	for _, t := range s.trackers {
		b.b.Join(t)
	}
	now := s.clock.Now()
	for i, l := range letters {
		r := results[i]
		if r.err == nil {
			r.err = b.addReplayed(l, r.recs, now, &st)
		}
		if r.err != nil {
			st.StillFailing++
			st.Failures[l.ID()] = r.err
			continue
		}
		b.b.AddReplayed(l.ID())
		st.Marked = append(st.Marked, l.ID())
	}
	if err := s.w.Commit(ctx, b.b); err != nil {
		return ReplayStats{}, fmt.Errorf("%s replay: commit: %w", s.source, err)
	}
	// Entities a fetch again found malformed went to the clients' hooks:
	// they are the dead letters still failing, not new ones.
	s.dead.take()
	return st, nil
}

// addReplayed adds the records of one dead letter l. Each record added is
// accepted by its tracker at once, so that when a later one fails (l then
// stays open) a replay after the fix finds the earlier ones written.
func (b *batch) addReplayed(l deadletter.Letter, recs []replayRecord, now time.Time, st *ReplayStats) error {
	wrote := 0
	for _, r := range recs {
		op, version := "", int64(0)
		if l.Change != nil && r.key == string(l.Key) {
			op, version = l.Change.Op, l.Change.Version
		}
		t := b.s.trackers[r.e.name]
		c, write, err := t.Replay(r.key, r.rec, r.sourceTS, op, version)
		if err != nil {
			return err
		}
		if !write {
			continue
		}
		if err := b.b.Add(b.s.k.Topic(r.e.topic), r.key, c.Stamp(r.rec, now)); err != nil {
			return err
		}
		t.Accept(c)
		wrote++
		b.count++
	}
	if wrote > 0 {
		st.Replayed++
	} else {
		st.Already++
	}
	return nil
}

// parseOrID decodes payload into v; when it does not decode, it returns
// the string field idField of the JSON object, for fetching it again.
func parseOrID[T any](payload []byte, idField string) (T, string, error) {
	var v T
	err := json.Unmarshal(payload, &v)
	if err == nil {
		return v, "", nil
	}
	var obj map[string]any
	if json.Unmarshal(payload, &obj) == nil {
		if id, ok := obj[idField].(string); ok && id != "" {
			return v, id, err
		}
	}
	return v, "", fmt.Errorf("payload does not parse (%w) and names no %s to fetch again", err, idField)
}

// stampTime is when a dead letter's payload was read: its dead-letter time.
func stampTime(l deadletter.Letter, now time.Time) time.Time {
	if l.Time.IsZero() {
		return now
	}
	return l.Time
}

// Replay writes the dead letters of the TikTok Business stage again: each
// video is parsed again with this build's code, or, when the stored payload
// still does not parse, taken from a new video list, and goes through change
// capture and the stage's writer with the dead letter's replayed marker.
// letters are the stage's (deadletter.IngestStage(tiktokbiz.Source)).
func (t *TikTokBusiness) Replay(ctx context.Context, letters []deadletter.Letter) (ReplayStats, error) {
	results := make([]replayed, len(letters))
	refetch := map[string][]int{}
	for i, l := range letters {
		if l.Endpoint != "video/list" {
			results[i].err = errNoReplay
			continue
		}
		v, id, err := parseOrID[tiktokbiz.Video](l.Value, "item_id")
		switch {
		case err == nil:
			at := stampTime(l, t.cfg.Clock.Now())
			results[i].recs = []replayRecord{{bizEngagement, tiktokbiz.Key(t.cfg.BusinessID, v.ItemID), tiktokbiz.EngagementRecord(t.cfg.BusinessID, v, at), at}}
		case id != "":
			refetch[id] = append(refetch[id], i)
		default:
			results[i].err = err
		}
	}
	if len(refetch) > 0 {
		videos, err := t.cfg.Client.Videos(ctx)
		if err != nil {
			return ReplayStats{}, fmt.Errorf("tiktokbiz replay: fetch the videos again: %w", err)
		}
		at := t.cfg.Clock.Now()
		for _, v := range videos {
			for _, i := range refetch[v.ItemID] {
				results[i].recs = []replayRecord{{bizEngagement, tiktokbiz.Key(t.cfg.BusinessID, v.ItemID), tiktokbiz.EngagementRecord(t.cfg.BusinessID, v, at), at}}
			}
			delete(refetch, v.ItemID)
		}
		for id, is := range refetch {
			for _, i := range is {
				results[i].err = fmt.Errorf("payload does not parse, and the video list has no usable video %s", id)
			}
		}
	}
	return t.s.replay(ctx, letters, results)
}

// Replay writes the dead letters of the TikTok Shop stage again (orders,
// products, video performance, and the webhook receiver's bodies): each
// payload is parsed again with this build's code, or, when it still does
// not parse, the entity it names is fetched again (order detail, product
// detail; a webhook body's order), and goes through change capture and the
// stage's writer with the dead letter's replayed marker.
func (t *TikTokShop) Replay(ctx context.Context, letters []deadletter.Letter) (ReplayStats, error) {
	results := make([]replayed, len(letters))
	now := t.now()
	orders := map[string][]int{}
	for i, l := range letters {
		at := stampTime(l, now)
		switch {
		case l.Endpoint == webhook.Path:
			var body struct {
				Data struct {
					OrderID string `json:"order_id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(l.Value, &body); err != nil || body.Data.OrderID == "" {
				results[i].err = fmt.Errorf("webhook body names no order to fetch (%v)", err)
				continue
			}
			orders[body.Data.OrderID] = append(orders[body.Data.OrderID], i)
		case strings.HasPrefix(l.Endpoint, "orders."):
			o, id, err := parseOrID[tiktokshop.Order](l.Value, "id")
			switch {
			case err == nil:
				results[i].recs, results[i].err = t.orderRecords(o)
			case id != "":
				orders[id] = append(orders[id], i)
			default:
				results[i].err = err
			}
		case strings.HasPrefix(l.Endpoint, "products."):
			p, id, err := parseOrID[tiktokshop.Product](l.Value, "id")
			if err != nil && id != "" {
				if p, err = t.cfg.Client.ProductDetail(ctx, id); err != nil {
					return ReplayStats{}, fmt.Errorf("tiktokshop replay: product %s: %w", id, err)
				}
			}
			if err != nil {
				results[i].err = err
				continue
			}
			rec, err := tiktokshop.ProductRecord(t.shopID, p, at)
			results[i].err = err
			if err == nil {
				results[i].recs = []replayRecord{{ttsProduct, tiktokshop.ProductKey(t.shopID, p.ID), rec, sourceTS(rec)}}
			}
		case l.Endpoint == "shop_videos.performance":
			// The key names the day (the stage's own dead letters).
			parts := strings.Split(string(l.Key), ":")
			var v tiktokshop.VideoPerformance
			if err := json.Unmarshal(l.Value, &v); err != nil || len(parts) != 3 {
				results[i].err = fmt.Errorf("video performance without its day or not parsing (%v): read the day again", err)
				continue
			}
			rec, err := tiktokshop.VideoPerformanceRecord(t.shopID, t.cfg.Zone, t.cfg.Currency, parts[2], v, at)
			results[i].err = err
			if err == nil {
				results[i].recs = []replayRecord{{ttsVideo, string(l.Key), rec, at}}
			}
		default:
			results[i].err = errNoReplay
		}
	}
	if len(orders) > 0 {
		ids := make([]string, 0, len(orders))
		for id := range orders {
			ids = append(ids, id)
		}
		for len(ids) > 0 {
			n := min(len(ids), tiktokshop.MaxOrderDetailIDs)
			got, err := t.cfg.Client.OrderDetail(ctx, ids[:n]...)
			if err != nil {
				return ReplayStats{}, fmt.Errorf("tiktokshop replay: order detail: %w", err)
			}
			ids = ids[n:]
			for _, o := range got {
				recs, err := t.orderRecords(o)
				for _, i := range orders[o.ID] {
					results[i] = replayed{recs, err}
				}
				delete(orders, o.ID)
			}
		}
		for id, is := range orders {
			for _, i := range is {
				results[i].err = fmt.Errorf("order %s does not parse or come back from order detail", id)
			}
		}
	}
	return t.s.replay(ctx, letters, results)
}

func (t *TikTokShop) orderRecords(o tiktokshop.Order) ([]replayRecord, error) {
	rec, err := tiktokshop.OrderRecord(t.shopID, o)
	if err != nil {
		return nil, err
	}
	return []replayRecord{{ttsOrder, tiktokshop.OrderKey(t.shopID, o.ID), rec, sourceTS(rec)}}, nil
}

// Replay writes the dead letters of the Amazon stage again: orders and
// catalog items are parsed again with this build's code and go through
// change capture and the stage's writer with the dead letter's replayed
// marker. Order lines and reports have no replay (a line needs its order,
// a report its request): they stay open, and the next restatement run or
// window reads them again.
func (a *Amazon) Replay(ctx context.Context, letters []deadletter.Letter) (ReplayStats, error) {
	results := make([]replayed, len(letters))
	now := a.now()
	for i, l := range letters {
		switch l.Endpoint {
		case amazon.OpGetOrders:
			var o amazon.Order
			if err := json.Unmarshal(l.Value, &o); err != nil {
				results[i].err = fmt.Errorf("payload does not parse: %w", err)
				continue
			}
			rec, err := a.mapper.Order(o)
			results[i].err = err
			if err == nil {
				results[i].recs = []replayRecord{{amzOrder, rec.Key, rec.Value, sourceTS(rec.Value)}}
			}
		case amazon.OpGetCatalogItem:
			var it amazon.CatalogItem
			if err := json.Unmarshal(l.Value, &it); err != nil {
				results[i].err = fmt.Errorf("payload does not parse: %w", err)
				continue
			}
			at := stampTime(l, now)
			rec, err := a.mapper.CatalogItem(it, at)
			results[i].err = err
			if err == nil {
				results[i].recs = []replayRecord{{amzCatalog, rec.Key, rec.Value, at}}
			}
		default:
			results[i].err = errNoReplay
		}
	}
	return a.s.replay(ctx, letters, results)
}
