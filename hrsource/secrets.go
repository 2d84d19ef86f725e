package hrsource

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	gosync "sync"

	"github.com/jackc/pgx/v5"
)

// redacted stands for a configured secret in errors and logs.
const redacted = "[redacted]"

// configSecrets lists the values of cfg a server may quote back and that
// must never reach an error or a log: header values (and the token of a
// "Bearer xyz" value alone), the basic-auth password, the query values of
// hr.url (raw and decoded), the password of hr.database_url, and every
// secret of hr.auth (with the base64 form a basic-auth header carries). Each is
// listed in every form it may be printed in, longest first, so that a
// secret containing another is replaced whole.
func configSecrets(cfg Config) []string {
	var out []string
	for name, v := range cfg.Headers {
		// A short value of a header not named like a secret (X-Version: 2)
		// is a setting: hunting for it would garble every message.
		if huntable(name, v) {
			out = append(out, v)
		}
		if _, tok, ok := strings.Cut(v, " "); ok && len(tok) >= 8 {
			out = append(out, tok)
		}
	}
	out = append(out, cfg.Password)
	if u, err := url.Parse(cfg.URL); err == nil && u.RawQuery != "" {
		for p := range strings.SplitSeq(u.RawQuery, "&") {
			rawKey, rawVal, ok := strings.Cut(p, "=")
			if !ok {
				continue
			}
			key, err := url.QueryUnescape(rawKey)
			if err != nil {
				key = rawKey
			}
			val, err := url.QueryUnescape(rawVal)
			if err != nil {
				val = rawVal
			}
			// A short plain value (page=2, format=json) is a setting, and
			// blanking it would garble every message.
			if !huntable(key, val) {
				continue
			}
			out = append(out, val, rawVal)
		}
		if u.User != nil {
			if pw, ok := u.User.Password(); ok {
				out = append(out, pw)
			}
		}
	}
	if cfg.DatabaseURL != "" {
		if pc, err := pgx.ParseConfig(cfg.DatabaseURL); err == nil {
			out = append(out, pc.Password)
			if u, err := url.Parse(cfg.DatabaseURL); err == nil && u.User != nil {
				if _, raw, ok := strings.Cut(u.User.String(), ":"); ok {
					out = append(out, raw) // percent-encoded, as in the URL
				}
			}
		}
	}
	out = append(out, cfg.authSecrets()...)
	return sortSecrets(out)
}

// sortSecrets drops empty values and duplicates and puts the longest
// first, so that a secret containing another is replaced whole.
func sortSecrets(out []string) []string {
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

// huntable says whether the configured value of name is long enough to be
// searched for in free text: at least 3 characters when the name says it
// holds a secret, 8 otherwise (page=2 and format=json are settings).
func huntable(name, value string) bool {
	if secretParam(name) {
		return len(value) >= 3
	}
	return len(value) >= 8
}

// secretParam says whether a query parameter's name says it holds a
// secret (api_key, access_token, sig, password, ...): its value is hidden
// however short.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, part := range []string{"key", "token", "secret", "pass", "sig", "auth", "cred", "session"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// scrubber hides secrets in text: the configured ones, and those a source
// learns while it runs (OAuth 2.0 access tokens). A nil *scrubber hides
// nothing.
type scrubber struct {
	mu      gosync.RWMutex
	secrets []string
	r       *strings.Replacer
}

// newScrubber returns a scrubber hiding secrets (longest first, as
// configSecrets lists them).
func newScrubber(secrets []string) *scrubber {
	s := &scrubber{}
	s.set(secrets)
	return s
}

func (s *scrubber) set(secrets []string) {
	pairs := make([]string, 0, 2*len(secrets))
	for _, sec := range secrets {
		pairs = append(pairs, sec, redacted)
	}
	s.secrets, s.r = secrets, strings.NewReplacer(pairs...)
}

// Replace returns text with every secret replaced by [redacted].
func (s *scrubber) Replace(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.r.Replace(text)
}

// learn adds a secret met at run time.
func (s *scrubber) learn(secret string) {
	if s == nil || secret == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.secrets, secret) {
		return
	}
	s.set(sortSecrets(append(slices.Clone(s.secrets), secret)))
}

// scrub returns err with every configured secret removed from its text. A
// *ValidationError stays one (its problems scrubbed) so that callers can
// still list the problems; any other error is wrapped, keeping errors.Is
// and errors.As working.
func (r reader) scrub(err error) error {
	if err == nil || r.secrets == nil {
		return err
	}
	var ve *ValidationError
	if errors.As(err, &ve) && error(ve) == err {
		out := *ve
		out.Source = r.secrets.Replace(ve.Source)
		out.Problems = make([]Problem, len(ve.Problems))
		for i, p := range ve.Problems {
			out.Problems[i] = Problem{Where: r.secrets.Replace(p.Where), Msg: r.secrets.Replace(p.Msg)}
		}
		return &out
	}
	msg := err.Error()
	if clean := r.secrets.Replace(msg); clean != msg {
		return &scrubbedError{msg: clean, err: err}
	}
	return err
}

// scrubbedError is an error whose text had secrets removed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }

// Unwrap keeps errors.Is(err, context.DeadlineExceeded) working.
func (e *scrubbedError) Unwrap() error { return e.err }
