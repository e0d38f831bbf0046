package schemas_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/shopstream/shopstream/schemas"
)

// newFakeRegistry starts srfake with a real BACKWARD compatibility check.
//
// srfake's compatibility endpoint is a stub that always answers
// is_compatible: true (see handleCheckCompatibility in srfake/handlers.go), so
// an interceptor answers it instead, with backwardProblems against the latest
// version, and 404 (40401) for a subject without versions, as Confluent's
// registry does. Registration itself stays unchecked, as in srfake: only
// Register's own check can then keep an incompatible schema out. The global
// level is NONE so that a BACKWARD subject level can only come from Register.
func newFakeRegistry(t *testing.T) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New(srfake.WithGlobalCompat(sr.CompatNone))
	t.Cleanup(reg.Close)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		rest, ok := strings.CutPrefix(r.URL.Path, "/compatibility/subjects/")
		if r.Method != http.MethodPost || !ok {
			return false
		}
		subject, version, _ := strings.Cut(rest, "/versions")
		if version != "/latest" {
			t.Errorf("compatibility checked against %q, want the latest version", version)
		}
		var body sr.Schema
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("compatibility request body: %v", err)
			return false
		}
		latest, ok := latestVersion(reg, subject)
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]any{"error_code": 40401, "message": "Subject '" + subject + "' not found."})
			return true
		}
		problems, err := backwardProblems(body.Schema, latest.Schema.Schema)
		if err != nil {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_ = json.NewEncoder(w).Encode(map[string]any{"error_code": 42201, "message": err.Error()})
			return true
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"is_compatible": len(problems) == 0, "messages": problems})
		return true
	})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

func latestVersion(reg *srfake.Registry, subject string) (sr.SubjectSchema, bool) {
	var latest sr.SubjectSchema
	found := false
	for v := 1; ; v++ {
		s, ok := reg.GetSchema(subject, v)
		if !ok {
			return latest, found
		}
		latest, found = s, true
	}
}

