package identity

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopstream/shopstream/internal/gs1"
)

// ErrInvalidGTIN is wrapped by NormalizeGTIN's errors.
var ErrInvalidGTIN = errors.New("identity: invalid GTIN")

// gtinTypes are the identifier types whose values are GS1 numbers (GTIN-8,
// UPC-A, EAN-13/JAN/ISBN-13, GTIN-14). Other types (ASIN, SKU, MINSAN, ...)
// are not product numbers shared across channels and are ignored.
var gtinTypes = map[string]bool{
	"GTIN": true, "EAN": true, "UPC": true, "JAN": true, "ISBN": true,
	"GTIN8": true, "GTIN12": true, "GTIN13": true, "GTIN14": true,
	"EAN8": true, "EAN13": true, "UPCA": true, "UPC-A": true, "ISBN13": true,
}

// IsGTINType reports whether an identifier of type typ (case-insensitive)
// carries a GS1 number that NormalizeGTIN understands.
func IsGTINType(typ string) bool {
	return gtinTypes[strings.ToUpper(strings.TrimSpace(typ))]
}

// NormalizeGTIN returns s as a GTIN-14: GTIN-8, UPC-A (12 digits), EAN-13
// (also JAN and ISBN-13) and GTIN-14 are left-padded with zeros to 14 digits,
// which is GS1's own rule and keeps the check digit valid. Spaces and
// hyphens, which sellers type into forms, are removed first. The check digit
// must be correct and the number must not be all zeros; anything else
// (ISBN-10, 11 digits, letters) is rejected with ErrInvalidGTIN rather than
// guessed at, because a wrong GTIN would link two unrelated products.
func NormalizeGTIN(s string) (string, error) {
	d := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
	switch len(d) {
	case 8, 12, 13, 14:
	default:
		return "", fmt.Errorf("%w %q: %d digits, want 8, 12, 13 or 14", ErrInvalidGTIN, s, len(d))
	}
	allZero := true
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return "", fmt.Errorf("%w %q: not all digits", ErrInvalidGTIN, s)
		}
		if d[i] != '0' {
			allZero = false
		}
	}
	if allZero {
		return "", fmt.Errorf("%w %q: all zeros", ErrInvalidGTIN, s)
	}
	if want := gs1.CheckDigit(d[:len(d)-1]); int(d[len(d)-1]-'0') != want {
		return "", fmt.Errorf("%w %q: check digit %c, want %d", ErrInvalidGTIN, s, d[len(d)-1], want)
	}
	return strings.Repeat("0", 14-len(d)) + d, nil
}
