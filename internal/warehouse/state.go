package warehouse

import (
	"fmt"
	"strings"
)

// Settings and query parameters of one statement.
//
// The engine knows settings and query parameters only as state of a handle
// (SET name = value, SET param_name = value), while a client sends them with
// a request or a query, for that statement alone. On a handle that lives
// for one request they are simply set. On one that outlives the statement
// (an HTTP session, a native connection) they are set before it and the
// handle's own values put back after it, in one SET statement each way
// (a SET costs about a millisecond and a half of the engine's time, a read
// of system.settings fifteen). The values to put back are the session's:
// its query parameters and readonly level, noted from the SET statements
// it runs, and its changed settings, read from the engine once after each
// SET. An INSERT whose rows the server stages takes them in its own
// SETTINGS clause instead, which lasts for that statement only.
//
// The engine cannot forget a query parameter, so one a statement brought
// stays on the handle; the server refuses a later statement that names it
// without sending it (as it refuses any unbound parameter, 456), so that no
// statement ever sees another's value.

// handleState is what a session's own statements set on its handle.
type handleState struct {
	// params are the query parameters the session SET, as their SQL
	// literals.
	params map[string]string
	// readonly is the session's readonly level as SET ("" when never set).
	readonly string
	// changed are the settings whose values differ from the engine's
	// defaults; nil until read, and again after a SET statement.
	changed map[string]string
}

// isReadonly says whether a readonly value is a read-only level.
func isReadonly(v string) bool {
	v = strings.Trim(strings.TrimSpace(v), "'")
	return v != "" && v != "0" && !strings.EqualFold(v, "false") && !strings.EqualFold(v, "DEFAULT")
}

// noteSet records what a SET statement that succeeded changed.
func (h *handleState) noteSet(st statementText) {
	assigns := st.setAssignments()
	if len(assigns) == 0 {
		return
	}
	h.changed = nil
	for _, a := range assigns {
		switch name, isParam := strings.CutPrefix(a.name, "param_"); {
		case isParam:
			if h.params == nil {
				h.params = map[string]string{}
			}
			h.params[name] = a.value
		case a.name == "readonly":
			h.readonly = a.value
			if strings.EqualFold(a.value, "DEFAULT") {
				h.readonly = ""
			}
		}
	}
}

// readChanged reads the handle's changed settings from the engine.
func readChanged(conn Conn) (map[string]string, error) {
	res, err := conn.Query("SELECT name, value FROM system.settings WHERE changed", "TSV")
	if err != nil {
		return nil, fmt.Errorf("read session settings: %w", err)
	}
	changed := map[string]string{}
	for _, line := range strings.Split(string(res.Data), "\n") {
		name, value, ok := strings.Cut(line, "\t")
		if ok {
			changed[name] = unescapeTSV(value)
		}
	}
	return changed, nil
}

// bound is a statement's settings and parameters, set on a handle.
type bound struct {
	conn    Conn
	restore string // the SET statement that puts the handle's values back
}

// undo puts the handle's own values back.
func (b bound) undo() error {
	if b.restore == "" {
		return nil
	}
	if _, err := b.conn.Query(b.restore, "TabSeparated"); err != nil {
		return fmt.Errorf("restore the session's settings: %w", err)
	}
	return nil
}

// bind checks a statement and sets its settings and parameters on conn.
// state is the handle's session state, nil for a handle that lives for this
// statement only. ins, for an INSERT whose rows the server stages, takes
// the settings in its SETTINGS clause. The caller runs the statement and
// then undo.
func (s *Server) bind(conn Conn, state *handleState, st statementText, settings [][2]string, params map[string]string, ins *dataInsert) (bound, error) {
	readonly := state != nil && isReadonly(state.readonly)
	for _, kv := range settings {
		if kv[0] == "readonly" {
			readonly = isReadonly(kv[1])
		}
	}
	if err := checkStatement(st, readonly, s.external); err != nil {
		return bound{}, err
	}
	var set, restore []string
	var restoreReadonly bool
	for _, n := range st.parameters() {
		v, sent := params[n]
		var own bool
		if state != nil {
			_, own = state.params[n]
		}
		switch {
		case sent:
			set = append(set, "param_"+n+" = "+quoteString(v))
			if own {
				restore = append(restore, "param_"+n+" = "+state.params[n])
			}
		case !own:
			return bound{}, &Exception{Code: codeUnknownQueryParameter, Message: fmt.Sprintf("Substitution `%s` is not set. (UNKNOWN_QUERY_PARAMETER)", n)}
		}
	}
	if ins != nil && len(settings) > 0 {
		clause := make([]string, 0, len(settings)+1)
		for _, kv := range settings {
			clause = append(clause, kv[0]+" = "+quoteString(kv[1]))
		}
		if ins.settings != "" {
			clause = append(clause, ins.settings) // the statement's own win
		}
		ins.settings = strings.Join(clause, ", ")
		settings = nil
	}
	if state != nil && len(settings) > 0 && state.changed == nil {
		changed, err := readChanged(conn)
		if err != nil {
			return bound{}, err
		}
		state.changed = changed
	}
	seen := map[string]bool{}
	for _, kv := range settings {
		set = append(set, kv[0]+" = "+quoteString(kv[1]))
		if state == nil || seen[kv[0]] {
			continue
		}
		seen[kv[0]] = true
		back := "DEFAULT"
		if v, ok := state.changed[kv[0]]; ok {
			back = quoteString(v)
		}
		if kv[0] == "readonly" {
			restoreReadonly = true
			continue
		}
		restore = append(restore, kv[0]+" = "+back)
	}
	if restoreReadonly {
		// First, so that the rest may change; the engine lets a handle
		// leave readonly this way, which no client statement may do.
		back := "readonly = DEFAULT"
		if v, ok := state.changed["readonly"]; ok {
			back += ", readonly = " + quoteString(v)
		}
		restore = append([]string{back}, restore...)
	}
	b := bound{conn: conn}
	if len(restore) > 0 {
		b.restore = "SET " + strings.Join(restore, ", ")
	}
	if len(set) > 0 {
		if _, err := conn.Query("SET "+strings.Join(set, ", "), "TabSeparated"); err != nil {
			// Part of it may have taken.
			if uerr := b.undo(); uerr != nil {
				return bound{}, fmt.Errorf("%w (and %w)", err, uerr)
			}
			return bound{}, err
		}
	}
	return b, nil
}
