package pathhook

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in the API.
const (
	ECONFLICT     = "conflict"     // the change conflicts with the current state, or happened already
	EINTERNAL     = "internal"     // a failure that is not the caller's fault
	EINVALID      = "invalid"      // the input is well-formed but not acceptable
	ENOTFOUND     = "not_found"    // no such resource, or it belongs to another org
	EUNAUTHORIZED = "unauthorized" // no valid API key
	ERATELIMITED  = "rate_limited" // too many requests for this key
	ETOOLARGE     = "too_large"    // the request body is too large
	EMALFORMED    = "malformed"    // the request body is not valid JSON
	EUNAVAILABLE  = "unavailable"  // the server cannot serve right now
)

// Error is a domain error: a code, a message meant for the caller, and for
// EINVALID the fields at fault.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

// FieldError names one invalid input field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("pathhook: %s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Message)
	}
	return fmt.Sprintf("pathhook: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error for one field.
func Invalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: EINVALID, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// NotFound returns an ENOTFOUND error for the named kind of resource.
func NotFound(kind, id string) *Error {
	return Errorf(ENOTFOUND, "%s %q not found", kind, id)
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the *Error in err's chain, or a
// generic message that reveals nothing for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// validation gathers field errors so that one answer names every bad field.
type validation []FieldError

func (v *validation) add(field, format string, args ...any) {
	*v = append(*v, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	msg := v[0].Field + ": " + v[0].Message
	if len(v) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(v)-1)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: v}
}
