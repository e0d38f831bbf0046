package config

import (
	"strings"
	"testing"
	"time"
)

// TestProblemsMessages pins the messages of the shared checks every
// section's validation uses, and that a valid value adds none.
func TestProblemsMessages(t *testing.T) {
	var p problems
	p.nonEmpty("a", "")
	p.nonEmpty("ok", "x")
	p.positive("b", 0)
	p.positive("ok", 1)
	p.positiveDuration("c", -time.Second, "1m")
	p.positiveDuration("ok", time.Second, "1m")
	p.hostPort("d", "nope", false)
	p.hostPort("ok", "", true)
	p.hostPort("ok", "127.0.0.1:80", false)
	p.hostPort("e", "", false)
	p.httpURL("f", "ftp://x", "")
	p.httpURL("g", "http://u:pw@x", "; set g.user")
	p.httpURL("ok", "", "")
	p.httpURL("ok", "https://x/y", "")
	var got []string
	for _, e := range p {
		got = append(got, e.Error())
	}
	want := []string{
		"a: must not be empty",
		"b: must be positive",
		"c: must be a positive duration such as 1m",
		`d: "nope" is not host:port`,
		`e: "" is not host:port`,
		`f: "ftp://x" is not an http(s) URL`,
		"g: must not carry credentials; set g.user",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
