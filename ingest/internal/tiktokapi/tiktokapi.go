// Package tiktokapi is the transport the TikTok clients share (TikTok Shop
// Open API, TikTok API for Business): both answer every request with the
// envelope {code, message, request_id, data} and report errors in code, often
// inside HTTP 200 (reference sections 2.5 and 3.1). The package makes one
// attempt of a request and decodes that envelope, classifies what went wrong
// (throttled, server error, API error, malformed body, transport failure),
// counts it in the request metric, and retries what another attempt can fix.
// What differs between the APIs stays in each client: hosts, authentication
// and signing, and the code table (Codes).
package tiktokapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/internal/retry"
)

// Outcomes of API requests, the values of the outcome label of the request
// metric. Dashboards and alerts select on them (deploy/).
const (
	OutcomeOK        = "ok"
	OutcomeThrottled = "throttled"       // HTTP 429 or the API's throttle code
	OutcomeServer    = "server_error"    // HTTP 5xx
	OutcomeAPIError  = "api_error"       // any other non-zero code or HTTP error
	OutcomeMalformed = "malformed"       // a body that is not an envelope
	OutcomeTransport = "transport_error" // no response: connection, timeout
)

// Outcomes lists every outcome label, in the order above.
var Outcomes = []string{OutcomeOK, OutcomeThrottled, OutcomeServer, OutcomeAPIError, OutcomeMalformed, OutcomeTransport}

// ErrMalformed marks a response body, or its data, that did not decode.
var ErrMalformed = errors.New("malformed body")

// Codes is an API's table of the envelope codes the transport acts on. HTTP
// 429 always means throttled and HTTP 5xx always means a server error, so
// only the codes inside the envelope differ.
type Codes struct {
	// Throttled are the codes that ask the client to slow down.
	Throttled []int
	// Internal are server-side failures that another attempt may get past.
	Internal []int
	// Auth reports whether a code means the access token was rejected, so
	// that a new token may fix the call. Nil: no code does.
	Auth func(code int) bool
}

// APIError is a response with a non-zero code (inside HTTP 200 or not) or an
// HTTP error status without a usable envelope. It never carries request
// parameters or headers, so no credential can leak through it.
type APIError struct {
	// API names the API, e.g. "tiktokshop"; Op the operation, e.g.
	// "orders.search".
	API, Op string
	// HTTPStatus is the response's HTTP status.
	HTTPStatus int
	// Code and Message are the envelope's; Code is 0 when the body was not
	// an envelope.
	Code      int
	Message   string
	RequestID string

	codes *Codes
}

// Error names the API, the operation and the code, or the HTTP status.
func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: %s: HTTP %d", e.API, e.Op, e.HTTPStatus)
	if e.Code != 0 {
		s = fmt.Sprintf("%s: %s: code %d %q", e.API, e.Op, e.Code, e.Message)
	}
	if e.RequestID == "" {
		return s
	}
	return s + " (request_id " + e.RequestID + ")"
}

// Throttled reports whether the API asked the client to slow down.
func (e *APIError) Throttled() bool {
	return e.HTTPStatus == http.StatusTooManyRequests || e.codes != nil && slices.Contains(e.codes.Throttled, e.Code)
}

// AuthError reports whether the access token was rejected.
func (e *APIError) AuthError() bool {
	return e.codes != nil && e.codes.Auth != nil && e.codes.Auth(e.Code)
}

// Temporary reports whether the same request may succeed later.
func (e *APIError) Temporary() bool {
	return e.Throttled() || e.HTTPStatus >= 500 || e.codes != nil && slices.Contains(e.codes.Internal, e.Code)
}

// Config configures a Transport. API is required.
type Config struct {
	// API names the API in errors ("tiktokshop: orders.search: ...") and
	// in the metric, shopstream_<API>_api_requests_total.
	API string
	// Title names the API in the metric's help, e.g. "TikTok Shop API".
	Title string
	// Codes is the API's code table.
	Codes Codes
	// HTTPClient sends the requests. Default: a client without a timeout,
	// since every attempt carries its own (AttemptTimeout).
	HTTPClient *http.Client
	// Clock waits between attempts. Default clock.Wall.
	Clock clock.Clock
	// AttemptTimeout bounds one HTTP attempt. Default 30 s.
	AttemptTimeout time.Duration
	// MaxAttempts bounds the attempts of one call. Default 10.
	MaxAttempts int
	// InitialBackoff and MaxBackoff shape the exponential backoff (with
	// jitter) between attempts. Defaults 1 s and 1 min.
	InitialBackoff, MaxBackoff time.Duration
	// MaxResponseBytes bounds a response body. Default 32 MiB.
	MaxResponseBytes int64
	// OnRetry, if set, observes every retried failure; err never contains
	// credentials.
	OnRetry func(op string, attempt int, err error)
	// Registerer, if set, registers the request metric.
	Registerer prometheus.Registerer
}

// Transport sends requests to one API. It is safe for concurrent use.
type Transport struct {
	cfg      Config
	requests *prometheus.CounterVec
}

// New returns a transport, registering its metric with cfg.Registerer.
func New(cfg Config) (*Transport, error) {
	if cfg.API == "" {
		return nil, errors.New("tiktokapi: API is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 32 << 20
	}
	t := &Transport{cfg: cfg, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopstream_" + cfg.API + "_api_requests_total",
		Help: cfg.Title + " requests by operation and outcome (ok, throttled, server_error, api_error, malformed, transport_error).",
	}, []string{"op", "outcome"})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(t.requests); err != nil {
			return nil, fmt.Errorf("%s: register metrics: %w", cfg.API, err)
		}
	}
	return t, nil
}

