package liveperson

import (
	"errors"
	"fmt"
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
	// ErrOutcomeUnknown is a create that may have been applied, in whole
	// or in part, although the client cannot say what it created: the
	// response was lost or was a 5xx, a batch of several items was
	// refused (batches are not documented as atomic), or LivePerson
	// answered 2xx but the client could not identify every created
	// skill. Re-read (include_deleted) and match by name before creating
	// again; never re-send the create blindly.
	ErrOutcomeUnknown = errors.New("outcome unknown: the request may have been applied")
	// ErrStateChanged comes with a create that succeeded: CreateSkills
	// returns every created skill with its id, but cannot vouch that the
	// account's revision after the create follows the caller's last read
	// (someone else may have changed the account in between; LivePerson
	// documents no If-Match check on create). The client keeps sending
	// the revision of that read as If-Match, so a PUT or DELETE built
	// from it gets ErrConflict rather than overwriting; re-read and
	// re-plan before writing again. Errors matching ErrStateChanged also
	// match ErrOutcomeUnknown, so a caller that knows only the latter
	// re-reads, and its match by name finds the same skills.
	ErrStateChanged = errors.New("account changed: re-read before writing again")
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
// naming skill-dependencies, and ErrOutcomeUnknown for a POST answer that
// may follow a create applied in whole or part: a 5xx (a gateway may have
// passed the create on before failing), or a 4xx other than 401, 403, 429
// and conflicts to a POST of several items (batches are not documented as
// atomic). The caller must then re-read rather than assume nothing was
// created.
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

// stateChangedError is the error CreateSkills returns with the skills it
// created when the account's revision may have moved past the caller's
// read by more than the create (see ErrStateChanged).
type stateChangedError struct{ msg string }

func (e *stateChangedError) Error() string { return e.msg }

// Is matches ErrStateChanged, and ErrOutcomeUnknown for callers that know
// only that: re-reading and matching by name is right for them too.
func (e *stateChangedError) Is(target error) bool {
	return target == ErrStateChanged || target == ErrOutcomeUnknown
}
