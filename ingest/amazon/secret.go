package amazon

// Secret is a credential string that formats as a fixed placeholder, so it
// cannot reach a log line or an error message by accident (fmt, %v, %+v, %#v,
// JSON). Use string(s) where the value itself is needed.
type Secret string

const redacted = "[REDACTED]"

// String returns a placeholder, never the secret.
func (s Secret) String() string { return redacted }

// GoString returns a placeholder, never the secret.
func (s Secret) GoString() string { return redacted }

// MarshalJSON writes a placeholder, never the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText writes a placeholder, never the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Credentials are an LWA application's credentials and one seller's
// authorization of it.
type Credentials struct {
	ClientID     string
	ClientSecret Secret
	RefreshToken Secret
}
