// Package secret owns how skillsync keeps secrets out of what it prints,
// logs and stores: the Secret type that never prints its value, the one
// replacement token (Redacted), the rule saying which values are long
// enough to be hunted for in free text (Huntable), the Set that replaces
// known secrets in text, the Error that carries a redacted message while
// unwrapping to the original, the slog Handler that guards every log line,
// and the helpers that find the secrets of URLs and connection strings.
//
// Every package that redacts uses this one; none keeps its own token,
// length rule or wrapped error. It imports only the standard library, so
// that any package of the module (adapters, sync, cmd) may import it.
//
// In the house (README, Layout; e2e/layout_test.go), it imports nothing of skillsync (the standard library only).
package secret

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
)

// Redacted is the one text that stands for a secret, in logs, errors,
// stored runs and printed configuration.
const Redacted = "[redacted]"

// Secret is a value that must not be printed: String, GoString, its JSON
// and its slog value are Redacted (an empty Secret prints as empty: it
// hides nothing). Reveal returns the value for the one place that uses it.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns Redacted, or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON writes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue makes slog print the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Huntable says whether a secret value is long enough to be hunted for in
// free text (logs, errors, what a run stores). A short value is an
// ordinary word or number: hiding every "2" of an `X-Version: 2` header
// would garble counts, plan reasons and errors ("delete_after_runs
// [redacted]"). A value under a name that says it is a secret (named) is
// hunted from 3 characters on, any other value from 8. Where a value is
// printed by itself (config check), it is redacted whatever its length:
// this rule only limits what is searched for.
func Huntable(value string, named bool) bool {
	return len(value) >= 3 && (named || len(value) >= 8)
}

// Key says whether a configuration key or a log attribute key (the last
// element of its path) holds a secret: credentials, passwords, tokens.
func Key(name string) bool {
	name = strings.ToLower(name)
	switch name {
	case "secret", "password", "token", "authorization", "cookie", "set-cookie", "csrf", "bearer":
		return true
	}
	return strings.HasSuffix(name, "_secret") || strings.HasSuffix(name, "_password") ||
		strings.HasSuffix(name, "_token") || strings.HasSuffix(name, "-token")
}

// Param says whether the name of a query parameter or a header says it
// holds a secret (api_key, apikey, access_token, sig, password, ...): a
// Key, or a name containing one of the usual parts of such names.
func Param(name string) bool {
	n := strings.ToLower(name)
	if Key(n) {
		return true
	}
	for _, part := range []string{"key", "token", "secret", "pass", "sig", "auth", "cred", "session"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// Sort drops empty values and duplicates and puts the longest first, so
// that a secret containing another is replaced whole. It sorts in place
// and returns the shortened slice.
func Sort(secrets []string) []string {
	secrets = slices.DeleteFunc(secrets, func(s string) bool { return s == "" })
	slices.SortFunc(secrets, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(secrets)
}
