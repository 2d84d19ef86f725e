package secret

import (
	"net/url"
	"regexp"
	"strings"
)

// dsnPassword finds password=... in key=value connection strings.
var dsnPassword = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s]+)`)

// OfURL returns the password of a URL or key=value connection string, in
// every form it may be printed in (raw and decoded).
func OfURL(s string) []string {
	var out []string
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw)
			if _, rawPW, ok := strings.Cut(u.User.String(), ":"); ok && rawPW != pw {
				out = append(out, rawPW)
			}
		}
	}
	for _, m := range dsnPassword.FindAllStringSubmatch(s, -1) {
		v := m[1]
		out = append(out, v)
		if unq := strings.Trim(v, "'"); unq != v && unq != "" {
			out = append(out, unq)
		}
	}
	return out
}

// HideURL hides the password of a URL or key=value connection string, and
// the query values whose parameter name says they are secrets
// (?api_key=...). The command's logger applies it to every string a log
// line carries.
func HideURL(s string) string {
	s, _ = HideQuery(s, Param)
	return HidePassword(s)
}

// HidePassword hides the password of a URL or key=value connection
// string.
func HidePassword(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
			return strings.Replace(u.String(), ":redacted@", ":"+Redacted+"@", 1)
		}
	}
	return dsnPassword.ReplaceAllString(s, "password="+Redacted)
}

// plainParams are query parameters of connection URLs whose values are
// settings, not secrets: config check still hides them (it hides every
// query value), but the logs do not hunt for them.
var plainParams = map[string]bool{
	"sslmode": true, "search_path": true, "application_name": true, "target_session_attrs": true,
	"connect_timeout": true, "timezone": true, "options": true,
}

// QueryValue is one query parameter value hidden by HideQuery.
type QueryValue struct {
	Key   string // decoded name
	Raw   string // value as written in the URL
	Value string // decoded value
}

// Secrets returns the forms of v the logs must hide: every value of a
// parameter named like a secret, and other values long enough not to be
// ordinary words (a short `page=2` or `sslmode=require` would otherwise
// be blanked out of every log line).
func (v QueryValue) Secrets() []string {
	if plainParams[strings.ToLower(v.Key)] {
		return nil
	}
	if !Huntable(v.Value, Param(v.Key)) {
		return nil
	}
	return []string{v.Value, v.Raw}
}

// HideQuery hides the values of the query parameters of an absolute URL
// (scheme://host/...?k=v) for which hide is true, keeping the order and
// the raw form of everything else. It returns the URL and each value
// hidden (s is unchanged when it is not such a URL).
func HideQuery(s string, hide func(name string) bool) (string, []QueryValue) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || !strings.Contains(u.RawQuery, "=") {
		return s, nil
	}
	var hidden []QueryValue
	parts := strings.Split(u.RawQuery, "&")
	for i, p := range parts {
		rawKey, rawVal, ok := strings.Cut(p, "=")
		if !ok || rawVal == "" {
			continue
		}
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if !hide(key) {
			continue
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			val = rawVal
		}
		hidden = append(hidden, QueryValue{Key: key, Raw: rawVal, Value: val})
		parts[i] = rawKey + "=" + Redacted
	}
	if len(hidden) == 0 {
		return s, nil
	}
	u.RawQuery = strings.Join(parts, "&")
	return u.String(), hidden
}

// Text replaces each of secrets in s, for a one-off text whose secrets are
// known on the spot (a connection error quoting its own URL).
func Text(s string, secrets []string) string {
	return NewSet(secrets...).Replace(s)
}
