// Package chsql reads ClickHouse SQL with a lexer after the engine's own
// (src/Parsers/Lexer.cpp), for what must see the same token boundaries the
// engine will: the warehouse server, which reads what a client sends before
// the engine does (to refuse what a ClickHouse server would refuse, to find
// query parameters and SET statements), and the exporter, which finds a
// query's parameters. A comment or string must not hide a statement or a
// parameter from them. Where the two could differ the lexer errs on the side
// of seeing code: text it cannot place is left as tokens, never skipped.
package chsql

import "strings"

// Kind is what a token is, as far as its readers care.
type Kind uint8

// The kinds of token.
const (
	Word        Kind = iota // bare word, keyword or number
	QuotedIdent             // "name" or `name`
	String                  // 'text', x'..', b'..' or a heredoc
	Punct                   // anything else: ( ) ; , = { } : ...
)

// Token is one significant token: whitespace and comments are dropped.
type Token struct {
	Kind       Kind
	Text       string // as written
	Start, End int    // byte offsets in the statement
}

// Is says whether t is the bare word w, in any case.
func (t Token) Is(w string) bool { return t.Kind == Word && strings.EqualFold(t.Text, w) }

// IsPunct says whether t is the punctuation p.
func (t Token) IsPunct(p string) bool { return t.Kind == Punct && t.Text == p }

// Name is t as an identifier: a bare word, or a quoted one unquoted.
func (t Token) Name() (string, bool) {
	switch t.Kind {
	case Word:
		return t.Text, true
	case QuotedIdent:
		return Unquote(t.Text), true
	}
	return "", false
}

// Statement is a statement and its significant tokens.
type Statement struct {
	SQL    string
	Tokens []Token
}

// Param is a {name:Type} query parameter.
type Param struct {
	Name, Type string
}

// Params returns the statement's {name:Type} parameters in order, every
// occurrence. Type is the text up to the closing brace, "" when there is
// none.
func (s Statement) Params() []Param {
	var out []Param
	toks := s.Tokens
	for i := 0; i+2 < len(toks); i++ {
		if !toks[i].IsPunct("{") || !toks[i+2].IsPunct(":") {
			continue
		}
		name, ok := toks[i+1].Name()
		if !ok || !IsIdentifier(name) {
			continue
		}
		p := Param{Name: name}
		for end := i + 3; end < len(toks); end++ {
			if toks[end].IsPunct("}") {
				if end > i+3 {
					p.Type = s.SQL[toks[i+3].Start:toks[end-1].End]
				}
				break
			}
		}
		out = append(out, p)
	}
	return out
}

// IsIdentifier says whether s is a plain identifier: a letter or _, then
// letters, digits and _.
func IsIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// Unquote returns the identifier s without its quotes (backquotes or double
// quotes, with doubled and backslash-escaped quotes undone); s as it is when
// it is not quoted.
func Unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '`' && s[len(s)-1] == '`' || s[0] == '"' && s[len(s)-1] == '"') {
		q := s[0]
		inner := s[1 : len(s)-1]
		inner = strings.ReplaceAll(inner, string(q)+string(q), string(q))
		return strings.NewReplacer(`\`+string(q), string(q), `\\`, `\`).Replace(inner)
	}
	return s
}

func isWordChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Lex splits sql into its significant tokens.
func Lex(sql string) Statement {
	var toks []Token
	n := len(sql)
	for i := 0; i < n; {
		start := i
		c := sql[i]
		kind := Punct
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '\'':
			i, kind = QuotedEnd(sql, i, '\''), String
		case c == '"' || c == '`':
			i, kind = QuotedEnd(sql, i, c), QuotedIdent
		case c == '-' && i+1 < n && sql[i+1] == '-', c == '/' && i+1 < n && sql[i+1] == '/',
			c == '#' && i+1 < n && (sql[i+1] == ' ' || sql[i+1] == '!'):
			for i < n && sql[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < n && sql[i+1] == '*':
			// Comments nest, as in the SQL standard.
			i += 2
			for depth := 1; depth > 0 && i < n; {
				switch {
				case strings.HasPrefix(sql[i:], "/*"):
					depth++
					i += 2
				case strings.HasPrefix(sql[i:], "*/"):
					depth--
					i += 2
				default:
					i++
				}
			}
			continue
		case c == '$':
			if end, ok := heredocEnd(sql, i); ok {
				i, kind = end, String
				break
			}
			i, kind = wordEnd(sql, i), Word
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B') && i+1 < n && sql[i+1] == '\'':
			i, kind = QuotedEnd(sql, i+1, '\''), String
		case isWordChar(c):
			i, kind = wordEnd(sql, i), Word
			// A number's exponent sign belongs to it (1e-5).
			if sql[start] >= '0' && sql[start] <= '9' && i < n && (sql[i] == '-' || sql[i] == '+') &&
				(sql[i-1] == 'e' || sql[i-1] == 'E') && i+1 < n && sql[i+1] >= '0' && sql[i+1] <= '9' {
				i = wordEnd(sql, i+1)
			}
		default:
			i++
			// Two-character operators the server looks at as one.
			if i < n && (c == '=' && sql[i] == '=' || c == ':' && sql[i] == ':' || c == '-' && sql[i] == '>') {
				i++
			}
		}
		toks = append(toks, Token{Kind: kind, Text: sql[start:i], Start: start, End: i})
	}
	return Statement{SQL: sql, Tokens: toks}
}

// wordEnd returns the end of the word (letters, digits, _ and $) at i.
func wordEnd(s string, i int) int {
	i++
	for i < len(s) && (isWordChar(s[i]) || s[i] == '$') {
		i++
	}
	return i
}

// QuotedEnd returns the end of the quoted text starting at start: the
// quote is escaped by a backslash or by doubling it. An unclosed quote runs
// to the end, as in the engine (which then refuses the statement).
func QuotedEnd(s string, start int, quote byte) int {
	for i := start + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case quote:
			if i+1 < len(s) && s[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(s)
}

// heredocEnd finds the end of a heredoc $tag$...$tag$ starting at i.
func heredocEnd(s string, i int) (int, bool) {
	close := strings.IndexByte(s[i+1:], '$')
	if close < 0 {
		return 0, false
	}
	tag := s[i : i+close+2]
	end := strings.Index(s[i+len(tag):], tag)
	if end < 0 {
		return 0, false
	}
	return i + len(tag) + end + len(tag), true
}
