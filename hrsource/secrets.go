package hrsource

import (
	"errors"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/internal/secret"
)

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
		if secret.Huntable(v, secret.Param(name)) {
			out = append(out, v)
		}
		if _, tok, ok := strings.Cut(v, " "); ok && secret.Huntable(tok, false) {
			out = append(out, tok)
		}
	}
	out = append(out, cfg.Password, cfg.WebhookSecret)
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
			if !secret.Huntable(val, secret.Param(key)) {
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
	return secret.Sort(out)
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
	return r.secrets.Error(err)
}
