package coffer

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the whole error vocabulary of coffer: every adapter
// maps them to its own wire format (the native API in one table, each provider
// face in its own). Any error that is not an *Error is internal.
const (
	EINVALID      = "invalid"             // bad input: name, value, JSON, pagination
	ENOTFOUND     = "not_found"           // object missing, deleted, or in another account
	ECONFLICT     = "conflict"            // name taken, store not empty, state forbids the change or read (an expired secret's value)
	EPRECONDITION = "precondition_failed" // compare-and-set lost: the expected version is not current
	ETOOLARGE     = "too_large"           // value or body over the limit
	EUNAUTHORIZED = "unauthorized"        // no credential, or unknown, revoked or expired
	EFORBIDDEN    = "forbidden"           // authenticated, but the key's scopes do not allow it
	ERATELIMIT    = "rate_limited"        // too many requests
	EUNAVAILABLE  = "unavailable"         // storage down or shutting down
	EINTERNAL     = "internal"            // a bug or an unexpected failure; details only in logs
)

// Error is a failure meant for the caller. Message is public: it must never
// hold a secret value. Internal causes are wrapped by callers with %w around
// plain errors, never inside an Error.
type Error struct {
	Code    string
	Message string
	// RetryAfter, with ERATELIMIT or EUNAVAILABLE, tells the caller when to
	// try again (sent as the Retry-After header).
	RetryAfter time.Duration
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("coffer error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted public message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the public message of the first *Error in err's chain,
// or "internal error" for any other error, so that internal details never
// reach a caller.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
