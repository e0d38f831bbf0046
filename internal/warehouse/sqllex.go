package warehouse

import (
	"strings"

	"github.com/shopstream/shopstream/internal/chsql"
)

// statementText is a statement lexed once for the questions the server asks.
type statementText struct {
	sql  string
	toks []chsql.Token
}

func newStatementText(sql string) statementText {
	return statementText{sql: sql, toks: chsql.Lex(sql).Tokens}
}

// keyword is the statement's first word in upper case, after opening
// parentheses.
func (s statementText) keyword() string {
	for _, t := range s.toks {
		if t.IsPunct("(") {
			continue
		}
		if t.Kind == chsql.Word {
			return strings.ToUpper(t.Text)
		}
		return ""
	}
	return ""
}

// multiStatement says whether anything follows a semicolon.
func (s statementText) multiStatement() bool {
	for i, t := range s.toks {
		if t.IsPunct(";") {
			for _, u := range s.toks[i+1:] {
				if !u.IsPunct(";") {
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
		if s.toks[i].Is(a) && s.toks[i+1].Is(b) {
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
		if name, ok := s.toks[i].Name(); ok && s.toks[i+1].IsPunct("(") {
			names = append(names, name)
		}
	}
	return names
}

// assigns says whether the statement assigns the setting name (name = ...),
// in a SET statement or a SETTINGS clause.
func (s statementText) assigns(name string) bool {
	for i := 0; i+1 < len(s.toks); i++ {
		if n, ok := s.toks[i].Name(); ok && strings.EqualFold(n, name) && s.toks[i+1].IsPunct("=") {
			return true
		}
	}
	return false
}

// parameters returns the names of the {name:Type} substitutions, once each.
func (s statementText) parameters() []string {
	var names []string
	seen := map[string]bool{}
	for _, p := range (chsql.Statement{SQL: s.sql, Tokens: s.toks}).Params() {
		if !seen[p.Name] {
			seen[p.Name] = true
			names = append(names, p.Name)
		}
	}
	return names
}

// assignment is one `name = value` of a SET statement, the value as written.
type assignment struct{ name, value string }

// setAssignments returns the assignments of a SET statement (nil for any
// other statement).
func (s statementText) setAssignments() []assignment {
	if len(s.toks) == 0 || !s.toks[0].Is("SET") {
		return nil
	}
	var out []assignment
	toks := s.toks[1:]
	for len(toks) >= 2 {
		name, ok := toks[0].Name()
		if !ok || !toks[1].IsPunct("=") {
			return out
		}
		depth, end := 0, 2
		for ; end < len(toks); end++ {
			t := toks[end]
			if t.Kind != chsql.Punct {
				continue
			}
			switch t.Text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			}
			if depth == 0 && (t.Text == "," || t.Text == ";") {
				break
			}
		}
		if end == 2 {
			return out
		}
		out = append(out, assignment{name: name, value: s.sql[toks[2].Start:toks[end-1].End]})
		if end == len(toks) || toks[end].Text != "," {
			return out
		}
		toks = toks[end+1:]
	}
	return out
}