func register(t *testing.T, cl *sr.Client) map[string]int {
	t.Helper()
	ids, err := schemas.NewRegistry(cl).Register(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestRegister(t *testing.T) {
	ctx := t.Context()
	_, cl := newFakeRegistry(t)
	ids := register(t, cl)

	if len(ids) != len(schemas.Topics()) {
		t.Errorf("Register returned %d ids for %d topics: %v", len(ids), len(schemas.Topics()), ids)
	}
	seen := map[int]string{}
	for _, topic := range schemas.Topics() {
		subject := schemas.Subject(topic)
		id, ok := ids[subject]
		if !ok {
			t.Errorf("no id for subject %s", subject)
			continue
		}
		if other, dup := seen[id]; dup {
			t.Errorf("subjects %s and %s share id %d", subject, other, id)
		}
		seen[id] = subject

		got, err := cl.SchemaByVersion(ctx, subject, -1)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		want, _ := schemas.Source(topic)
		if got.ID != id || got.Schema.Schema != want {
			t.Errorf("%s: latest version has id %d and other text, want id %d and the embedded schema", subject, got.ID, id)
		}
		for _, res := range cl.Compatibility(ctx, subject) {
			if res.Err != nil || res.Level != sr.CompatBackward {
				t.Errorf("%s: compatibility %v (err %v), want BACKWARD", subject, res.Level, res.Err)
			}
		}
	}
}

func TestRegisterTwiceIsNoOp(t *testing.T) {
	_, cl := newFakeRegistry(t)
	first := register(t, cl)
	second := register(t, cl)
	if !mapsEqual(first, second) {
		t.Fatalf("second Register returned %v, first %v", second, first)
	}
	for subject := range first {
		vs, err := cl.SubjectVersions(t.Context(), subject)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(vs, []int{1}) {
			t.Errorf("%s has versions %v after registering twice, want [1]", subject, vs)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestRegisterRejectsIncompatibleEdit(t *testing.T) {
	const topic = "tiktok.orders"
	subject := schemas.Subject(topic)
	current, _ := schemas.Source(topic)
	for _, tc := range []struct {
		name, field string
		edit        func(*testing.T, string) string
	}{
		{"new required field", "gift_note", addField(`{"name": "gift_note", "type": "string"}`)},
		{"field type changed", "order_id", replace(`{"name": "order_id", "type": "string"`, `{"name": "order_id", "type": "long"`)},
		{"money made float", "payment_total_amount", replace(
			`{"name": "payment_total_amount", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 4}]`,
			`{"name": "payment_total_amount", "type": ["null", "double"]`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			_, cl := newFakeRegistry(t)
			register(t, cl)

			_, err := schemas.NewRegistry(cl).RegisterText(ctx, topic, tc.edit(t, current))
			if err == nil {
				t.Fatal("incompatible schema registered")
			}
			for _, want := range []string{subject, topic, "BACKWARD", tc.field} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			vs, err := cl.SubjectVersions(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(vs, []int{1}) {
				t.Errorf("versions after the rejected edit: %v, want [1]", vs)
			}
		})
	}
}

// TestCompatibleEditAndOldRecords registers a compatible new version of a
// schema and checks that records of both versions decode: old ones with the
// embedded schema's id, new ones with an id the serde has to fetch.
func TestCompatibleEditAndOldRecords(t *testing.T) {
	ctx := t.Context()
	const topic = "tiktok.orders"
	_, cl := newFakeRegistry(t)
	ids := register(t, cl)
	reg := schemas.NewRegistry(cl)

	serde, err := reg.Serde(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	oldRec := sample(t, topic, 3)
	oldWire, err := serde.Encode(topic, oldRec)
	if err != nil {
		t.Fatal(err)
	}

	current, _ := schemas.Source(topic)
	v2 := addField(`{"name": "gift_note", "type": ["null", "string"], "default": null, "doc": "Added in v2."}`)(t, current)
	id2, err := reg.RegisterText(ctx, topic, v2)
	if err != nil {
		t.Fatalf("compatible edit rejected: %v", err)
	}
	if id2 == ids[schemas.Subject(topic)] {
		t.Fatalf("new version got the old id %d", id2)
	}
	vs, err := cl.SubjectVersions(ctx, schemas.Subject(topic))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("versions %v, want [1 2]", vs)
	}

	// A producer already on v2.
	v2Codec, err := goavro.NewCodec(v2)
	if err != nil {
		t.Fatal(err)
	}
	newRec := sample(t, topic, 4)
	newRec["gift_note"] = goavro.Union("string", "with love")
	newWire := binary.BigEndian.AppendUint32([]byte{0}, uint32(id2))
	if newWire, err = v2Codec.BinaryFromNative(newWire, newRec); err != nil {
		t.Fatal(err)
	}

	// A fresh consumer decodes both.
	consumer, err := reg.Serde(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	got, err := consumer.Decode(ctx, oldWire)
	if err != nil {
		t.Fatalf("old record: %v", err)
	}
	requireSameRecord(t, oldRec, got)
	got, err = consumer.Decode(ctx, newWire)
	if err != nil {
		t.Fatalf("record with the newer schema id: %v", err)
	}
	requireSameRecord(t, newRec, got)
}

func TestSerdeWireRoundTrip(t *testing.T) {
	ctx := t.Context()
	_, cl := newFakeRegistry(t)
	ids := register(t, cl)
	reg := schemas.NewRegistry(cl)
	producer, err := reg.Serde(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The consumer only knows one topic, so every other value makes it fetch
	// the schema by id.
	consumer, err := reg.Serde(ctx, "shopstream.cursors")
	if err != nil {
		t.Fatal(err)
	}
	for i, topic := range schemas.Topics() {
		t.Run(topic, func(t *testing.T) {
			want := sample(t, topic, i)
			wire, err := producer.Encode(topic, want)
			if err != nil {
				t.Fatal(err)
			}
			id := ids[schemas.Subject(topic)]
			if wire[0] != 0 || binary.BigEndian.Uint32(wire[1:5]) != uint32(id) {
				t.Fatalf("header % x, want 00 and schema id %d big-endian", wire[:5], id)
			}
			c, _ := schemas.NewCodec(topic)
			body, err := c.Encode(want)
			if err != nil {
				t.Fatal(err)
			}
			if string(wire[5:]) != string(body) {
				t.Fatal("wire payload differs from the plain Avro encoding")
			}
			for _, s := range []*schemas.Serde{producer, consumer} {
				got, err := s.Decode(ctx, wire)
				if err != nil {
					t.Fatal(err)
				}
				requireSameRecord(t, want, got)
			}
		})
	}
}

func TestSerdeErrors(t *testing.T) {
	ctx := t.Context()
	reg, cl := newFakeRegistry(t)
	r := schemas.NewRegistry(cl)

	if _, err := r.Serde(ctx, "amazon.orders"); err == nil || !strings.Contains(err.Error(), "Register") {
		t.Errorf("Serde before Register: error %v, want one that says to run Register", err)
	}
	register(t, cl)
	if _, err := r.Serde(ctx, "amazon.nope"); !errors.Is(err, schemas.ErrUnknownTopic) {
		t.Errorf("Serde(unknown topic) error = %v, want ErrUnknownTopic", err)
	}
	s, err := r.Serde(ctx, "amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Encode("tiktok.orders", sample(t, "tiktok.orders", 1)); !errors.Is(err, schemas.ErrUnknownTopic) {
		t.Errorf("Encode for a topic outside the serde: error %v, want ErrUnknownTopic", err)
	}
	if _, err := s.Encode("amazon.orders", map[string]any{"event_id": "x"}); err == nil {
		t.Error("Encode accepted an incomplete record")
	}
	good, err := s.Encode("amazon.orders", sample(t, "amazon.orders", 1))
	if err != nil {
		t.Fatal(err)
	}

	unknownID := binary.BigEndian.AppendUint32([]byte{0}, 999_999)
	unknownID = append(unknownID, good[5:]...)
	otherSchema := append([]byte{0, 0, 0, 0, 0}, good[5:]...)
	copy(otherSchema[1:5], idOf(t, cl, "shopstream.cursors"))

	for _, tc := range []struct {
		name    string
		value   []byte
		is      error
		mention string
	}{
		{"empty", nil, schemas.ErrBadHeader, "0 bytes"},
		{"short", []byte{0, 0, 0}, schemas.ErrBadHeader, "3 bytes"},
		{"bad magic byte", append([]byte{1}, good[1:]...), schemas.ErrBadHeader, "magic byte is 0x01"},
		{"unknown schema id", unknownID, schemas.ErrUnknownSchemaID, "999999"},
		{"truncated body", good[:len(good)-3], schemas.ErrUndecodable, "schema id"},
		{"trailing bytes", append(slices.Clone(good), 1, 2), schemas.ErrUndecodable, "trailing"},
		{"body of another schema", otherSchema, schemas.ErrUndecodable, "schema id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Decode(ctx, tc.value)
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}

	// The registry's own answer stays reachable for callers that want it.
	_, err = s.Decode(ctx, unknownID)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != sr.ErrSchemaNotFound.Code {
		t.Errorf("unknown id error %v does not wrap the registry's 40403", err)
	}

	// An unreachable registry is not a permanent decoding failure: it must
	// match none of the sentinels, so the caller retries instead of
	// dead-lettering the record.
	reg.Close()
	_, err = s.Decode(ctx, unknownID)
	if err == nil || errors.Is(err, schemas.ErrUnknownSchemaID) || errors.Is(err, schemas.ErrUndecodable) || errors.Is(err, schemas.ErrBadHeader) {
		t.Errorf("registry down: error %v, want a plain fetch error", err)
	}
	// Known ids still decode without the registry.
	if _, err := s.Decode(ctx, good); err != nil {
		t.Errorf("decoding a known id needed the registry: %v", err)
	}
}

func idOf(t *testing.T, cl *sr.Client, topic string) []byte {
	t.Helper()
	ss, err := cl.SchemaByVersion(context.Background(), schemas.Subject(topic), -1)
	if err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.AppendUint32(nil, uint32(ss.ID))
}
