// Package secret holds credentials so that they cannot reach a log line, an
// error message, a metric or a config dump by accident.
package secret

import (
	"fmt"
	"io"
)

// Redacted is what a non-empty Secret prints as, in every format.
const Redacted = "[redacted]"

// Secret is a credential (a password, an app secret, a token). It formats as
// Redacted with every fmt verb, and encodes as Redacted in JSON, YAML and
// zerolog; an empty Secret prints as "", so a dump shows which secrets are
// unset. Reveal returns the value, for the one place that sends it.
type Secret string

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return string(s) }

// String returns Redacted, or "" for an empty Secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// Format writes String for every verb (%d and %x included), so no verb
// reaches the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalText keeps encoders (JSON, YAML, zerolog) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
