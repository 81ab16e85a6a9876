package labhooks

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes. Each maps to one HTTP status in the http layer's table.
const (
	EConflict       = "conflict"         // the request clashes with the current state
	EInternal       = "internal"         // a fault on our side
	EInvalid        = "invalid"          // the input is malformed or breaks a rule
	ENotFound       = "not_found"        // no such object, or not visible to the caller
	EUnauthorized   = "unauthorized"     // no or wrong API key
	EForbidden      = "forbidden"        // the key may not do this
	EUnavailable    = "unavailable"      // a dependency (the database) is down; try again
	EPersonalData   = "personal_data"    // event data looks like it carries personal data
	ERoleNotAllowed = "role_not_allowed" // the target's role may not receive this event
	EWeakSecret     = "weak_secret"      // a data link secret too easy to guess
	EPreview        = "event_preview"    // the event type is announced but not yet available
	ERateLimited    = "rate_limited"     // too many such requests lately; Error.RetryAfter says how long to wait
)

// Error is labhooks' application error: a machine-readable code and a message
// written for the person who sent the request.
type Error struct {
	Code string `json:"code"`
	// Field names the input at fault by its JSON name in the API ("url",
	// "eventNames"), so that a form can show the message beside it; empty
	// when the error concerns no one field. Message then starts with it.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// RetryAfter is how long to wait before trying again (ERateLimited).
	RetryAfter time.Duration `json:"-"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("labhooks: %s: %s", e.Code, e.Message)
}

// Detail is Message without the "field: " it starts with when Field is set:
// what a form shows beside the field.
func (e *Error) Detail() string {
	if rest, ok := strings.CutPrefix(e.Message, e.Field+": "); ok && e.Field != "" {
		return rest
	}
	return e.Message
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error about the input field: its message is
// "field: " and the formatted detail.
func FieldErrorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// RateLimited returns an ERateLimited error asking to wait at least wait:
// its message is the formatted sentence and one that says how long.
func RateLimited(wait time.Duration, format string, args ...any) *Error {
	e := Errorf(ERateLimited, format, args...)
	e.RetryAfter = wait
	n := RetryAfterSeconds(wait)
	unit := "seconds"
	if n == 1 {
		unit = "second"
	}
	e.Message += fmt.Sprintf(" Try again in %d %s.", n, unit)
	return e
}

// RetryAfterSeconds is wait in whole seconds, rounded up, at least 1: what
// a Retry-After header says.
func RetryAfterSeconds(wait time.Duration) int64 {
	return max(1, int64((wait+time.Second-1)/time.Second))
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for any other error, so internal details never reach a user.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
