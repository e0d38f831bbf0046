package identity

import (
	"strings"
	"testing"
)

func TestParseMapping(t *testing.T) {
	const file = `# explicit links
product_key,channel,channel_id,note
serum,amazon,B07N4M94X4,any marketplace
serum-ca,amazon,A2EUQ1WTGCTBG2:B07N4M94X4,Canada
serum,tiktok,1729384756102938475,
mat,tiktok,product:1731122334455667788,all SKUs

serum,amazon,B07N4M94X4,repeated row is fine
`
	m, err := ParseMapping(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 4 {
		t.Fatalf("Len = %d, want 4", m.Len())
	}
	tests := []struct {
		ref     Ref
		product string
		want    string
		ok      bool
	}{
		{Ref{ChannelAmazon, "ATVPDKIKX0DER", "B07N4M94X4"}, "", "serum", true},
		{Ref{ChannelAmazon, "A2EUQ1WTGCTBG2", "B07N4M94X4"}, "", "serum-ca", true}, // scoped row wins
		{Ref{ChannelTikTok, "shop1", "1729384756102938475"}, "P", "serum", true},
		{Ref{ChannelTikTok, "shop1", "999"}, "1731122334455667788", "mat", true},
		{Ref{ChannelTikTok, "shop1", "999"}, "other", "", false},
		{Ref{ChannelAmazon, "ATVPDKIKX0DER", "B000000000"}, "", "", false},
	}
	for _, tt := range tests {
		got, ok := m.lookup(tt.ref, tt.product)
		if got != tt.want || ok != tt.ok {
			t.Errorf("lookup(%v, %q) = %q, %v; want %q, %v", tt.ref, tt.product, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseMappingErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // substrings of the error, each with its line
	}{
		{"empty", "", []string{"empty mapping file"}},
		{"missing column", "product_key,channel\nx,amazon\n", []string{"line 1: header has no channel_id column"}},
		{"every bad row reported", `product_key,channel,channel_id
,amazon,B1
k,ebay,B2
gtin:00887276302195,amazon,B3
k,amazon,
k,amazon,a:b:c
k,amazon,product:1
k,tiktok,product:
k,amazon,B9
other,amazon,B9
short
`, []string{
			"line 2: empty product_key",
			`line 3: channel "ebay"`,
			"line 4: product_key \"gtin:00887276302195\" starts with a prefix reserved",
			"line 5: empty channel_id",
			"line 6: channel_id \"a:b:c\"",
			"line 7: channel_id \"product:1\": product: applies to tiktok only",
			"line 8: channel_id \"product:\"",
			`line 10: amazon B9 is mapped to "other" here and to "k" on line 9`,
			"line 11: 1 fields, the header has 3",
		}},
		{"bad quoting", "product_key,channel,channel_id\n\"x,amazon,B1\n", []string{"line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMapping(strings.NewReader(tt.file))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadMappingEmptyPath(t *testing.T) {
	m, err := LoadMapping("")
	if err != nil || m.Len() != 0 {
		t.Fatalf("LoadMapping(\"\") = %v, %v", m, err)
	}
	if _, err := LoadMapping("/nonexistent/map.csv"); err == nil {
		t.Fatal("missing file: no error")
	}
}

func FuzzParseMapping(f *testing.F) {
	f.Add("product_key,channel,channel_id\nk,amazon,B1\n")
	f.Add("product_key,channel,channel_id\nk,tiktok,product:1\nk,tiktok,s:1\n")
	f.Add("# c\nchannel_id,product_key,channel\n\"a\",k,amazon\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMapping(strings.NewReader(s))
		if err == nil && m == nil {
			t.Fatal("nil mapping without error")
		}
	})
}
