package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestSecretNeverPrints: no fmt verb, JSON encoding, zerolog field or
// wrapped error shows the value; an empty Secret prints as empty, and
// Reveal gives the value back.
func TestSecretNeverPrints(t *testing.T) {
	const value = "hunter2-s3cr3t"
	s := Secret(value)
	holder := struct {
		User     string
		Password Secret
	}{"u", s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, &holder))
	}
	js, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(js), fmt.Errorf("login %v: %w", s, errors.New("denied")).Error())
	var logged bytes.Buffer
	log := zerolog.New(&logged)
	log.Info().Interface("cfg", holder).Stringer("password", s).Msg("x")
	outs = append(outs, logged.String())
	for _, o := range outs {
		if strings.Contains(o, value) || strings.Contains(o, fmt.Sprintf("%x", value)) {
			t.Errorf("secret printed: %s", o)
		}
	}
	if !strings.Contains(string(js), `"Password":"[redacted]"`) {
		t.Errorf("JSON = %s, want the placeholder", js)
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("empty secret prints %q", got)
	}
	if s.Reveal() != value {
		t.Error("Reveal does not return the value")
	}
}
