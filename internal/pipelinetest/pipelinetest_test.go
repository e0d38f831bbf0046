package pipelinetest

import (
	"strconv"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(101-i)*time.Millisecond) // unsorted
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 1: time.Millisecond} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %s, want %s", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 || Percentile([]time.Duration{7}, 99) != 7 {
		t.Error("edge cases")
	}
}

// TestParseProcAddr reads /proc/net/tcp's layout: the address in host byte
// order by 32-bit word, the port in hex.
func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:2382":                         "0.0.0.0:9090",
		"00000000000000000000000001000000:0050": "::1:80",
		"00000000000000000000000000000000:0050": ":::80",
	} {
		ip, port, err := parseProcAddr(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := ip.String() + ":" + strconv.Itoa(port); got != want {
			t.Errorf("%s = %s, want %s", in, got, want)
		}
	}
	if _, _, err := parseProcAddr("zz:1"); err == nil {
		t.Error("bad address accepted")
	}
}
