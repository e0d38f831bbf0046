package sources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/secret"
)

// tiktokShopSource is the TikTok Shop API; its webhooks are received by the
// receiver (Webhooks).
var tiktokShopSource = Source{
	name:       tiktokshop.Source,
	configured: func(cfg config.Sources) bool { return cfg.TikTokShop.APIBaseURL != "" },
	simulate: func(cfg *config.Sources, sm *sim.Sim) {
		d := sm.Description()
		s := &cfg.TikTokShop
		s.APIBaseURL, s.AuthBaseURL = d.TikTokShop.APIBaseURL, d.TikTokShop.AuthBaseURL
		s.AppKey, s.AppSecret, s.AuthCode = d.TikTokShop.Credentials.AppKey, secret.Secret(d.TikTokShop.Credentials.AppSecret), secret.Secret(d.TikTokShop.Credentials.AuthCode)
		if s.Since == "" {
			s.Since = InZone(d.WorldStart, s.Zone)
		}
	},
	stage: func(cfg config.Sources, env Env) (Stage, error) {
		c := cfg.TikTokShop
		since, err := env.since(c.Since, c.Zone)
		if err != nil {
			return Stage{}, err
		}
		zone, err := time.LoadLocation(c.Zone)
		if err != nil {
			return Stage{}, err
		}
		dead := &stage.DeadLetters{}
		client, err := tiktokshop.New(tiktokshop.Config{APIBaseURL: c.APIBaseURL, AuthBaseURL: c.AuthBaseURL,
			AppKey: c.AppKey, AppSecret: c.AppSecret, RefreshToken: c.RefreshToken, AuthCode: c.AuthCode,
			ShopID: c.ShopID, Registerer: env.Registerer,
			// Malformed entities go to the dead-letter topic with the
			// stage's next transaction.
			OnMalformed: func(m tiktokshop.Malformed) { dead.Add(m.Topic(), m.Op, m.Raw, m.Err) },
		})
		if err != nil {
			return Stage{}, fmt.Errorf("client: %w", err)
		}
		scfg := stage.ShopConfig{Kafka: env.Kafka, Client: client, Instance: cfg.Instance, Since: since, Until: env.Until,
			Overlap: c.Overlap, Zone: zone, DeadLetters: dead, Follow: env.Follow, Logger: env.Log}
		return Stage{
			Open:     func(ctx context.Context) (stage.Stepper, error) { return stage.OpenTikTokShop(ctx, scfg) },
			Interval: c.PollInterval,
		}, nil
	},
}

// receiver is the webhook receiver of the TikTok Shop app cfg configures:
// its secret verifies the signatures, and order events go to env.Follow.
func receiver(cfg config.Sources, env Env) (*stage.Receiver, error) {
	if !tiktokShopSource.Configured(cfg) {
		return nil, errors.New("ingest webhooks: sources.tiktokshop is not configured (the app key and secret verify signatures)")
	}
	return stage.NewReceiver(stage.ReceiverConfig{Kafka: env.Kafka, AppKey: cfg.TikTokShop.AppKey, AppSecret: cfg.TikTokShop.AppSecret,
		Follow: env.Follow, MaxBodyBytes: cfg.Webhooks.MaxBodyBytes, Registerer: env.Registerer, Logger: env.stageLog(Webhooks),
		Server: webhook.ServerConfig{Listen: cfg.Webhooks.Listen, ReadHeaderTimeout: cfg.Webhooks.ReadHeaderTimeout,
			ReadTimeout: cfg.Webhooks.ReadTimeout, WriteTimeout: cfg.Webhooks.WriteTimeout, IdleTimeout: cfg.Webhooks.IdleTimeout}})
}
