package secret

// Error is an error whose text had its secrets removed. Unwrap returns the
// original, so errors.Is and errors.As (context.DeadlineExceeded, a net
// error, an API error) still see through it.
type Error struct {
	msg string
	err error
}

// Wrap returns an *Error printing msg (already redacted by the caller)
// and unwrapping to err.
func Wrap(err error, msg string) *Error { return &Error{msg: msg, err: err} }

func (e *Error) Error() string { return e.msg }

// Unwrap returns the original error.
func (e *Error) Unwrap() error { return e.err }
