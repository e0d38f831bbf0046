package tiktokshop

import (
	"errors"

	"github.com/shopstream/shopstream/ingest/internal/tiktokapi"
)

// Error codes of the {code, message, request_id, data} envelope (reference
// section 2.5).
const (
	CodeOK              = 0
	CodeThrottled       = 36009002 // "Too many requests"
	CodeInternal        = 36009003 // internal error, retry
	CodeInvalidParam    = 36009004 // invalid param / timestamp / app_key
	CodeInvalidPath     = 36009009
	CodeBadSignature    = 106001
	CodeTokenExpired    = 105002
	CodeNoPermission    = 105005
	CodeAnalyticsPeriod = 28001022
)

// codes is the table the transport acts on. EcomPHP treats the whole 105
// prefix as token errors (third-party); the 360 prefix it also lists holds
// throttling and parameter errors, which a new token cannot fix, so only 105
// is taken as "the access token was rejected".
var codes = tiktokapi.Codes{
	Throttled: []int{CodeThrottled},
	Internal:  []int{CodeInternal},
	Auth:      func(code int) bool { return code/1000 == 105 },
}

// ErrReauthorize means the refresh token (or auth code) no longer works: the
// seller must authorize the app again. Retrying cannot help.
var ErrReauthorize = errors.New("tiktokshop: authorization lost, the seller must re-authorize the app")

// APIError is a response the API answered with a non-zero code (inside HTTP
// 200 or not) or an HTTP error status without a usable envelope; Throttled,
// AuthError and Temporary classify it by the codes above. It never carries
// request parameters, so no credential can leak through it.
type APIError = tiktokapi.APIError
