package amazon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/retry"
)

// tokenSource caches the LWA access token. One refresh runs at a time; the
// others wait for it (sem is a context-aware mutex).
type tokenSource struct {
	c   *Client
	sem chan struct{}

	tok     string
	expires time.Time
}

// token returns a live access token, refreshing it when it is missing or
// within TokenRefreshMargin of expiry.
func (t *tokenSource) token(ctx context.Context) (string, error) {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("amazon lwa token: %w", ctx.Err())
	}
	defer func() { <-t.sem }()
	if t.tok != "" && t.c.clock.Now().Before(t.expires.Add(-t.c.cfg.TokenRefreshMargin)) {
		return t.tok, nil
	}
	tok, exp, err := t.refresh(ctx)
	if err != nil {
		return "", err
	}
	t.tok, t.expires = tok, exp
	return tok, nil
}

// invalidate drops tok if it is still the cached token, so the next call
// refreshes; a token another goroutine already replaced is left alone.
func (t *tokenSource) invalidate(tok string) {
	t.sem <- struct{}{}
	if t.tok == tok {
		t.tok = ""
	}
	<-t.sem
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

type tokenErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// refresh exchanges the refresh token for an access token, retrying
// transient failures. invalid_grant and invalid_client are permanent.
func (t *tokenSource) refresh(ctx context.Context) (string, time.Time, error) {
	c := t.c
	creds := c.cfg.Credentials
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {creds.RefreshToken.Reveal()},
		"client_id":     {creds.ClientID},
		"client_secret": {creds.ClientSecret.Reveal()},
	}.Encode()
	var tok string
	var expires time.Time
	err := retry.Do(ctx, c.retryPolicy("amazon lwa token"), func(int) error {
		issued := c.clock.Now()
		actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
		defer cancel()
		hr, err := http.NewRequestWithContext(actx, http.MethodPost, c.cfg.TokenURL, strings.NewReader(form))
		if err != nil {
			return fmt.Errorf("amazon lwa token: build request: %w", redactURLError(err))
		}
		hr.Header.Set("content-type", "application/x-www-form-urlencoded;charset=UTF-8")
		hr.Header.Set("user-agent", c.ua)
		status, _, body, err := c.roundTrip(hr)
		c.count(OpToken, func(s *OperationStats) { s.Requests++ })
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fmt.Errorf("amazon lwa token: %w", ctx.Err())
			}
			return retry.Retryable(fmt.Errorf("amazon lwa token: %w", err))
		case status == http.StatusOK:
			var tr tokenResponse
			if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" || tr.ExpiresIn <= 0 {
				// Do not wrap the decoder's error: it may quote the body,
				// which holds the token.
				c.count(OpToken, func(s *OperationStats) { s.Malformed++ })
				return retry.Retryable(errors.New("amazon lwa token: malformed token response"))
			}
			c.log.Debug().Int("expires_in", tr.ExpiresIn).Msg("access token refreshed")
			tok, expires = tr.AccessToken, issued.Add(time.Duration(tr.ExpiresIn)*time.Second)
			return nil
		case retryableStatus(status):
			return retry.Retryable(&TokenError{Status: status, Code: "server_error", Description: http.StatusText(status)})
		default:
			var eb tokenErrorBody
			_ = json.Unmarshal(body, &eb)
			return &TokenError{Status: status, Code: eb.Error, Description: eb.ErrorDescription}
		}
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, expires, nil
}
