package identity

import (
	"bytes"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// TestAppendLinkAvro holds the direct encoding of link records to
// goavro's encoding of LinkRecord, byte for byte.
func TestAppendLinkAvro(t *testing.T) {
	codec, err := schemas.NewCodec(TopicProductLinks)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.FixedZone("x", 3600))
	changes := []Change{
		{Link: Link{Ref: Ref{Channel: ChannelAmazon, Account: "ATVPDKIKX0DER", ID: "B01"}, ProductKey: "gtin:00887276302195",
			GTIN14: "00887276302195", Rule: RuleGTIN}},
		{Link: Link{Ref: Ref{Channel: ChannelTikTok, Account: "7495001", ID: "sku-1"}, ProductID: "p1", SellerSKU: "S-1",
			ProductKey: "tiktok:7495001:p1", Rule: RuleUnmatched, Unmatched: true, ConflictReason: "gtin claimed twice",
			ConflictingKeys: []string{"a", "b"}}, PreviousKey: "gtin:1"},
		{Link: Link{Ref: Ref{Channel: ChannelTikTok, Account: "7495001", ID: "sku-2"}, ProductKey: "k", Rule: RuleSellerSKU},
			PreviousKey: "k", Deleted: true},
	}
	for i, c := range changes {
		wantKey, rec := LinkRecord(c, int64(i)*1_000_003+7, ts, ts.Add(time.Second))
		want, err := codec.Encode(rec)
		if err != nil {
			t.Fatal(err)
		}
		key, got := AppendLinkAvro([]byte("hdr"), c, int64(i)*1_000_003+7, ts, ts.Add(time.Second))
		if key != wantKey || !bytes.Equal(got, append([]byte("hdr"), want...)) {
			t.Errorf("change %d: key %q, want %q;\n got %x\nwant %x", i, key, wantKey, got[3:], want)
		}
	}
}
