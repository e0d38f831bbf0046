package amazontest

import (
	"encoding/json"
	"net/http"
)

// Error codes and messages the simulator returns, as Amazon's documentation,
// models and public issue threads show them.
const (
	CodeInvalidInput  = "InvalidInput"
	CodeUnauthorized  = "Unauthorized"
	CodeQuotaExceeded = "QuotaExceeded"
	CodeNotFound      = "NotFound"
	CodeInternal      = "InternalFailure"
	CodeUnavailable   = "ServiceUnavailable"
	CodeUnsupported   = "UnsupportedMediaType"

	MsgAccessDenied  = "Access to requested resource is denied."
	MsgQuotaExceeded = "You exceeded your quota for the requested resource."

	DetailTokenMissing = "Access token is missing in the request header."
	DetailTokenInvalid = "The access token you provided is revoked, malformed or invalid."
	// DetailTokenExpired is the details string for an expired access token.
	// The reference quotes the "revoked, malformed or invalid" form and an LWA
	// client-secret expiry; the expired-access-token wording here follows the
	// same pattern (inferred). Clients should key on 403 + Unauthorized.
	DetailTokenExpired = "The access token you provided has expired."
)

// Error is one entry of Amazon's error list.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
}

// ErrorList is the error body every SP-API operation uses.
type ErrorList struct {
	Errors []Error `json:"errors"`
}

// writeJSON writes v with status and the standard SP-API headers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg, details string) {
	writeJSON(w, status, ErrorList{Errors: []Error{{Code: code, Message: msg, Details: details}}})
}

// writeQuotaExceeded writes the documented 429 body; details is present but
// empty, as in the bodies seen in the wild.
func writeQuotaExceeded(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}` + "\n"))
}

// dialect renders injected faults as SP-API responses.
type dialect struct{}

func (dialect) WriteThrottle(w http.ResponseWriter, _ *http.Request) { writeQuotaExceeded(w) }

func (dialect) WriteServerError(w http.ResponseWriter, _ *http.Request, status int) {
	switch status {
	case http.StatusServiceUnavailable:
		writeError(w, status, CodeUnavailable, "Service temporarily unavailable. Please try again.", "")
	case http.StatusGatewayTimeout:
		writeError(w, status, CodeInternal, "Gateway timeout.", "")
	default:
		writeError(w, status, CodeInternal, "We encountered an internal error. Please try again.", "")
	}
}
