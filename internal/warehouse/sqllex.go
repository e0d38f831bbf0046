package warehouse

import "strings"

// A lexer for ClickHouse SQL, after the engine's own (src/Parsers/Lexer.cpp):
// the server reads what a client sends before the engine does (to refuse
// what a ClickHouse server would refuse, to find query parameters and SET
// statements), and must see the same token boundaries the engine will, or
// a comment or string could hide a statement from it. Where the two could
// differ it errs on the side of seeing code: text it cannot place is left
// as tokens, never skipped.

// tokenKind is what a token is, as far as the server cares.
type tokenKind uint8

const (
	tokWord        tokenKind = iota // bare word, keyword or number
	tokQuotedIdent                  // "name" or `name`
	tokString                       // 'text', x'..', b'..' or a heredoc
	tokPunct                        // anything else: ( ) ; , = { } : ...
)

// token is one significant token: whitespace and comments are dropped.
type token struct {
	kind       tokenKind
	text       string // as written
	start, end int    // byte offsets in the statement
}

// is says whether t is the bare word w, in any case.
func (t token) is(w string) bool { return t.kind == tokWord && strings.EqualFold(t.text, w) }

// name is t as an identifier: a bare word, or a quoted one unquoted.
func (t token) name() (string, bool) {
	switch t.kind {
	case tokWord:
		return t.text, true
	case tokQuotedIdent:
		return unquoteIdentifier(t.text), true
	}
	return "", false
}

func isWordChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// lexSQL splits sql into its significant tokens.
func lexSQL(sql string) []token {
	var toks []token
	n := len(sql)
	for i := 0; i < n; {
		start := i
		c := sql[i]
		kind := tokPunct
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '\'':
			i, kind = quotedEnd(sql, i, '\''), tokString
		case c == '"' || c == '`':
			i, kind = quotedEnd(sql, i, c), tokQuotedIdent
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
				i, kind = end, tokString
				break
			}
			i, kind = wordEnd(sql, i), tokWord
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B') && i+1 < n && sql[i+1] == '\'':
			i, kind = quotedEnd(sql, i+1, '\''), tokString
		case isWordChar(c):
			i, kind = wordEnd(sql, i), tokWord
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
		toks = append(toks, token{kind: kind, text: sql[start:i], start: start, end: i})
	}
	return toks
}

// wordEnd returns the end of the word (letters, digits, _ and $) at i.
func wordEnd(s string, i int) int {
	i++
	for i < len(s) && (isWordChar(s[i]) || s[i] == '$') {
		i++
	}
	return i
}

// quotedEnd returns the end of the quoted text starting at start: the
// quote is escaped by a backslash or by doubling it. An unclosed quote runs
// to the end, as in the engine (which then refuses the statement).
func quotedEnd(s string, start int, quote byte) int {
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

// statementText is a statement lexed once for the questions the server asks.
type statementText struct {
	sql  string
	toks []token
}

func newStatementText(sql string) statementText {
	return statementText{sql: sql, toks: lexSQL(sql)}
}

// keyword is the statement's first word in upper case, after opening
// parentheses.
func (s statementText) keyword() string {
	for _, t := range s.toks {
		if t.kind == tokPunct && t.text == "(" {
			continue
		}
		if t.kind == tokWord {
			return strings.ToUpper(t.text)
		}
		return ""
	}
	return ""
}

// multiStatement says whether anything follows a semicolon.
func (s statementText) multiStatement() bool {
	for i, t := range s.toks {
		if t.kind == tokPunct && t.text == ";" {
			for _, u := range s.toks[i+1:] {
				if u.kind != tokPunct || u.text != ";" {
					return true
				}
			}
			return false
		}
	}
	return false
}

// hasWords says whether the words a and b follow each other (INTO OUTFILE).
func (s statementText) hasWords(a, b string) bool {
	for i := 0; i+1 < len(s.toks); i++ {
		if s.toks[i].is(a) && s.toks[i+1].is(b) {
			return true
		}
	}
	return false
}

// calls returns the names of what the statement calls, functions and table
// functions (and engines) alike: a name followed by an opening parenthesis.
func (s statementText) calls() []string {
	var names []string
	for i := 0; i+1 < len(s.toks); i++ {
		if name, ok := s.toks[i].name(); ok && s.toks[i+1].kind == tokPunct && s.toks[i+1].text == "(" {
			names = append(names, name)
		}
	}
	return names
}

// assigns says whether the statement assigns the setting name (name = ...),
// in a SET statement or a SETTINGS clause.
func (s statementText) assigns(name string) bool {
	for i := 0; i+1 < len(s.toks); i++ {
		if n, ok := s.toks[i].name(); ok && strings.EqualFold(n, name) && s.toks[i+1].kind == tokPunct && s.toks[i+1].text == "=" {
			return true
		}
	}
	return false
}

// parameters returns the names of the {name:Type} substitutions, once each.
func (s statementText) parameters() []string {
	var names []string
	seen := map[string]bool{}
	for i := 0; i+2 < len(s.toks); i++ {
		if s.toks[i].kind != tokPunct || s.toks[i].text != "{" || s.toks[i+2].kind != tokPunct || s.toks[i+2].text != ":" {
			continue
		}
		name, ok := s.toks[i+1].name()
		if ok && isIdentifier(name) && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// assignment is one `name = value` of a SET statement, the value as written.
type assignment struct{ name, value string }

// setAssignments returns the assignments of a SET statement (nil for any
// other statement).
func (s statementText) setAssignments() []assignment {
	if len(s.toks) == 0 || !s.toks[0].is("SET") {
		return nil
	}
	var out []assignment
	toks := s.toks[1:]
	for len(toks) >= 2 {
		name, ok := toks[0].name()
		if !ok || toks[1].kind != tokPunct || toks[1].text != "=" {
			return out
		}
		depth, end := 0, 2
		for ; end < len(toks); end++ {
			t := toks[end]
			if t.kind != tokPunct {
				continue
			}
			switch t.text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			}
			if depth == 0 && (t.text == "," || t.text == ";") {
				break
			}
		}
		if end == 2 {
			return out
		}
		out = append(out, assignment{name: name, value: s.sql[toks[2].start:toks[end-1].end]})
		if end == len(toks) || toks[end].text != "," {
			return out
		}
		toks = toks[end+1:]
	}
	return out
}
