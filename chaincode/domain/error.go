package domain

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Code classifies an error for every layer: the chaincode puts it in its
// error message, the gateway maps it to an HTTP status, the indexer returns it.
type Code string

// The error codes. Each is listed once more, with its HTTP status, in codes;
// the pattern that finds a code in text and the HTTP status table are both
// derived from that list.
const (
	CodeInvalid      Code = "invalid"      // bad input: a field missing, out of range, malformed
	CodeUnauthorized Code = "unauthorized" // no identity or an unknown one
	CodeForbidden    Code = "forbidden"    // the identity's role or department may not do this
	CodeNotFound     Code = "not_found"    // the thing does not exist
	CodeConflict     Code = "conflict"     // illegal transition, duplicate, lost concurrent update
	CodeTooLarge     Code = "too_large"    // the input is bigger than allowed
	CodeUnavailable  Code = "unavailable"  // the ledger or the index cannot be reached now
	CodeInternal     Code = "internal"     // a bug or an unexpected failure
)

// Error is an error with a domain code. Its text is "[code] message", the
// form in which it crosses the chaincode boundary.
type Error struct {
	Code    Code
	Message string
	Details map[string]string
}

func (e *Error) Error() string { return "[" + string(e.Code) + "] " + e.Message }

// Errorf builds an *Error with the given code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetail returns e with one more detail set.
func (e *Error) WithDetail(key, value string) *Error {
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	e.Details[key] = value
	return e
}

// ErrorCode returns the code of err: the code of the first *Error in its
// chain, or, failing that, a code found in its text (errors that crossed the
// chaincode boundary arrive as text), or CodeInternal.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if e := ParseError(err.Error()); e != nil {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the message of err without its code prefix.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if e := ParseError(err.Error()); e != nil {
		return e.Message
	}
	return err.Error()
}

// codes is the one list of the codes with the HTTP status that answers each.
var codes = []struct {
	code   Code
	status int
}{
	{CodeInvalid, http.StatusBadRequest},
	{CodeUnauthorized, http.StatusUnauthorized},
	{CodeForbidden, http.StatusForbidden},
	{CodeNotFound, http.StatusNotFound},
	{CodeConflict, http.StatusConflict},
	{CodeTooLarge, http.StatusRequestEntityTooLarge},
	{CodeUnavailable, http.StatusServiceUnavailable},
	{CodeInternal, http.StatusInternalServerError},
}

// Codes returns every error code, in the order of the list.
func Codes() []Code {
	out := make([]Code, len(codes))
	for i, c := range codes {
		out[i] = c.code
	}
	return out
}

var codeInText = func() *regexp.Regexp {
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = regexp.QuoteMeta(string(c.code))
	}
	return regexp.MustCompile(`\[(` + strings.Join(names, "|") + `)\] ([^\n]*)`)
}()

// ParseError finds an "[code] message" in text, as the chaincode writes it,
// wherever the transport wrapped it. It returns nil when there is none.
func ParseError(text string) *Error {
	m := codeInText.FindStringSubmatch(text)
	if m == nil {
		return nil
	}
	return &Error{Code: Code(m[1]), Message: m[2], Details: gradeDenialDetails(Code(m[1]), m[2])}
}
