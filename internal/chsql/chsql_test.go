package chsql

import (
	"reflect"
	"testing"
)

func TestParams(t *testing.T) {
	cases := map[string][]Param{
		"SELECT {a:UInt8} + {b : String}, {a:UInt8}": {{"a", "UInt8"}, {"b", "String"}, {"a", "UInt8"}},
		"SELECT {at:DateTime64(3, 'UTC')}, {m:Map(String, Array(UInt8))}": {{"at", "DateTime64(3, 'UTC')"},
			{"m", "Map(String, Array(UInt8))"}},
		// Quoted text, every kind of comment (nested ones too) and heredocs
		// hide what they hold, as in the engine.
		"SELECT '{s:T}', `{q:T}`, \"{d:T}\", $$ {h:T} $$, x'{x:T}'": nil,
		"SELECT 1 -- {c:T}\n, 2 // {e:T}\n, 3 # {f:T}\n, {g:T}":     {{"g", "T"}},
		"SELECT /* /* {n:T} */ {still:T} */ {after:T}":              {{"after", "T"}},
		"SELECT 'it''s {i:T}', '\\' {j:T}', {k:T}":                  {{"k", "T"}},
		// A quoted name is a name; what is not an identifier is not a
		// parameter; a parameter without a type or a closing brace has
		// no type.
		"SELECT {`sp`:T}, {1bad:T}, {x}, {'a':1}, {e:}, {u:T": {{"sp", "T"}, {"e", ""}, {"u", ""}},
	}
	for sql, want := range cases {
		if got := Lex(sql).Params(); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", sql, got, want)
		}
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{"`a``b`": "a`b", `"x\"y"`: `x"y`, "plain": "plain", " `t` ": "t"} {
		if got := Unquote(in); got != want {
			t.Errorf("Unquote(%q) = %q, want %q", in, got, want)
		}
	}
}
