package simapi

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTokenRoundTrip: a token decodes to the state it encodes, and a token
// that is not base64url JSON is an error, not a zero state.
func TestTokenRoundTrip(t *testing.T) {
	type page struct {
		Size   int `json:"n"`
		Offset int `json:"o"`
	}
	var got page
	if err := DecodeToken(EncodeToken(page{Size: 17, Offset: 34}), &got); err != nil || got != (page{17, 34}) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"%%%", EncodeToken("a string")[:3], "bm90IGpzb24"} {
		if err := DecodeToken(bad, &got); err == nil {
			t.Errorf("DecodeToken(%q) accepted a bad token", bad)
		}
	}
}

// TestRandomStringSeeded: the same seed gives the same string, drawn only
// from the alphabet; another seed gives another.
func TestRandomStringSeeded(t *testing.T) {
	a := RandomString(rand.New(rand.NewPCG(1, 2)), Hex, 64)
	b := RandomString(rand.New(rand.NewPCG(1, 2)), Hex, 64)
	c := RandomString(rand.New(rand.NewPCG(3, 4)), Hex, 64)
	if a != b || a == c || len(a) != 64 || strings.Trim(a, Hex) != "" {
		t.Fatalf("RandomString: %q %q %q", a, b, c)
	}
}
