package stream

import (
	"strings"
	"testing"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

func TestProcessorHistory(t *testing.T) {
	p := NewProcessor(nil, join.Config{})
	links := map[string]map[string]any{}
	for _, in := range history(t) {
		out, err := p.Process(in.topic, in.rec)
		if err != nil {
			t.Fatalf("%s %s: %v", in.topic, in.key, err)
		}
		for _, o := range out {
			codec, err := schemas.NewCodec(o.Topic)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := codec.Encode(o.Value); err != nil {
				t.Fatalf("output %s %s does not encode: %v", o.Topic, o.Key, err)
			}
			if o.Topic == identity.TopicProductLinks {
				links[o.Key] = o.Value
			}
		}
	}
	b1 := links["amazon:"+mkt+":B1"]
	if b1["product_key"] != "gtin:"+gtin || b1["match_rule"] != "gtin" {
		t.Errorf("B1 link %v", b1)
	}
	if s2 := links["tiktok:"+shop+":S2"]; s2["unmatched"] != true {
		t.Errorf("S2 link %v", s2)
	}
	rows := map[string]join.Row{}
	for _, r := range p.Rows() {
		rows[r.Key()] = r
	}
	r := rows["gtin:"+gtin+":2026-01-05"]
	got := map[string]string{
		"sessions": pstr(r.AmazonSessions), "tt orders": pstr(r.TikTokOrders), "views": pstr(r.TikTokViews),
		"watch": pfl(r.TikTokWatchTimeSeconds), "video gmv": prat(r), "bsr": pstr(r.BestSellersRankBest), "amz orders": pstr(r.AmazonOrders),
	}
	want := map[string]string{"sessions": "30", "tt orders": "1", "views": "1000", "watch": "500", "video gmv": "25.0000", "bsr": "500", "amz orders": "1"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("2026-01-05 %s = %s, want %s", k, got[k], w)
		}
	}
	if r := rows["gtin:"+gtin+":2026-01-06"]; pstr(r.TikTokViews) != "800" || r.TikTokWatchTimeSeconds != nil || pstr(r.AmazonSessions) != "31" {
		t.Errorf("2026-01-06: views %s watch %s sessions %s", pstr(r.TikTokViews), pfl(r.TikTokWatchTimeSeconds), pstr(r.AmazonSessions))
	}
	if _, ok := rows["amazon:"+mkt+":B2:2026-01-05"]; !ok {
		t.Errorf("unmatched ASIN has no row: %v", keys(rows))
	}
	// The second SKU of P1 gets its own key, so P1's video figures are
	// credited to both of its keys.
	if r, ok := rows["tiktok:"+shop+":S2:2026-01-05"]; !ok || pstr(r.TikTokViews) != "1000" {
		t.Errorf("S2 row %+v (%v)", r, ok)
	}

	if _, err := p.Process("amazon.sales_traffic", map[string]any{"event_id": "x"}); err == nil {
		t.Error("broken record accepted")
	}
}

func keys(m map[string]join.Row) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, " ")
}
