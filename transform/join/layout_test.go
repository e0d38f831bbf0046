package join

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/big"
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// fill sets every field below v (unexported ones included) to a value
// made from the field's path, so that a value says which field it is:
// a layout that writes two fields in another order writes other bytes.
// Lists get two elements, optional values are set.
func fill(v reflect.Value, path string) {
	h := fnv.New64a()
	h.Write([]byte(path))
	n := int64(h.Sum64() % 100_000)
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Unix(1_750_000_000+n, n*1_000).UTC()))
		return
	case reflect.TypeFor[*big.Rat]():
		v.Set(reflect.ValueOf(big.NewRat(n+1, 7)))
		return
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(n)
	case reflect.Uint8:
		v.SetUint(uint64(n % 256))
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.25)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fallthrough
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			fill(reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem(), path+"."+v.Type().Field(i).Name)
		}
	}
}

// filled returns the wire form of every fact, entity and partial layout,
// each with every field set (fill), by name.
func filled() map[string][]byte {
	out := map[string][]byte{}
	for _, decode := range factKinds {
		if decode != nil {
			r := newUnwire(nil)
			x := reflect.New(reflect.TypeOf(decode(decoder{&r}))).Elem()
			fill(x, x.Type().Name())
			out["fact "+x.Type().Name()] = AppendFact(nil, x.Interface().(Fact))
		}
	}
	for _, newEntity := range entityKinds {
		if newEntity != nil {
			e := newEntity()
			v := reflect.ValueOf(e).Elem()
			fill(v, v.Type().Name())
			out["entity "+v.Type().Name()] = appendEntity(nil, e)
		}
	}
	var p Partial
	fill(reflect.ValueOf(&p).Elem(), "Partial")
	out["partial"] = AppendPartial(nil, &p)
	var c PartialChange
	fill(reflect.ValueOf(&c).Elem(), "PartialChange")
	out["partial change"] = AppendPartialChange(nil, &c)
	return out
}

