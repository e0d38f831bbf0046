package stream

import (
	"errors"

	"github.com/shopstream/shopstream/schemas"
)

// isPermanentDecodeError reports whether a value can never be decoded.
func isPermanentDecodeError(err error) bool {
	return errors.Is(err, schemas.ErrBadHeader) || errors.Is(err, schemas.ErrUnknownSchemaID) || errors.Is(err, schemas.ErrUndecodable)
}
