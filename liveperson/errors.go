package liveperson

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors, matched with errors.Is against the errors the client
// returns.
var (
	// ErrConflict is a revision conflict: the If-Match revision was stale
	// (409 or 412, see Config.ConflictStatuses). Re-read and re-plan.
	ErrConflict = errors.New("revision conflict")
	// ErrOutcomeUnknown is a create whose response was lost: it may or may
	// not have been applied. Re-read and match by name before creating
	// again.
	ErrOutcomeUnknown = errors.New("outcome unknown: the request may have been applied")
	// ErrSkillDependencies is LivePerson refusing to delete a skill that
	// something still references.
	ErrSkillDependencies = errors.New("skill has dependencies")
	// ErrNotFound is a 404.
	ErrNotFound = errors.New("not found")
)

// maxErrorBody bounds the LivePerson error body kept in an APIError.
const maxErrorBody = 2048

// APIError is an error response from LivePerson.
type APIError struct {
	// Method and Path are the request's (the path has no query string).
	Method string
	Path   string
	// Status is the HTTP status code.
	Status int
	// Body is LivePerson's error body, truncated, with credentials removed.
	Body string
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration

	conflict       bool
	outcomeUnknown bool
	// minWait is the least wait before retrying a 429 (5 s for login).
	minWait time.Duration
}

// Error describes the failed request and LivePerson's answer.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if body := strings.TrimSpace(e.Body); body != "" {
		b.WriteString(": ")
		b.WriteString(body)
	}
	return b.String()
}

// Is matches the package's sentinel errors: ErrConflict for a configured
// conflict status, ErrNotFound for 404, ErrSkillDependencies for a body
// naming skill-dependencies, and ErrOutcomeUnknown for a 5xx answer to a
// POST (a gateway may have passed the create on before failing, so the
// caller must re-read rather than assume nothing was created).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrConflict:
		return e.conflict
	case ErrNotFound:
		return e.Status == 404
	case ErrSkillDependencies:
		return strings.Contains(strings.ToLower(e.Body), "skill-dependencies")
	case ErrOutcomeUnknown:
		return e.outcomeUnknown
	}
	return false
}

// redactor removes configured secrets from text that leaves the client
// (error bodies, paths, transport error messages).
type redactor []string

func newRedactor(secrets []string) redactor {
	// Longest first, so a secret containing another is removed whole.
	r := slices.Clone(secrets)
	slices.SortFunc(r, func(a, b string) int { return len(b) - len(a) })
	return r
}

func (r redactor) redact(s string) string {
	for _, secret := range r {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

// truncate shortens s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}

// redactedError wraps a transport error whose text may carry secrets
// (url.Error prints the request URL). Unwrap keeps errors.Is/As working
// for net errors and context errors.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
