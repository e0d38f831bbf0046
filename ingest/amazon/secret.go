package amazon

import "github.com/shopstream/shopstream/internal/secret"

// Credentials are an LWA application's credentials and one seller's
// authorization of it.
type Credentials struct {
	ClientID     string
	ClientSecret secret.Secret
	RefreshToken secret.Secret
}
