package identity

import (
	"errors"
	"testing"
)

func TestNormalizeGTIN(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "GTIN-14 as is", in: "00887276302195", want: "00887276302195"},
		{name: "EAN-13 padded", in: "0887276302195", want: "00887276302195"},
		{name: "UPC-A padded", in: "887276302195", want: "00887276302195"},
		{name: "GTIN-8 padded", in: "96385074", want: "00000096385074"},
		{name: "EAN-13 German prefix", in: "4006381333931", want: "04006381333931"},
		{name: "hyphens and spaces removed", in: "0-88727 63021-95", want: "00887276302195"},
		{name: "ISBN-13", in: "978-0-306-40615-7", want: "09780306406157"},
		{name: "bad check digit", in: "887276302194", wantErr: true},
		{name: "11 digits", in: "88727630219", wantErr: true},
		{name: "ISBN-10 is not a GTIN", in: "0306406152", wantErr: true},
		{name: "letters", in: "88727630219X", wantErr: true},
		{name: "all zeros", in: "00000000000000", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeGTIN(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidGTIN) {
					t.Fatalf("NormalizeGTIN(%q) = %q, %v; want ErrInvalidGTIN", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeGTIN(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzNormalizeGTIN(f *testing.F) {
	for _, s := range []string{"00887276302195", "887276302195", "96385074", "4006381333931", "x", "", "0-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := NormalizeGTIN(s)
		if err != nil {
			return
		}
		if len(g) != 14 {
			t.Fatalf("NormalizeGTIN(%q) = %q: not 14 digits", s, g)
		}
		// A normalised GTIN is a fixed point.
		if g2, err := NormalizeGTIN(g); err != nil || g2 != g {
			t.Fatalf("NormalizeGTIN(%q) = %q, %v; want fixed point", g, g2, err)
		}
	})
}
