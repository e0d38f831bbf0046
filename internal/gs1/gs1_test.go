package gs1

import "testing"

// The numbers are published GTINs (GS1's own examples and product
// barcodes), so a wrong weighting or direction fails here rather than
// agreeing with itself.
func TestCheckDigit(t *testing.T) {
	for _, gtin := range []string{
		"96385074",       // GTIN-8, GS1's example
		"036000291452",   // UPC-A
		"4006381333931",  // EAN-13
		"9780306406157",  // ISBN-13
		"00887276302195", // GTIN-14
		"10012345678902", // GTIN-14 with indicator digit 1
	} {
		body, last := gtin[:len(gtin)-1], int(gtin[len(gtin)-1]-'0')
		if got := CheckDigit(body); got != last {
			t.Errorf("CheckDigit(%s) = %d, want %d", body, got, last)
		}
	}
}
