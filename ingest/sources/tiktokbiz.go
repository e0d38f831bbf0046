package sources

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/schemas"
)

// tiktokBizSource is the TikTok API for Business (video engagement).
var tiktokBizSource = Source{
	name:       tiktokbiz.Source,
	configured: func(cfg config.Sources) bool { return cfg.TikTokBiz.BaseURL != "" },
	simulate: func(cfg *config.Sources, sm *sim.Sim) {
		d := sm.Description()
		b := &cfg.TikTokBiz
		cr := d.TikTokBusiness.Credentials
		b.BaseURL, b.BusinessID = d.TikTokBusiness.BaseURL, cr.BusinessID
		b.AccessToken, b.RefreshToken, b.ClientID, b.ClientSecret = secret.Secret(cr.AccessToken), secret.Secret(cr.RefreshToken), cr.ClientID, secret.Secret(cr.ClientSecret)
	},
	stage: func(cfg config.Sources, env Env) (Stage, error) {
		c := cfg.TikTokBiz
		dead := &stage.DeadLetters{}
		client, err := tiktokbiz.New(tiktokbiz.Config{BaseURL: c.BaseURL, BusinessID: c.BusinessID,
			AccessToken: c.AccessToken, RefreshToken: c.RefreshToken, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
			Registerer: env.Registerer,
			OnMalformed: func(raw json.RawMessage, err error) {
				dead.Add(schemas.TopicTikTokVideoEngagement, "video/list", raw, err)
			},
		})
		if err != nil {
			return Stage{}, fmt.Errorf("client: %w", err)
		}
		scfg := stage.BusinessConfig{Kafka: env.Kafka, Client: client, BusinessID: c.BusinessID, Instance: cfg.Instance,
			Interval: c.PollInterval, DeadLetters: dead, Logger: env.Log}
		return Stage{
			Open: func(ctx context.Context) (stage.Stepper, error) { return stage.OpenTikTokBusiness(ctx, scfg) },
			// The stage takes a snapshot when one is due; check often.
			Interval: min(c.PollInterval, time.Minute),
		}, nil
	},
}
