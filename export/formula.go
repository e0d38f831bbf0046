package export

import "regexp"

// plainNumber is text a spreadsheet reads as a number and nothing else
// ("-12.5", "+3", "1e-3"): harmless, so it is written as it is.
var plainNumber = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// formulaLike reports whether a spreadsheet could take text s for a formula
// (CSV and TSV injection, OWASP): it starts with =, +, -, @, a tab or a
// carriage return, and is not a plain number.
func formulaLike(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return !plainNumber.MatchString(s)
	}
	return false
}

// csvSafe is text as a CSV cell: a formula-like text gets a leading
// apostrophe, which spreadsheets read as "this is text" (OWASP's advice), so
// opening the file never runs it.
func csvSafe(s string) string {
	if formulaLike(s) {
		return "'" + s
	}
	return s
}
