// Package gs1 holds the GS1 rules that shopstream's product numbers (GTIN-8,
// UPC-A, EAN-13, GTIN-14) follow, for the code that checks them and the
// simulated worlds that make them.
package gs1

// CheckDigit is the GS1 mod-10 check digit of body, a GTIN without its last
// digit: from the right, digits are weighted 3, 1, 3, 1, ... body must be
// ASCII digits.
func CheckDigit(body string) int {
	sum := 0
	for i := 0; i < len(body); i++ {
		v := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			v *= 3
		}
		sum += v
	}
	return (10 - sum%10) % 10
}
