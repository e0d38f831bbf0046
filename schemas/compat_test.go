package schemas_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/schemas"
)

// backwardProblems lists why data written with the writer schema cannot be
// read with the reader schema, following the schema resolution rules of the
// Avro specification; none means the reader is BACKWARD compatible with the
// writer.
//
// goavro has no reader/writer resolution of its own and srfake does not check
// compatibility, so the tests carry this checker. It is stricter than Avro's
// Java checker in one place on purpose: logical types must match, because a
// changed decimal scale silently rescales every amount.
func backwardProblems(reader, writer string) ([]string, error) {
	r, err := parseSchema(reader)
	if err != nil {
		return nil, fmt.Errorf("reader schema: %w", err)
	}
	w, err := parseSchema(writer)
	if err != nil {
		return nil, fmt.Errorf("writer schema: %w", err)
	}
	c := &compatChecker{seen: map[[2]*node]bool{}}
	c.check(r, w, shortName(r.name))
	return c.problems, nil
}

type compatChecker struct {
	problems []string
	seen     map[[2]*node]bool // record pairs already checked, for recursive types
}

func (c *compatChecker) addf(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

func (c *compatChecker) check(r, w *node, path string) {
	if w.kind == "union" {
		// Every branch the writer may have chosen must be readable.
		for _, b := range w.branches {
			c.check(r, b, path)
		}
		return
	}
	if r.kind == "union" {
		for _, b := range r.branches {
			if matches(b, w) {
				c.check(b, w, path)
				return
			}
		}
		c.addf(path, "writer type %s matches no branch of the reader's union %s", w, r)
		return
	}
	if !matches(r, w) {
		c.addf(path, "writer type %s cannot be read as %s", w, r)
		return
	}
	switch r.kind {
	case "record":
		pair := [2]*node{r, w}
		if c.seen[pair] {
			return
		}
		c.seen[pair] = true
		for _, rf := range r.fields {
			wf := writerField(w, rf)
			if wf == nil {
				if !rf.hasDefault {
					c.addf(path+"."+rf.name, "new field without a default: records written before it cannot be read")
				}
				continue
			}
			c.check(rf.typ, wf.typ, path+"."+rf.name)
		}
	case "array", "map":
		c.check(r.items, w.items, path+"[]")
	case "enum":
		for _, s := range w.symbols {
			if !slices.Contains(r.symbols, s) && !r.enumDef {
				c.addf(path, "enum symbol %s removed and the reader has no default", s)
			}
		}
	}
}

// writerField finds the writer's field for reader field rf, by name or alias.
func writerField(w *node, rf field) *field {
	if f := w.field(rf.name); f != nil {
		return f
	}
	for _, a := range rf.aliases {
		if f := w.field(a); f != nil {
			return f
		}
	}
	return nil
}

// promotions are the writer-to-reader primitive promotions Avro allows.
var promotions = map[[2]string]bool{
	{"int", "long"}: true, {"int", "float"}: true, {"int", "double"}: true,
	{"long", "float"}: true, {"long", "double"}: true, {"float", "double"}: true,
	{"string", "bytes"}: true, {"bytes", "string"}: true,
}

// matches reports whether a writer value of type w can be resolved as r (not
// looking inside records, arrays and maps).
func matches(r, w *node) bool {
	if r.logical != w.logical || r.precision != w.precision || r.scale != w.scale {
		return false
	}
	if r.kind != w.kind {
		return r.logical == "" && promotions[[2]string{w.kind, r.kind}]
	}
	switch r.kind {
	case "record", "enum":
		return shortName(r.name) == shortName(w.name)
	case "fixed":
		return shortName(r.name) == shortName(w.name) && r.size == w.size
	}
	return true
}

func TestBackwardChecker(t *testing.T) {
	orders, err := schemas.Source("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		edit       func(t *testing.T, s string) string
		compatible bool
		mention    string // a word the problem must mention
	}{
		{"unchanged", func(_ *testing.T, s string) string { return s }, true, ""},
		{"new optional field", addField(`{"name": "gift_note", "type": ["null", "string"], "default": null}`), true, ""},
		{"new list field", addField(`{"name": "tags", "type": {"type": "array", "items": "string"}, "default": []}`), true, ""},
		{"field removed", replace(`{"name": "is_prime", "type": ["null", "boolean"], "default": null, "doc": "IsPrime."},`, ""), true, ""},
		{"new required field", addField(`{"name": "gift_note", "type": "string"}`), false, "gift_note"},
		{"field type changed", replace(`{"name": "version", "type": "long"`, `{"name": "version", "type": "string"`), false, "version"},
		{"optional made required", replace(`{"name": "seller_order_id", "type": ["null", "string"], "default": null`, `{"name": "seller_order_id", "type": "string"`), false, "seller_order_id"},
		{"decimal scale changed", replace(`"precision": 18, "scale": 4}], "default": null, "doc": "OrderTotal.Amount`, `"precision": 18, "scale": 2}], "default": null, "doc": "OrderTotal.Amount`), false, "order_total_amount"},
		{"field renamed", replace(`{"name": "order_status", "type": "string"`, `{"name": "status", "type": "string"`), false, "status"},
		{"timestamp made date", replace(`{"name": "purchase_date", "type": {"type": "long", "logicalType": "timestamp-millis"}`, `{"name": "purchase_date", "type": {"type": "int", "logicalType": "date"}`), false, "purchase_date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edited := tc.edit(t, orders)
			problems, err := backwardProblems(edited, orders)
			if err != nil {
				t.Fatal(err)
			}
			if tc.compatible && len(problems) > 0 {
				t.Fatalf("compatible edit reported: %q", problems)
			}
			if !tc.compatible {
				if len(problems) == 0 {
					t.Fatal("incompatible edit not reported")
				}
				if !strings.Contains(strings.Join(problems, "\n"), tc.mention) {
					t.Fatalf("problems %q do not mention %s", problems, tc.mention)
				}
			}
		})
	}

	// Promotions the specification allows, and their reverse, which it does not.
	oldS := `{"type": "record", "name": "R", "fields": [{"name": "n", "type": "int"}]}`
	newS := `{"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}]}`
	if p, _ := backwardProblems(newS, oldS); len(p) > 0 {
		t.Errorf("int to long reported: %q", p)
	}
	if p, _ := backwardProblems(oldS, newS); len(p) == 0 {
		t.Error("long to int not reported")
	}
}