// goldenLayouts are the wire forms filled() builds: the layouts the
// transform's internal topics, stores and changelogs hold, so a state
// written by one release is read by the next. None may change without a
// new wireVersion (and a way to read the old one, or a note that state
// must be rebuilt from the changelogs' inputs).
var goldenLayouts = map[string]string{
	"entity amzOrderEntity": "01050673323430313201febb0b06733537353738019cba06020673353033393301f68a0c0573333931300106733836363238067333303031320673363331333601019cd9080673313533353801846906733739353931010673393639323906733332313533067339393939350101becc09",
	"entity sqpEntity":      "0102019c8202067338373834330106733233353439067334373130390673333338363302e2c504f81206733935343134d0e002f2d60506733436313436febb03d435daee06",
	"entity stEntity":       "010101b6a40906733538303836010573383030340673323335313606733337313834aa8709a848a8fd02c8c6080673393336313402010003014e4d000107",
	"entity termEntity":     "010301ba8e020673383932353201028af309a09808067336343130318aee01b88a0106733332353431020673363734343906733735353639067331343232370573313436330673343238383796840a80e50400000000c870e04000000000084fea4006733937373838057337363336067339333931320673333239303606733236303934a0db04e2920b00000000b476f1400000000040bbba40",
	"entity ttOrderEntity":  "010401dafb03057334303532057339373330b0fd0b02067336353430380673343632393606733436303630cefe0101067339343030350201000223ae000107067331323930390673343631303106733931303331d4c3020106733339373232020100029fbd000107",
	"fact AmazonOrder":      "010506733233383435067336313437390180b982850d809cc32c01aaf1fd840d88a0db1af8ea0b067334373536330673373834393601a09afe840d808dfb1b",
	"fact AmazonOrderItem":  "0106067335353839320673343035323401bed3ff840d98d6ce2101dcf282850db0d7a42edab701067331363738340673373535313106733435353332067332333233330673393436333401cadffb840d88f5ad1206733137393838",
	"fact BestSellersRank":  "0101067339343939330673393834313901e8a382850da0baf02b01c285f8840de88df203b0fe080673343137353905733232313602eab10a80a905",
	"fact SalesTraffic":     "0102067337323630380673333730313601e688fc840db8f6ce1301b488fa840d90b3e50b9296080673313737313706733233343932acde0106733937323236047334303506733932363632c65802a2d50106733531343631010003013a1b000107",
	"fact SearchQuery":      "010306733435373333067334333539310180d2f8840d80f09c0601aadc81850d889cd929f88202067335353637340673353938383306733432383436e0d903e2a60b0673323438373406733936383230eead07a4748af604",
	"fact SearchTerm":       "0104067337383834310673393130393901b887f7840de0ce0501b2f982850da8dfbe2ee0c403057333393832067339313135390673313434343288f001baf30706733533333538057332383235067339303138399af4010206733238383335fad70b00000000e88be94000000000d07bdd4006733630393536dc83060000000004eff2400000000000128a40",
	"fact TikTokOrder":      "0107067334303531310673313035323901b491fb840d90c7fc0f01f6fa82850df8dcc42ed4900306733136373630067335373636320673373231393501d093fb840dc09c851006733437343530020673353636333005733834323406733737343739010003010fc90001070673313739343306733232383635067337393231360100020e16000107",
	"fact VideoEngagement":  "0109067332353632390673353938303701b0e0f8840dc083d50601fa96fa840dc89c9e0c889f05067332313439360673323432343101c481fc840dd0c5b213018ef10a01a2c40201dabe0901a69c0b01bedc02010000000004f5f240",
	"fact VideoPerformance": "0108067338303536320673313837363201eac082850d88e6e12c01b097fb840dc0ef9310eec3070673343234313306733538373632e0ae08067335363132340473363037019ee882850d98ddfb2d0184f30701e8bc0901bceb0201d8d80901ce860b01c4b60202067331353930320100020d17000107067338363336370100020448000101",
	"partial change":        "0106733634323233d4b80204733735310673353131383501d4ccf8840d9080880601d6ccf8840df8878806b4bb080102d9240102c0f5",
	"partial":               "011fa2de08e6bb0b86a8050106733638373533020100025a420001070206733739373135bec6029492030573353733359c9f09d2e40ac09f04057333323236a8bb02da99050673393330323286d607dce001e2fa0b020673313439363298d105aa4a06733538393032057337363237067339373136339e8803a8d4070000000048c0e540000000001059d24006733934353233aeec0aa4da03067333373536370673313132393406733435343130a8f609aaa40600000000a06bc44000000000741df340a8c801c0d0049aec0aaab507b6ac0afafa090106733339353435020100021d36000101d0bc9f09c0b005aa8d090106733837323636020100020dc5000107",
}

// TestWireLayoutsGolden pins the byte layout of every fact kind, entity
// kind, the partial and the partial change (the row state has its own,
// TestRowStateWireGolden), and checks that each reads back to the same
// bytes. Swapping two fields in both directions of a layout keeps every
// round trip working but breaks the state already on disk: only this
// catches it.
func TestWireLayoutsGolden(t *testing.T) {
	got := filled()
	if len(got) != len(goldenLayouts) {
		t.Errorf("%d layouts, %d golden: a kind was added or removed", len(got), len(goldenLayouts))
	}
	for name, b := range got {
		if want := goldenLayouts[name]; hex.EncodeToString(b) != want {
			t.Errorf("%s layout changed:\n got %q\nwant %q", name, hex.EncodeToString(b), want)
		}
		var again []byte
		switch {
		case name == "partial":
			p, err := DecodePartial(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			again = AppendPartial(nil, &p)
		case name == "partial change":
			c, err := DecodePartialChange(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			again = AppendPartialChange(nil, &c)
		case bytes.HasPrefix([]byte(name), []byte("entity")):
			e, rest, err := decodeEntity(b)
			if err != nil || len(rest) > 0 {
				t.Fatalf("%s: %v (%d bytes after it)", name, err, len(rest))
			}
			again = appendEntity(nil, e)
		default:
			x, err := DecodeFact(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			again = AppendFact(nil, x)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("%s does not read back to its bytes:\n got %x\nwant %x", name, again, b)
		}
	}
}
