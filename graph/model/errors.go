package model

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code classifies an Error. Each transport maps codes to its wire form in
// exactly one table (GraphQL: extensions.code; REST: the HTTP status).
type Code string

// The code set. Anything that is not an *Error is INTERNAL.
const (
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeBadUserInput    Code = "BAD_USER_INPUT"
	CodeConflict        Code = "CONFLICT"
	CodeRateLimited     Code = "RATE_LIMITED"
	CodeUnavailable     Code = "UNAVAILABLE"
	CodeInternal        Code = "INTERNAL"
)

// FieldError names one invalid input field. Field uses the name the client
// sent (the transport's name for it).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the domain error: a code, a message safe to show to a client, the
// invalid fields for BAD_USER_INPUT, and an optional cause that is logged but
// never shown.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error
	// RetryAfter, for RATE_LIMITED, is when to try again (zero: unknown).
	RetryAfter time.Duration
}

// RetryAfter returns how long err asks its client to wait (zero if it
// does not say).
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns a BAD_USER_INPUT error naming one field.
func InvalidField(field, message string) *Error {
	return &Error{Code: CodeBadUserInput, Message: "invalid input: " + field + ": " + message,
		Fields: []FieldError{{Field: field, Message: message}}}
}

// ErrNotFound is the NOT_FOUND answer for what kind; the same text whether the
// thing does not exist or belongs to someone else.
func ErrNotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// ErrorCode returns the code of err: the code of the first *Error in its
// chain, UNAVAILABLE for a cancelled or timed-out context, INTERNAL otherwise.
func ErrorCode(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return CodeUnavailable
	default:
		return CodeInternal
	}
}

// ErrorMessage returns the client-safe message of err; internal errors get a
// fixed text so that nothing internal leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return e.Message
	}
	switch ErrorCode(err) {
	case CodeUnavailable:
		return "service temporarily unavailable"
	default:
		return "internal error"
	}
}

// ErrorFields returns the invalid fields of a BAD_USER_INPUT error, or nil.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Validator collects field errors so that one answer names every bad field.
type Validator struct {
	fields []FieldError
}

// Check records a field error when ok is false.
func (v *Validator) Check(ok bool, field, message string) {
	if !ok {
		v.fields = append(v.fields, FieldError{Field: field, Message: message})
	}
}

// Add records err (if non-nil) as an error of field.
func (v *Validator) Add(field string, err error) {
	if err != nil {
		v.fields = append(v.fields, FieldError{Field: field, Message: ErrorMessage(err)})
	}
}

// Err returns a BAD_USER_INPUT error naming every recorded field, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := "invalid input: " + v.fields[0].Field + ": " + v.fields[0].Message
	if len(v.fields) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(v.fields)-1)
	}
	return &Error{Code: CodeBadUserInput, Message: msg, Fields: v.fields}
}
