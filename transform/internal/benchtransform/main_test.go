package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/transform/stream"
)

// TestMain lets the test binary be the bench's generator process, as the
// bench binary is (generator starts os.Executable() with -emit).
func TestMain(m *testing.M) {
	if slices.Contains(os.Args[1:], "-emit") {
		main()
		return
	}
	os.Exit(m.Run())
}

// counter is a sink that counts the world's records per topic.
type counter map[string]int

func (c counter) add(topic string, _ map[string]any) error { c[topic]++; return nil }
func (c counter) day(int)                                  {}

// TestBenchReadsTheWholeWorld runs a small bench end to end: every record
// the world generates reaches the topology through the generator process
// (per topic, as counted in process), the topology emits rows and links,
// nothing is dead-lettered, and the last line is the figure make reads.
func TestBenchReadsTheWholeWorld(t *testing.T) {
	o := options{products: 200, videos: 2000, days: 2, posted: 7, relinkDay: 2, zone: "UTC", cacheMB: 16, partitions: 3}
	want := counter{}
	if err := newWorld(o.products, o.videos, o.posted, o.relinkDay, want).generate(o.days); err != nil {
		t.Fatal(err)
	}
	var per []string
	for _, topic := range stream.Topics() {
		if n := want[topic]; n > 0 {
			per = append(per, fmt.Sprintf("%s=%d", topic, n))
		}
	}
	var out strings.Builder
	if err := run(&out, o); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	got := out.String()
	if !strings.Contains(got, "("+strings.Join(per, " ")+")") {
		t.Errorf("the bench did not read the world's records, want per topic %v:\n%s", per, got)
	}
	if m := regexp.MustCompile(`outputs +(\d+) product_daily rows, (\d+) product_links.*; 0 dead letters`).FindStringSubmatch(got); m == nil || m[1] == "0" || m[2] == "0" {
		t.Errorf("want product_daily rows, product_links and no dead letters:\n%s", got)
	}
	if !regexp.MustCompile(`after day 1 .*VmRSS`).MatchString(got) {
		t.Errorf("no memory report after day 1 (the generator's day marker):\n%s", got)
	}
	if !regexp.MustCompile(`key filter rebuilt from [1-9]\d* keys`).MatchString(got) {
		t.Errorf("no key filter rebuild after reopening the stores:\n%s", got)
	}
	if !regexp.MustCompile(`\ntransform records-per-second \d+\n$`).MatchString(got) {
		t.Errorf("the last line is not the figure:\n%s", got)
	}
}
