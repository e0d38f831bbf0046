package warehouse

import (
	"errors"
	"strings"
	"testing"
)

func TestCredentialsAuthenticate(t *testing.T) {
	cases := []struct {
		name           string
		creds          Credentials
		user, password string
		ok             bool
	}{
		{"none configured, nothing sent", Credentials{}, "", "", true},
		{"none configured, default named", Credentials{}, "default", "", true},
		{"none configured, a password sent", Credentials{}, "default", "wrong-pw", false},
		{"none configured, another user", Credentials{}, "bob", "", false},
		{"configured, right", Credentials{User: "shop", Password: "s3cret"}, "shop", "s3cret", true},
		{"configured, wrong password", Credentials{User: "shop", Password: "s3cret"}, "shop", "s3cre", false},
		{"configured, no password", Credentials{User: "shop", Password: "s3cret"}, "shop", "", false},
		{"configured, wrong user", Credentials{User: "shop", Password: "s3cret"}, "default", "s3cret", false},
		{"default with a password, nothing sent", Credentials{Password: "pw"}, "", "", false},
		{"default with a password, user omitted", Credentials{Password: "pw"}, "", "pw", true},
	}
	for _, c := range cases {
		err := c.creds.Authenticate(c.user, c.password)
		if c.ok != (err == nil) {
			t.Errorf("%s: err = %v", c.name, err)
			continue
		}
		if err == nil {
			continue
		}
		var ex *Exception
		if !errors.As(err, &ex) || ex.Code != 516 || !strings.HasSuffix(ex.Message, "(AUTHENTICATION_FAILED)") {
			t.Errorf("%s: %v is not AUTHENTICATION_FAILED", c.name, err)
		}
		if c.password != "" && strings.Contains(err.Error(), c.password) || strings.Contains(err.Error(), c.creds.Password) && c.creds.Password != "" {
			t.Errorf("%s: the error shows a password: %v", c.name, err)
		}
	}
}
