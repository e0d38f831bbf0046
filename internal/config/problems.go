package config

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// problems collects what validation finds, each prefixed with its key, so
// that one run reports every mistake in a file rather than the first.
type problems []error

// add records a problem with key.
func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// nonEmpty requires v.
func (p *problems) nonEmpty(key, v string) {
	if v == "" {
		p.add(key, "must not be empty")
	}
}

// positive requires n > 0.
func (p *problems) positive(key string, n int64) {
	if n <= 0 {
		p.add(key, "must be positive")
	}
}

// positiveDuration requires d > 0; example is a value to suggest.
func (p *problems) positiveDuration(key string, d time.Duration, example string) {
	if d <= 0 {
		p.add(key, "must be a positive duration such as %s", example)
	}
}

// hostPort requires v to be host:port with a port (empty passes when
// optional).
func (p *problems) hostPort(key, v string, optional bool) {
	if v == "" && optional {
		return
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		p.add(key, "%q is not host:port", v)
	}
}

// httpURL requires v, unless empty, to be an http(s) URL without
// credentials; credsHint follows the credentials message (where to put them
// instead), if any.
func (p *problems) httpURL(key, v, credsHint string) {
	if v == "" {
		return
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "%q is not an http(s) URL", v)
	} else if u.User != nil {
		p.add(key, "must not carry credentials%s", credsHint)
	}
}
