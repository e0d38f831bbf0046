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
	codeCannotParseNumber        = 72
	codeBadArguments             = 36
	codeCannotDecompress         = 271
	codeChecksumDoesntMatch      = 40
	codeNotImplemented           = 48
	codeQueryWasCancelled        = 394
	codeQueryWithSameIDRunning   = 216
	codeReadonly                 = 164
	codeSessionIsLocked          = 373
	codeSessionNotFound          = 372
	codeInvalidSessionTimeout    = 374
	codeCannotParseBool          = 467
	codeSyntaxError              = 62
	codeUnknownCompressionMethod = 89
	codeUnknownQueryParameter    = 456
	codeUnknownSetting           = 115
	codeStdException             = 1001
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

// httpStatuses is ClickHouse's exceptionCodeToHTTPStatus (26.5); any other
// code is 500.
var httpStatuses = func() map[int]int {
	m := map[int]int{
		194: http.StatusUnauthorized, // REQUIRED_PASSWORD
		// UNKNOWN_USER, WRONG_PASSWORD, AUTHENTICATION_FAILED, SET_NON_GRANTED_ROLE, ACCESS_DENIED
		192: http.StatusForbidden, 193: http.StatusForbidden, 516: http.StatusForbidden, 512: http.StatusForbidden, 497: http.StatusForbidden,
		229: http.StatusRequestEntityTooLarge,                                                                     // QUERY_IS_TOO_LARGE
		48:  http.StatusNotImplemented,                                                                            // NOT_IMPLEMENTED
		209: http.StatusServiceUnavailable, 76: http.StatusServiceUnavailable, 439: http.StatusServiceUnavailable, // SOCKET_TIMEOUT, CANNOT_OPEN_FILE, CANNOT_SCHEDULE_TASK
		381: http.StatusLengthRequired, // HTTP_LENGTH_REQUIRED
		159: http.StatusRequestTimeout, // TIMEOUT_EXCEEDED
	}
	// BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP, CANNOT_PARSE_*, DUPLICATE_COLUMN,
	// ILLEGAL_COLUMN, *_AST*, THERE_IS_NO_COLUMN, SYNTAX_ERROR, INCORRECT_DATA,
	// TYPE_MISMATCH, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE.
	for _, c := range []int{36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8, 167, 168, 223, 62, 117, 53, 321} {
		m[c] = http.StatusBadRequest
	}
	// UNKNOWN_TABLE, _FUNCTION, _IDENTIFIER, _TYPE, _STORAGE, _DATABASE,
	// _SETTING, _DIRECTION_OF_SORTING, _AGGREGATE_FUNCTION, _FORMAT,
	// _DATABASE_ENGINE, _TYPE_OF_QUERY, _ROLE.
	for _, c := range []int{60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511} {
		m[c] = http.StatusNotFound
	}
	return m
}()

// httpStatus maps an error code to the status ClickHouse's HTTP handler uses.
func httpStatus(code int) int {
	if s, ok := httpStatuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}
