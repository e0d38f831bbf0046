// Package logging builds the zerolog logger every stage uses, with the fixed
// field names of DESIGN.md.
package logging

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Field names shared by every stage's logs.
const (
	Stage     = "stage"
	Source    = "source"
	Topic     = "topic"
	Partition = "partition"
	Offset    = "offset"
	BatchID   = "batch_id"
	Table     = "table"
)

// New returns a logger writing to stderr at level ("debug", "info", ...),
// as JSON or, with format "console", for humans.
func New(level, format string) zerolog.Logger {
	var w io.Writer = os.Stderr
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}
