package export

import (
	"strings"
)

// Placeholders returns the {name:Type} query parameters of a ClickHouse
// query, name to type. Text in string literals, quoted identifiers and
// comments is skipped, as the server skips it.
func Placeholders(query string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(query, i)
		case c == '-' && strings.HasPrefix(query[i:], "--"), c == '#' && strings.HasPrefix(query[i:], "#!"):
			if j := strings.IndexByte(query[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(query)
			}
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			if j := strings.Index(query[i+2:], "*/"); j >= 0 {
				i += j + 3
			} else {
				i = len(query)
			}
		case c == '{':
			j := strings.IndexByte(query[i:], '}')
			if j < 0 {
				return out
			}
			name, typ, ok := strings.Cut(query[i+1:i+j], ":")
			name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
			if ok && isIdentifier(name) && typ != "" {
				out[name] = typ
			}
			i += j
		}
	}
	return out
}

// skipQuoted returns the index of the quote closing the one at i
// (backslash escapes and doubled quotes included), or the end.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j
		}
	}
	return len(s)
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// ListParam is the value of a parameter of type typ (an Array) holding
// items, in the text form the server parses: ['a','b'] (quotes and
// backslashes escaped), or [1,2] for numbers. A list a person typed as a,b
// becomes a value, never SQL.
func ListParam(typ string, items []string) string {
	elem := strings.TrimSuffix(strings.TrimPrefix(baseType(typ), "Array("), ")")
	k, _ := kindOf(elem)
	quote := k != kindInt && k != kindUint && k != kindFloat && k != kindDecimal
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	var b strings.Builder
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		if quote {
			b.WriteString("'" + esc.Replace(it) + "'")
		} else {
			b.WriteString(strings.TrimSpace(it))
		}
	}
	b.WriteByte(']')
	return b.String()
}
