package ui

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// paramKind checks one request parameter before it travels as a
// server-side parameter: the page refuses what the statement's placeholder
// type would refuse, with a message a person can act on.
type paramKind struct {
	// check returns the value to send, or why it is refused.
	check func(string) (string, error)
	// optional parameters default to def.
	optional bool
	def      string
}

const dateLayout = "2006-01-02"

var paramKinds = map[string]paramKind{
	"from": {check: checkDate},
	"to":   {check: checkDate},
	"q":    {check: checkText(200, true), optional: true},
	"key":  {check: checkText(512, false)},
	"side": {check: checkOneOf("amazon", "tiktok")},
}

func checkDate(v string) (string, error) {
	d, err := time.Parse(dateLayout, v)
	if err != nil {
		return "", fmt.Errorf("%q is not a date (YYYY-MM-DD)", v)
	}
	return d.Format(dateLayout), nil
}

func checkText(maxRunes int, empty bool) func(string) (string, error) {
	return func(v string) (string, error) {
		switch {
		case !utf8.ValidString(v):
			return "", errors.New("is not UTF-8 text")
		case utf8.RuneCountInString(v) > maxRunes:
			return "", fmt.Errorf("is longer than %d characters", maxRunes)
		case !empty && strings.TrimSpace(v) == "":
			return "", errors.New("is empty")
		case strings.ContainsRune(v, 0):
			return "", errors.New("contains a NUL character")
		}
		return v, nil
	}
}

func checkOneOf(values ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		if !slices.Contains(values, v) {
			return "", fmt.Errorf("%q is not one of %s", v, strings.Join(values, ", "))
		}
		return v, nil
	}
}

// maxPeriodDays bounds a period: ten years of days is more than any
// chart shows.
const maxPeriodDays = 3700

// datasetParams checks a request's parameters against what d takes and
// returns them as server-side parameter values. ignore names request
// parameters that are not the dataset's (the download format).
func datasetParams(d *dataset, q url.Values, ignore ...string) (map[string]string, error) {
	var problems []error
	out := map[string]string{}
	for name := range q {
		if !slices.Contains(d.params, name) && !slices.Contains(ignore, name) {
			problems = append(problems, fmt.Errorf("%s: %s takes no such parameter (it takes: %s)", name, d.name, strings.Join(d.params, ", ")))
		}
	}
	for _, name := range d.params {
		kind := paramKinds[name]
		vals, given := q[name]
		if !given {
			if !kind.optional {
				problems = append(problems, fmt.Errorf("%s: required", name))
				continue
			}
			out[name] = kind.def
			continue
		}
		if len(vals) != 1 {
			problems = append(problems, fmt.Errorf("%s: given %d times", name, len(vals)))
			continue
		}
		v, err := kind.check(vals[0])
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", name, err))
			continue
		}
		out[name] = v
	}
	if from, to := out["from"], out["to"]; from != "" && to != "" {
		f, _ := time.Parse(dateLayout, from)
		t, _ := time.Parse(dateLayout, to)
		switch {
		case t.Before(f):
			problems = append(problems, fmt.Errorf("to: %s is before from %s", to, from))
		case t.Sub(f) > maxPeriodDays*24*time.Hour:
			problems = append(problems, fmt.Errorf("to: the period is longer than %d days", maxPeriodDays))
		}
	}
	return out, errors.Join(problems...)
}
