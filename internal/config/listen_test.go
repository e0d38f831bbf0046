package config

import (
	"net"
	"reflect"
	"strings"
	"testing"
)

// TestListenDefaultsAreLoopback: every address shopstream listens on by
// default (every *listen key, found by walking the configuration, so that
// a key added later is checked too) is on the loopback interface: the
// warehouse, the broker, the registry, metrics (and the page served next to
// them) are reachable from other machines only when someone configures it.
// An empty default means the code picks the address (the webhook receiver's
// 127.0.0.1:8088, the page on metrics.listen), which test/e2e checks on a
// running process.
func TestListenDefaultsAreLoopback(t *testing.T) {
	c := mustLoad(t, "")
	found := 0
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			f, fv := v.Type().Field(i), v.Field(i)
			key := strings.TrimPrefix(path+"."+f.Tag.Get("koanf"), ".")
			switch {
			case fv.Kind() == reflect.Struct:
				walk(fv, key)
			case fv.Kind() == reflect.String && strings.HasSuffix(key, "listen"):
				found++
				addr := fv.String()
				if addr == "" {
					continue
				}
				host, _, err := net.SplitHostPort(addr)
				if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
					t.Errorf("%s defaults to %q, not a loopback address", key, addr)
				}
			}
		}
	}
	walk(reflect.ValueOf(*c), "")
	if found < 5 {
		t.Fatalf("found %d listen keys; the walk misses some", found)
	}
}
