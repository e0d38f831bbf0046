package export

import (
	"strings"

	"github.com/shopstream/shopstream/internal/chsql"
)

// Placeholders returns the {name:Type} query parameters of a ClickHouse
// query, name to type. Text in string literals, quoted identifiers and
// comments is skipped, as the server skips it: the query is read with the
// lexer the embedded warehouse reads it with.
func Placeholders(query string) map[string]string {
	out := map[string]string{}
	for _, p := range chsql.Lex(query).Params() {
		if typ := strings.TrimSpace(p.Type); typ != "" {
			out[p.Name] = typ
		}
	}
	return out
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
