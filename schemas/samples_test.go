package schemas_test

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

// sample returns a record of topic in goavro's native form in which every
// optional field is set and every array has two entries, so that encoding it
// exercises every type of the schema. seed varies the values.
func sample(t testing.TB, topic string, seed int) map[string]any {
	t.Helper()
	root := mustParse(t, topic)
	g := &sampler{seed: seed}
	return g.value(root, "").(map[string]any)
}

func mustParse(t testing.TB, topic string) *node {
	t.Helper()
	text, err := schemas.Source(topic)
	if err != nil {
		t.Fatal(err)
	}
	root, err := parseSchema(text)
	if err != nil {
		t.Fatalf("%s: %v", topic, err)
	}
	return root
}

type sampler struct {
	seed int
	n    int // values generated so far, so that no two fields get the same value
}

func (g *sampler) next() int {
	g.n++
	return g.seed*1000 + g.n
}

func (g *sampler) value(n *node, name string) any {
	switch n.kind {
	case "record":
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			m[f.name] = g.value(f.typ, f.name)
		}
		return m
	case "union":
		for _, b := range n.branches {
			if b.kind != "null" {
				return goavro.Union(unionBranchName(b), g.value(b, name))
			}
		}
		return nil
	case "array":
		return []any{g.value(n.items, name), g.value(n.items, name)}
	case "map":
		return map[string]any{"a": g.value(n.items, name), "b": g.value(n.items, name)}
	case "enum":
		return n.symbols[g.next()%len(n.symbols)]
	}
	if v, ok := schematest.Value(n.kind, n.logical, n.scale, name, g.next()); ok {
		return v
	}
	panic("sampler: unhandled type " + n.String())
}

// diffNative returns the differences between two records in goavro's native
// form, or nil when they are equal. Decimals compare by value and times by
// instant, because that is what a round trip preserves.
func diffNative(want, got any) []string {
	var diffs []string
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		switch wv := w.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: got %T, want a map", path, g))
				return
			}
			for k := range wv {
				if _, ok := gv[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				}
			}
			for k, v := range gv {
				w2, ok := wv[k]
				if !ok {
					diffs = append(diffs, fmt.Sprintf("%s.%s: unexpected", path, k))
					continue
				}
				walk(path+"."+k, w2, v)
			}
		case []any:
			gv, ok := g.([]any)
			if !ok || len(gv) != len(wv) {
				diffs = append(diffs, fmt.Sprintf("%s: got %#v, want %d entries", path, g, len(wv)))
				return
			}
			for i := range wv {
				walk(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i])
			}
		case *big.Rat:
			gv, ok := g.(*big.Rat)
			if !ok || gv.Cmp(wv) != 0 {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %s", path, g, wv.FloatString(6)))
			}
		case time.Time:
			gv, ok := g.(time.Time)
			if !ok || !gv.Equal(wv) {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", path, g, wv))
			}
		case []byte:
			gv, ok := g.([]byte)
			if !ok || !bytes.Equal(gv, wv) {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", path, g, wv))
			}
		default:
			if w != g {
				diffs = append(diffs, fmt.Sprintf("%s: got %#v (%T), want %#v (%T)", path, g, g, w, w))
			}
		}
	}
	walk("", want, got)
	return diffs
}

func requireSameRecord(t testing.TB, want, got any) {
	t.Helper()
	if d := diffNative(want, got); d != nil {
		t.Fatalf("record changed in the round trip:\n%s", strings.Join(d, "\n"))
	}
}
