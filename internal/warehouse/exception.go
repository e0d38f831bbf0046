package warehouse

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// ClickHouse error codes the server raises itself.
const (
	codeBadArguments          = 36
	codeUnknownQueryParameter = 456
	codeSessionNotFound       = 372
	codeSessionIsLocked       = 373
	codeNotImplemented        = 48
	codeStdException          = 1001
)

// Exception is a ClickHouse error: its code and the text after "DB::Exception: ".
type Exception struct {
	Code    int
	Message string
}

func (e *Exception) Error() string {
	return fmt.Sprintf("Code: %d. DB::Exception: %s", e.Code, e.Message)
}

var codeRe = regexp.MustCompile(`Code:\s*(\d+)\.\s*(?:DB::Exception:\s*)?`)

// asException turns an engine error into an Exception, keeping the engine's
// text from "Code:" on.
func asException(err error) *Exception {
	if e, ok := err.(*Exception); ok {
		return e
	}
	msg := err.Error()
	m := codeRe.FindStringSubmatchIndex(msg)
	if m == nil {
		return &Exception{Code: codeStdException, Message: msg}
	}
	code, _ := strconv.Atoi(msg[m[2]:m[3]])
	msg = msg[m[1]:]
	// The engine nests rethrown errors ("Code: 73. DB::Exception: Code: 73. ...")
	// and appends its version to each level; keep the innermost text once.
	for {
		inner := codeRe.FindStringIndex(msg)
		if inner == nil || inner[0] != 0 {
			break
		}
		msg = msg[inner[1]:]
	}
	if i := strings.Index(msg, " (version "); i >= 0 {
		msg = msg[:i]
	}
	return &Exception{Code: code, Message: strings.TrimSpace(msg)}
}

// httpStatus maps an error code to the status ClickHouse's HTTP handler uses.
func httpStatus(code int) int {
	switch code {
	case 6, 25, 26, 27, 38, 41, 53, 62, 72, 117, 321, codeUnknownQueryParameter:
		// CANNOT_PARSE_*, TYPE_MISMATCH, SYNTAX_ERROR, INCORRECT_DATA, VALUE_IS_OUT_OF_RANGE...
		return http.StatusBadRequest
	case 46, 47, 50, 56, 60, 63, 73, 81, 115, 336, 376, codeSessionNotFound:
		// UNKNOWN_FUNCTION, _IDENTIFIER, _TYPE, _STORAGE, _TABLE, _AGGREGATE_FUNCTION,
		// _FORMAT, _DATABASE, _SETTING, _DATABASE_ENGINE, _TYPE_OF_QUERY.
		return http.StatusNotFound
	case codeSessionIsLocked:
		return http.StatusConflict
	case codeNotImplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}