// Envelope is every response body.
type Envelope struct {
	Code      int             `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

// Checker is implemented by response data that can be decoded yet unusable
// (a token response without a token); Call treats a failed check like data
// that does not decode.
type Checker interface {
	Check() error
}

// Token is what the token responses of both APIs carry; each client embeds
// it with its own expiry fields.
type Token struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// Check rejects a token response without an access token.
func (t *Token) Check() error {
	if t.AccessToken == "" {
		return errors.New("no access_token")
	}
	return nil
}

// Retry runs attempt until it succeeds or fails for good (see retry.Do): the
// retryable failures are those attempt marks, as Send and Call do.
func (t *Transport) Retry(ctx context.Context, op string, attempt func() error) error {
	return retry.Do(ctx, retry.Policy{Op: t.cfg.API + ": " + op, MaxAttempts: t.cfg.MaxAttempts,
		Initial: t.cfg.InitialBackoff, Max: t.cfg.MaxBackoff, Clock: t.cfg.Clock,
		OnRetry: func(n int, err error, _ time.Duration) {
			if t.cfg.OnRetry != nil {
				t.cfg.OnRetry(op, n, err)
			}
		}}, func(int) error { return attempt() })
}

// Call makes a call with retries. Each attempt builds a fresh request
// (with a live token and, where the API wants it, a new timestamp and
// signature), sends it and decodes the envelope's data into out (unless out
// is nil). When the API rejects the access token, refresh (if not nil) runs
// once and the call is tried again.
func (t *Transport) Call(ctx context.Context, op string, build func() (*http.Request, error), refresh func() error, out any) error {
	refreshed := false
	return t.Retry(ctx, op, func() error {
		req, err := build()
		if err != nil {
			return err
		}
		env, err := t.Send(ctx, op, req)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.AuthError() && refresh != nil && !refreshed {
			// Revoked or expired early: refresh once and try again.
			refreshed = true
			if terr := refresh(); terr != nil {
				return fmt.Errorf("%w (after %w)", terr, err)
			}
			return retry.Retryable(err)
		}
		if err != nil || out == nil {
			return err
		}
		err = json.Unmarshal(env.Data, out)
		if c, ok := out.(Checker); ok && err == nil {
			err = c.Check()
		}
		if err != nil {
			// Data that parses as an envelope but does not fit is as
			// broken as a cut-off body.
			return retry.Retryable(fmt.Errorf("%s: %s: %w: data: %w", t.cfg.API, op, ErrMalformed, err))
		}
		return nil
	})
}

// Send performs one HTTP exchange and decodes the envelope, counting its
// outcome. Transport failures, timeouts, 5xx, 429, the API's throttle and
// internal codes, and unparseable bodies come back marked retry.Retryable;
// a non-zero code is an *APIError. The error never includes the URL, which
// may carry keys, signatures and tokens.
func (t *Transport) Send(ctx context.Context, op string, req *http.Request) (Envelope, error) {
	env, err := t.sendOnce(ctx, op, req)
	t.requests.WithLabelValues(op, outcome(err)).Inc()
	return env, err
}

func outcome(err error) string {
	var apiErr *APIError
	switch {
	case err == nil:
		return OutcomeOK
	case errors.As(err, &apiErr) && apiErr.Throttled():
		return OutcomeThrottled
	case errors.As(err, &apiErr) && apiErr.HTTPStatus >= 500:
		return OutcomeServer
	case errors.As(err, &apiErr):
		return OutcomeAPIError
	case errors.Is(err, ErrMalformed):
		return OutcomeMalformed
	}
	return OutcomeTransport
}

func (t *Transport) sendOnce(ctx context.Context, op string, req *http.Request) (Envelope, error) {
	actx, cancel := context.WithTimeout(ctx, t.cfg.AttemptTimeout)
	defer cancel()
	resp, err := t.cfg.HTTPClient.Do(req.WithContext(actx))
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // drop the URL and its credentials
		}
		return Envelope{}, transient(ctx, fmt.Errorf("%s: %s: %s %s: %w", t.cfg.API, op, req.Method, req.URL.Path, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.cfg.MaxResponseBytes))
	if err != nil {
		return Envelope{}, transient(ctx, fmt.Errorf("%s: %s: read response: %w", t.cfg.API, op, err))
	}
	var env Envelope
	if jerr := json.Unmarshal(body, &env); jerr != nil {
		apiErr := &APIError{API: t.cfg.API, Op: op, HTTPStatus: resp.StatusCode, codes: &t.cfg.Codes}
		if resp.StatusCode == http.StatusOK || apiErr.Temporary() {
			return Envelope{}, retry.Retryable(fmt.Errorf("%s: %s: HTTP %d, %w: %w", t.cfg.API, op, resp.StatusCode, ErrMalformed, jerr))
		}
		return Envelope{}, apiErr
	}
	// A non-zero code is an error whatever the HTTP status (mostly 200);
	// an HTTP error is one even if its body says code 0.
	if env.Code != 0 || resp.StatusCode != http.StatusOK {
		apiErr := &APIError{API: t.cfg.API, Op: op, HTTPStatus: resp.StatusCode, Code: env.Code, Message: env.Message,
			RequestID: env.RequestID, codes: &t.cfg.Codes}
		if apiErr.Temporary() {
			return env, retry.Retryable(apiErr)
		}
		return env, apiErr
	}
	return env, nil
}

// transient marks err retryable unless the caller's ctx has ended (then no
// attempt can succeed).
func transient(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return retry.Retryable(err)
}
