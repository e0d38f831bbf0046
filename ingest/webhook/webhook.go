// Package webhook receives TikTok Shop webhooks: POST /webhooks/tiktok
// verifies the Authorization signature over the raw body before anything
// else, writes the event to tiktok.webhook_events and answers 200 only once
// Kafka acknowledged it, so that TikTok retries whatever did not land.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// Path is where TikTok delivers; Pattern is its http.ServeMux pattern.
const (
	Path    = "/webhooks/tiktok"
	Pattern = "POST " + Path
)

// Source is the source field of the records.
const Source = "tiktokshop-webhook"

// Event types the reference names (section 2.11). TikTok does not publish a
// complete numeric mapping; the numbers below are the documented and
// third-party ones.
var eventTypeNames = map[int64]string{
	1: "ORDER_STATUS_CHANGE", 2: "REVERSE_STATUS_UPDATE", 3: "RECIPIENT_ADDRESS_UPDATE", 4: "PACKAGE_UPDATE",
	5: "PRODUCT_STATUS_CHANGE", 6: "SELLER_DEAUTHORIZATION", 7: "UPCOMING_AUTHORIZATION_EXPIRATION",
	11: "CANCELLATION_STATUS_CHANGE", 12: "RETURN_STATUS_CHANGE", 14: "NEW_MESSAGE", 36: "INVOICE_STATUS_CHANGE",
	37: "PRODUCT_AUDIT_STATUS_CHANGE", 42: "COMBINED_LISTING_CHANGE", 64: "AFTERSALES_REQUEST_STATUS_UPDATE",
	65: "RMA_STATUS_UPDATE", 67: "REFUND_SUCCESS",
}

// TypeOrderStatusChange is the type of ORDER_STATUS_CHANGE events.
const TypeOrderStatusChange = 1

// EventTypeName returns the event_type name of a numeric type, or "" when
// the number is not known.
func EventTypeName(typ int64) string { return eventTypeNames[typ] }

// NormalizeOrderStatus maps a webhook order status to the Order API's name:
// the webhook says CANCEL where the Order API says CANCELLED. Every other
// documented webhook status has the same name in both; an unknown one is
// kept as sent, upper-cased and trimmed.
func NormalizeOrderStatus(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "CANCEL" {
		return "CANCELLED"
	}
	return s
}

// Verify reports whether authorization is the webhook signature of body:
// lower-case hex HMAC-SHA256 of app_key + raw body, keyed with the app
// secret. The comparison is constant-time.
func Verify(appKey string, appSecret []byte, body []byte, authorization string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(authorization))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, appSecret)
	m.Write([]byte(appKey))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Signature returns the Authorization value TikTok sends with body.
func Signature(appKey string, appSecret []byte, body []byte) string {
	m := hmac.New(sha256.New, appSecret)
	m.Write([]byte(appKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Event is a parsed webhook notification.
type Event struct {
	Type           int64
	NotificationID string
	ShopID         string
	SellerOpenID   string
	CreatorOpenID  string
	// Timestamp is the envelope's, in Unix seconds.
	Timestamp int64
	// Data is the data object exactly as received.
	Data json.RawMessage
	// Order holds the typed fields of events about an order (those whose
	// data has an order_id); nil otherwise.
	Order *OrderData
}

// OrderData is the order part of an event's data.
type OrderData struct {
	OrderID string
	// Status is in Order API names (NormalizeOrderStatus); StatusRaw as sent.
	Status        string
	StatusRaw     string
	IsOnHoldOrder *bool
	// UpdateTime is Unix seconds, 0 when absent.
	UpdateTime int64
}

// ErrMalformed is wrapped by every Parse error.
var ErrMalformed = errors.New("malformed webhook event")

// Parse parses a webhook body. It is only called on verified bodies. The
// envelope must carry a tts_notification_id and a type; the data object is
// kept raw, and typed order fields are read where data has them.
func Parse(body []byte) (Event, error) {
	var env struct {
		Type              *int64          `json:"type"`
		TTSNotificationID string          `json:"tts_notification_id"`
		ShopID            string          `json:"shop_id"`
		SellerOpenID      string          `json:"seller_open_id"`
		CreatorOpenID     string          `json:"creator_open_id"`
		Timestamp         int64           `json:"timestamp"`
		Data              json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if env.TTSNotificationID == "" || env.Type == nil {
		return Event{}, fmt.Errorf("%w: tts_notification_id and type are required", ErrMalformed)
	}
	ev := Event{Type: *env.Type, NotificationID: env.TTSNotificationID, ShopID: env.ShopID,
		SellerOpenID: env.SellerOpenID, CreatorOpenID: env.CreatorOpenID, Timestamp: env.Timestamp, Data: env.Data}
	var d struct {
		OrderID       string `json:"order_id"`
		OrderStatus   string `json:"order_status"`
		IsOnHoldOrder *bool  `json:"is_on_hold_order"`
		UpdateTime    int64  `json:"update_time"`
	}
	// Data whose fields do not have the order shape stays raw only: the
	// event is still stored, and polling reconciles the order.
	if len(env.Data) > 0 && json.Unmarshal(env.Data, &d) == nil && d.OrderID != "" {
		ev.Order = &OrderData{OrderID: d.OrderID, StatusRaw: d.OrderStatus, IsOnHoldOrder: d.IsOnHoldOrder, UpdateTime: d.UpdateTime}
		if d.OrderStatus != "" {
			ev.Order.Status = NormalizeOrderStatus(d.OrderStatus)
		}
	}
	return ev, nil
}

// EventID is the deterministic event_id of a notification: redeliveries of
// it get the same id, so consumers drop them.
func EventID(notificationID string) string { return Source + ":" + notificationID }

// Record maps an event to a tiktok.webhook_events record in goavro's native
// form, complete with change metadata: the event is written once as it came,
// so version is the envelope timestamp in milliseconds and op is create.
func Record(ev Event, receivedAt time.Time) map[string]any {
	ts := time.Unix(ev.Timestamp, 0).UTC()
	data := string(ev.Data)
	if data == "" {
		data = "null"
	}
	rec := map[string]any{
		"event_id": EventID(ev.NotificationID), "source": Source, "entity": "webhook_event", "op": "create",
		"source_ts": ts, "ingest_ts": receivedAt.UTC(), "version": ev.Timestamp * 1000,
		"tts_notification_id": ev.NotificationID, "type": ev.Type, "event_type": str(EventTypeName(ev.Type)),
		"shop_id": str(ev.ShopID), "seller_open_id": str(ev.SellerOpenID), "creator_open_id": str(ev.CreatorOpenID),
		"timestamp": ts, "data_json": data,
		"order_id": nil, "order_status": nil, "order_status_raw": nil, "is_on_hold_order": nil, "update_time": nil,
	}
	if o := ev.Order; o != nil {
		rec["order_id"] = str(o.OrderID)
		rec["order_status"] = str(o.Status)
		rec["order_status_raw"] = str(o.StatusRaw)
		if o.IsOnHoldOrder != nil {
			rec["is_on_hold_order"] = map[string]any{"boolean": *o.IsOnHoldOrder}
		}
		if o.UpdateTime > 0 {
			ut := time.Unix(o.UpdateTime, 0).UTC()
			rec["update_time"] = map[string]any{"long.timestamp-millis": ut}
			// The order says when it changed; the envelope only when
			// TikTok sent the notification.
			rec["source_ts"] = ut
		}
	}
	return rec
}

// str is schemas.OptString by a short name, for the record's dense literal.
var str = schemas.OptString
