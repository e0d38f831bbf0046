// Package simapi holds what the marketplace simulators (amazontest,
// tiktokshoptest, tiktokbiztest) share beyond the world and the fault layer:
// opaque paging tokens, the seeded strings their default credentials are
// made of, and the server that runs one on a loopback listener.
package simapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
)

// EncodeToken and DecodeToken make opaque paging tokens: base64url JSON of
// the paging state. They are not signed: a simulator only needs clients to
// treat them as opaque, and a tampered token fails to decode or finds
// nothing.
func EncodeToken(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeToken reads a token of EncodeToken into v.
func DecodeToken(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("decode token: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode token: %w", err)
	}
	return nil
}

// Alphabets of RandomString.
const (
	Hex    = "0123456789abcdef"
	Digits = "0123456789"
	// LowerAlnum is lower-case letters and digits.
	LowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// RandomString draws n characters of alphabet from r, one r.IntN each, so
// that a seeded r gives the same credentials on every run.
func RandomString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// Server is a simulator listening on a loopback address, like
// httptest.Server. Each simulator's Server embeds it and adds the URLs of
// the hosts it stands in for.
type Server[S http.Handler] struct {
	*httptest.Server
	// Sim is the simulator behind the server.
	Sim S
}

// NewServer starts sim on a loopback listener. Close it when done.
func NewServer[S http.Handler](sim S) *Server[S] {
	return &Server[S]{Server: httptest.NewServer(sim), Sim: sim}
}
