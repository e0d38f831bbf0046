package pipelinetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/shopstream/shopstream/ingest/webhook"
)

// Webhooks sends TikTok Shop webhook deliveries to a receiver, signed as
// TikTok signs them (HMAC-SHA256 of app key + body with the app secret).
type Webhooks struct {
	URL       string
	AppKey    string
	AppSecret []byte
	// Client defaults to a client with TikTok's three-second timeout.
	Client *http.Client
}

// Send delivers body with a valid signature and returns the status.
func (s *Webhooks) Send(ctx context.Context, body []byte) (int, error) {
	return s.SendWith(ctx, body, webhook.Signature(s.AppKey, s.AppSecret, body))
}

// SendWith delivers body with the given Authorization header ("" sends
// none) and returns the status.
func (s *Webhooks) SendWith(ctx context.Context, body []byte, authorization string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 3 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// OrderStatusChange is the body of an ORDER_STATUS_CHANGE notification
// (type 1) for an order of shopID, as TikTok sends it.
func OrderStatusChange(notificationID, shopID, orderID, status string, updated time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": webhook.TypeOrderStatusChange, "tts_notification_id": notificationID, "shop_id": shopID,
		"timestamp": updated.Unix(),
		"data":      map[string]any{"order_id": orderID, "order_status": status, "is_on_hold_order": false, "update_time": updated.Unix()},
	})
	return b
}
