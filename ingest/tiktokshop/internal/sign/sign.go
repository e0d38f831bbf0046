// Package sign computes the sign query parameter of TikTok Shop Open API
// requests. The client signs with it and the simulator checks with it, so the
// two cannot drift apart; known answers computed outside Go (sign_test.go)
// keep the one implementation honest.
package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"net/url"
	"sort"
	"strings"
)

// Request returns the sign query parameter of a TikTok Shop Open API request,
// following partner.tiktokshop.com's "sign your API request" as the reference
// transcribes it (section 2.4):
//
//  1. every query parameter except sign and access_token, keys sorted
//     ascending, concatenated as {key}{value} with no separators;
//  2. the request path (no host, no query) in front;
//  3. the raw body bytes exactly as sent appended, unless the content type is
//     multipart/form-data (nothing for a request without a body);
//  4. the app secret on both sides;
//  5. lower-case hex of HMAC-SHA256 keyed with the app secret.
//
// The reference leaves array parameters open; a parameter with several values
// is signed as its values joined by commas, which is also how the client sends
// them (ids=a,b), so what is signed is what is on the wire. Empty parameters
// are signed like any other (the literal reading of step 1); the client stays
// safe either way by not sending them.
func Request(appSecret, path string, query url.Values, body []byte, contentType string) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		if k == "sign" || k == "access_token" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := hmac.New(sha256.New, []byte(appSecret))
	// hash.Hash writes never fail.
	m.Write([]byte(appSecret))
	m.Write([]byte(path))
	for _, k := range keys {
		m.Write([]byte(k))
		m.Write([]byte(strings.Join(query[k], ",")))
	}
	if len(body) > 0 && !isMultipart(contentType) {
		m.Write(body)
	}
	m.Write([]byte(appSecret))
	return hex.EncodeToString(m.Sum(nil))
}

func isMultipart(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "multipart/form-data"
}
