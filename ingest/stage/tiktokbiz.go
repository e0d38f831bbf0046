package stage

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/schemas"
)

var bizEngagement = entity{name: "video_engagement", topic: schemas.TopicTikTokVideoEngagement}

// BusinessClient is what the TikTok Business stage needs of
// *tiktokbiz.Client.
type BusinessClient interface {
	Videos(ctx context.Context) ([]tiktokbiz.Video, error)
}

// BusinessConfig configures the TikTok Business stage.
type BusinessConfig struct {
	Kafka      Kafka
	Client     BusinessClient
	BusinessID string
	Instance   string
	// Interval is the time between snapshots of the video list. Default
	// DefaultBusinessInterval: the figures are lifetime totals, so daily deltas need only a
	// snapshot near each day's end, and more only sharpen them.
	Interval time.Duration
	// DeadLetters holds what the client's OnMalformed hook skipped.
	DeadLetters *DeadLetters
	Clock       clock.Clock
	Logger      zerolog.Logger
}

// DefaultBusinessInterval is BusinessConfig's default Interval.
const DefaultBusinessInterval = time.Hour

// TikTokBusiness is one incarnation of the TikTok Business stage.
type TikTokBusiness struct {
	cfg  BusinessConfig
	s    *session
	snap cursor.Cursor
}

// OpenTikTokBusiness starts an incarnation of the TikTok Business stage.
func OpenTikTokBusiness(ctx context.Context, cfg BusinessConfig) (*TikTokBusiness, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultBusinessInterval
	}
	s, err := openSession(ctx, cfg.Kafka, tiktokbiz.Source, cfg.Instance, cfg.Clock, cfg.DeadLetters, cfg.Logger, bizEngagement)
	if err != nil {
		return nil, err
	}
	return &TikTokBusiness{cfg: cfg, s: s, snap: s.set.Cursor("videos/" + cfg.BusinessID)}, nil
}

// Close ends the incarnation.
func (t *TikTokBusiness) Close() { t.s.close() }

// Step takes a snapshot of the video list when one is due. Each video whose
// totals changed since the last snapshot gets a record; an unchanged one
// does not.
func (t *TikTokBusiness) Step(ctx context.Context) (Progress, error) {
	now := t.cfg.Clock.Now()
	if t.snap.Stored() && now.Sub(t.snap.WindowEnd) < t.cfg.Interval {
		return Progress{}, nil
	}
	videos, err := t.cfg.Client.Videos(ctx)
	if err != nil {
		return Progress{}, fmt.Errorf("tiktokbiz videos: %w", err)
	}
	// The snapshot time is when the list was read: the clock moves while
	// the client pages and waits, and the totals are as of the end.
	at := t.cfg.Clock.Now()
	b := t.s.newBatch()
	b.kind, b.through = "videos", at
	for _, v := range videos {
		rec := tiktokbiz.EngagementRecord(t.cfg.BusinessID, v, at)
		b.observe(bizEngagement, tiktokbiz.Key(t.cfg.BusinessID, v.ItemID), rec, at, v, "video/list")
	}
	next := t.snap.Advance("", t.snap.WindowEnd, at, at)
	return b.commitCursor(ctx, fmt.Sprintf("videos snapshot of %d", len(videos)), &t.snap, next)
}
