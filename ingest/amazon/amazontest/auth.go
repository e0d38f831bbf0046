package amazontest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

type accessToken struct {
	clientID string
	expires  time.Time
	scope    string
}

// TokenResponse is LWA's 200 body.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// TokenError is LWA's OAuth error body.
type TokenError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// Messages of LWA's OAuth errors (third-party fixtures, see the reference).
const (
	InvalidGrantDescription  = "The request has an invalid grant parameter : refresh_token. User may have revoked or didn't grant the permission."
	InvalidClientDescription = "Client authentication failed"
)

func writeTokenJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handleToken is POST /auth/o2/token.
func (s *Simulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeTokenJSON(w, http.StatusBadRequest, TokenError{"invalid_request", "Content-Type must be application/x-www-form-urlencoded"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeTokenJSON(w, http.StatusBadRequest, TokenError{"invalid_request", "Malformed request body"})
		return
	}
	f := r.PostForm
	if f.Get("client_id") != s.Credentials().ClientID || f.Get("client_secret") != s.Credentials().ClientSecret {
		writeTokenJSON(w, http.StatusUnauthorized, TokenError{"invalid_client", InvalidClientDescription})
		return
	}
	if f.Get("refresh_token") != "" && f.Get("scope") != "" {
		writeTokenJSON(w, http.StatusBadRequest, TokenError{"invalid_request", "Send either refresh_token or scope, not both"})
		return
	}
	var scope string
	switch f.Get("grant_type") {
	case "refresh_token":
		if f.Get("refresh_token") != s.Credentials().RefreshToken {
			writeTokenJSON(w, http.StatusBadRequest, TokenError{"invalid_grant", InvalidGrantDescription})
			return
		}
	case "client_credentials":
		scope = f.Get("scope")
		if scope != "sellingpartnerapi::notifications" && scope != "sellingpartnerapi::migration" {
			writeTokenJSON(w, http.StatusBadRequest, TokenError{"invalid_scope", "The requested scope is invalid, unknown, or malformed."})
			return
		}
	default:
		writeTokenJSON(w, http.StatusBadRequest, TokenError{"unsupported_grant_type", "The authorization grant type is not supported by the authorization server."})
		return
	}
	tok := s.issueToken(scope)
	writeTokenJSON(w, http.StatusOK, TokenResponse{AccessToken: tok, TokenType: "bearer",
		ExpiresIn: int(s.opts.AccessTokenTTL / time.Second), Scope: scope})
}

func (s *Simulator) issueToken(scope string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenN++
	r := rand.New(rand.NewPCG(s.World().Seed(), s.tokenN))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 320)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	tok := fmt.Sprintf("Atza|IwEBI%s", b)
	s.tokens[tok] = accessToken{clientID: s.Credentials().ClientID, expires: s.Clock().Now().Add(s.opts.AccessTokenTTL), scope: scope}
	return tok
}

// authorize checks x-amz-access-token; on failure it writes the 403 and
// returns false. Restricted Data Tokens are not simulated.
func (s *Simulator) authorize(w http.ResponseWriter, r *http.Request) (accessToken, bool) {
	h := r.Header.Get("x-amz-access-token")
	if h == "" {
		writeError(w, http.StatusForbidden, CodeUnauthorized, MsgAccessDenied, DetailTokenMissing)
		return accessToken{}, false
	}
	s.mu.Lock()
	tok, ok := s.tokens[h]
	s.mu.Unlock()
	switch {
	case !ok || tok.scope != "":
		// Grantless tokens cannot call seller operations.
		writeError(w, http.StatusForbidden, CodeUnauthorized, MsgAccessDenied, DetailTokenInvalid)
		return tok, false
	case !s.Clock().Now().Before(tok.expires):
		writeError(w, http.StatusForbidden, CodeUnauthorized, MsgAccessDenied, DetailTokenExpired)
		return tok, false
	}
	return tok, true
}