// addField returns an edit that appends a field to the top-level record.
func addField(f string) func(*testing.T, string) string {
	return func(t *testing.T, s string) string {
		t.Helper()
		i := strings.LastIndex(s, "\n  ]\n}")
		if i < 0 {
			t.Fatal("cannot find the end of the field list")
		}
		return s[:i] + ",\n    " + f + s[i:]
	}
}

// replace returns an edit that replaces old, which must occur exactly once.
func replace(old, repl string) func(*testing.T, string) string {
	return func(t *testing.T, s string) string {
		t.Helper()
		if n := strings.Count(s, old); n != 1 {
			t.Fatalf("%q occurs %d times, want once", old, n)
		}
		return strings.Replace(s, old, repl, 1)
	}
}

// TestReleasedSchemas proves that every schema is BACKWARD compatible with
// every version released before it (testdata/released/<topic>/<n>.avsc), and
// that the newest released version is the current schema, so no change can
// skip the check.
func TestReleasedSchemas(t *testing.T) {
	for _, topic := range schemas.Topics() {
		t.Run(topic, func(t *testing.T) {
			current, err := schemas.Source(topic)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", "released", topic)
			versions := releasedVersions(t, dir)
			if len(versions) == 0 {
				t.Fatalf("no released version in %s: copy %s.avsc there as 1.avsc", dir, topic)
			}
			var newest string
			for _, v := range versions {
				b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(v)+".avsc"))
				if err != nil {
					t.Fatal(err)
				}
				newest = string(b)
				problems, err := backwardProblems(current, newest)
				if err != nil {
					t.Fatalf("version %d: %v", v, err)
				}
				for _, p := range problems {
					t.Errorf("not BACKWARD compatible with released version %d: %s", v, p)
				}
			}
			if !sameJSON(t, current, newest) {
				next := versions[len(versions)-1] + 1
				t.Errorf("%s.avsc differs from its newest released version %d; once the change is final, copy it to %s",
					topic, versions[len(versions)-1], filepath.Join(dir, strconv.Itoa(next)+".avsc"))
			}
		})
	}
}

// releasedVersions returns the version numbers of the n.avsc files in dir,
// ascending, and fails on any other file so that a misnamed one is not ignored.
func releasedVersions(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var vs []int
	for _, e := range entries {
		n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".avsc"))
		if err != nil || n < 1 || !strings.HasSuffix(e.Name(), ".avsc") {
			t.Fatalf("%s: unexpected file %s (want 1.avsc, 2.avsc, ...)", dir, e.Name())
		}
		vs = append(vs, n)
	}
	slices.Sort(vs)
	for i, v := range vs {
		if v != i+1 {
			t.Fatalf("%s: versions %v have a gap", dir, vs)
		}
	}
	return vs
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var av, bv any
	if err := json.Unmarshal([]byte(a), &av); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &bv); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(av, bv)
}
