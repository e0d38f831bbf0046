package amazon

import (
	"errors"
	"fmt"
	"strings"
)

// APIError is an SP-API error response: the HTTP status and Amazon's error
// list. It never carries request headers or tokens.
type APIError struct {
	Operation string
	Status    int
	Code      string
	Message   string
	Details   string
	RequestID string
}

// Error describes the failed call with Amazon's code, message and request id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "amazon %s: HTTP %d", e.Operation, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Details != "" {
		fmt.Fprintf(&b, " (%s)", e.Details)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestID)
	}
	return b.String()
}

// Temporary reports whether retrying the same request later may succeed.
func (e *APIError) Temporary() bool { return retryableStatus(e.Status) }

// TokenError is an LWA token endpoint failure. A permanent one
// (invalid_grant, invalid_client) needs a human: the seller revoked the
// authorization or the app's secret changed.
type TokenError struct {
	Status      int
	Code        string // OAuth error code, e.g. invalid_grant
	Description string
}

// Error describes the token failure; it never holds a credential.
func (e *TokenError) Error() string {
	return fmt.Sprintf("amazon lwa token: HTTP %d %s: %s", e.Status, e.Code, e.Description)
}

// ReportFatalError says a report ended FATAL. Reason is the content of the
// report's reason document (empty if Amazon gave none). The stage records it
// and retries the report later; other reports are not held up.
type ReportFatalError struct {
	ReportID   string
	ReportType string
	Reason     string
}

// Error names the report and its reason.
func (e *ReportFatalError) Error() string {
	r := e.Reason
	if r == "" {
		r = "no reason document"
	}
	return fmt.Sprintf("amazon report %s (%s) FATAL: %s", e.ReportID, e.ReportType, r)
}

// ErrReportCancelled is returned for a report that ended CANCELLED: Amazon
// cancels a report itself when there is no data to return (Brand Analytics
// before a period is published, a day without sales or traffic).
var ErrReportCancelled = errors.New("amazon report cancelled: no data")

// errMalformed marks a 2xx response whose body did not parse; it is retried
// like a 5xx because a cut-off body is a transport failure.
type errMalformed struct{ err error }

func (e errMalformed) Error() string { return "malformed response body: " + e.err.Error() }
func (e errMalformed) Unwrap() error { return e.err }
