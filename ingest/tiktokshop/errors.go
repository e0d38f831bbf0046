package tiktokshop

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes of the {code, message, request_id, data} envelope (reference
// section 2.5).
const (
	CodeOK              = 0
	CodeThrottled       = 36009002 // "Too many requests"
	CodeInternal        = 36009003 // internal error, retry
	CodeInvalidParam    = 36009004 // invalid param / timestamp / app_key
	CodeInvalidPath     = 36009009
	CodeBadSignature    = 106001
	CodeTokenExpired    = 105002
	CodeNoPermission    = 105005
	CodeAnalyticsPeriod = 28001022
)

// ErrReauthorize means the refresh token (or auth code) no longer works: the
// seller must authorize the app again. Retrying cannot help.
var ErrReauthorize = errors.New("tiktokshop: authorization lost, the seller must re-authorize the app")

// APIError is a response the API answered with a non-zero code (inside HTTP
// 200 or not) or an HTTP error status without a usable envelope. It never
// carries request parameters, so no credential can leak through it.
type APIError struct {
	// Op names the operation, e.g. "orders.search".
	Op string
	// HTTPStatus is the response's HTTP status.
	HTTPStatus int
	// Code and Message are the envelope's; Code is 0 when the body was not an
	// envelope.
	Code      int
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tiktokshop: %s: ", e.Op)
	if e.Code != 0 {
		fmt.Fprintf(&b, "code %d %q", e.Code, e.Message)
	} else {
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request_id %s)", e.RequestID)
	}
	return b.String()
}

// Throttled reports whether the API asked the client to slow down.
func (e *APIError) Throttled() bool { return e.Code == CodeThrottled || e.HTTPStatus == 429 }

// AuthError reports whether the access token was rejected. EcomPHP treats
// the whole 105 prefix as token errors (third-party); the 360 prefix it also
// lists holds throttling and parameter errors, which a new token cannot fix,
// so only 105 is taken here.
func (e *APIError) AuthError() bool { return e.Code/1000 == 105 }

// temporary reports whether the same request may succeed later.
func (e *APIError) temporary() bool {
	return e.Throttled() || e.Code == CodeInternal || e.HTTPStatus >= 500
}
