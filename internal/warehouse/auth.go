package warehouse

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// codeAuthenticationFailed is ClickHouse's AUTHENTICATION_FAILED: a wrong
// password or an unknown user, which ClickHouse does not tell apart.
const codeAuthenticationFailed = 516

// defaultUser is the user a client is taken to be when it names none, as in
// ClickHouse.
const defaultUser = "default"

// Credentials are the one user the warehouse accepts. The zero value is
// ClickHouse's out-of-the-box user: "default" with an empty password.
type Credentials struct {
	// User is the user's name; empty means "default".
	User string
	// Password is the user's password; empty means none.
	Password string
}

func (c Credentials) user() string {
	if c.User == "" {
		return defaultUser
	}
	return c.User
}

// Authenticate checks what a client sent (over HTTP or the native protocol)
// and returns an *Exception with code 516 AUTHENTICATION_FAILED when it is
// not the configured user and password. An empty user is "default". The
// password is compared in constant time and never appears in the error.
func (c Credentials) Authenticate(user, password string) error {
	if user == "" {
		user = defaultUser
	}
	// Hashing first makes the comparison independent of the lengths too.
	want, got := sha256.Sum256([]byte(c.Password)), sha256.Sum256([]byte(password))
	nameOK := subtle.ConstantTimeCompare([]byte(user), []byte(c.user())) == 1
	passOK := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	if nameOK && passOK {
		return nil
	}
	return &Exception{Code: codeAuthenticationFailed, Message: fmt.Sprintf(
		"%s: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)", user)}
}
