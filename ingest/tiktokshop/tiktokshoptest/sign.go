package tiktokshoptest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"

	"github.com/shopstream/shopstream/ingest/tiktokshop/internal/sign"
)

// Sign computes a request's sign the way the simulator checks it: the
// reference's "sign your API request", in the one implementation the client
// signs with (package sign, which tests it against answers computed outside
// Go). Tests that build requests by hand sign them with it.
func Sign(appSecret, path string, query url.Values, body []byte, contentType string) string {
	return sign.Request(appSecret, path, query, body, contentType)
}

// WebhookSignature is the Authorization header of a webhook delivery:
// lower-case hex HMAC-SHA256 of app_key + raw body, keyed with the app secret.
func WebhookSignature(appKey, appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(appKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
