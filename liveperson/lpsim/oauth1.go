package lpsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// verifyOAuth1 checks an "Authorization: OAuth ..." header per RFC 5849:
// the key and token, HMAC-SHA1 over the signature base string (query and
// form-body parameters signed, JSON bodies not), the timestamp window and
// nonce replay.
func (s *Sim) verifyOAuth1(r *http.Request) error {
	hp, err := parseOAuthHeader(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	get := func(k string) string {
		if v := hp[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	if m := get("oauth_signature_method"); m != "HMAC-SHA1" {
		return fmt.Errorf("unsupported oauth_signature_method %q", m)
	}
	if v, ok := hp["oauth_version"]; ok && (len(v) != 1 || v[0] != "1.0") {
		return errors.New("oauth_version must be 1.0")
	}
	if s.opts.AppKey == "" || !equal(get("oauth_consumer_key"), s.opts.AppKey) {
		return errors.New("unknown oauth_consumer_key")
	}
	if !equal(get("oauth_token"), s.opts.AccessToken) {
		return errors.New("unknown oauth_token")
	}
	ts, err := strconv.ParseInt(get("oauth_timestamp"), 10, 64)
	if err != nil {
		return errors.New("oauth_timestamp must be an integer")
	}
	now := s.now()
	if d := now.Sub(time.Unix(ts, 0)); d > oauth1Window || d < -oauth1Window {
		return fmt.Errorf("oauth_timestamp %d is outside the %s window", ts, oauth1Window)
	}
	nonce := get("oauth_nonce")
	if nonce == "" {
		return errors.New("oauth_nonce is required")
	}
	sig := get("oauth_signature")
	if sig == "" {
		return errors.New("oauth_signature is required")
	}

	params, err := requestParams(r)
	if err != nil {
		return err
	}
	for k, vs := range hp {
		if k == "realm" || k == "oauth_signature" {
			continue
		}
		for _, v := range vs {
			params = append(params, [2]string{k, v})
		}
	}
	base := signatureBaseString(r.Method, baseStringURI(r), params)
	want := signHMACSHA1(base, s.opts.Secret, s.opts.AccessTokenSecret)
	if !equal(sig, want) {
		return errors.New("invalid signature")
	}

	key := get("oauth_consumer_key") + "&" + get("oauth_token") + "&" + strconv.FormatInt(ts, 10) + "&" + nonce
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.nonces[key]; seen {
		return errors.New("oauth_nonce was already used")
	}
	if len(s.nonces) > 10000 {
		for k, t := range s.nonces {
			if now.Sub(t) > oauth1Window {
				delete(s.nonces, k)
			}
		}
	}
	s.nonces[key] = time.Unix(ts, 0)
	return nil
}

// parseOAuthHeader parses the parameters of an OAuth Authorization header
// (RFC 5849 §3.5.1): comma-separated name="percent-encoded value" pairs.
func parseOAuthHeader(h string) (map[string][]string, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "OAuth") {
		return nil, errors.New("not an OAuth header")
	}
	out := map[string][]string{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("malformed parameter %q", part)
		}
		name, err1 := url.PathUnescape(strings.TrimSpace(k))
		val, err2 := url.PathUnescape(v[1 : len(v)-1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad percent-encoding in %q", part)
		}
		out[name] = append(out[name], val)
	}
	return out, nil
}

// requestParams returns the decoded query parameters and, for a
// form-encoded body, the body parameters (RFC 5849 §3.4.1.3.1). The body
// is put back for the handler.
func requestParams(r *http.Request) ([][2]string, error) {
	var out [][2]string
	add := func(raw string) error {
		for pair := range strings.SplitSeq(raw, "&") {
			if pair == "" {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			name, err1 := url.QueryUnescape(k)
			val, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("bad percent-encoding in %q", pair)
			}
			out = append(out, [2]string{name, val})
		}
		return nil
	}
	if err := add(r.URL.RawQuery); err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" && r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		if err := add(string(b)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// baseStringURI is RFC 5849 §3.4.1.2: lower-case scheme and host, the port
// only when it is not the scheme's default, and the path as sent.
func baseStringURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// signatureBaseString is RFC 5849 §3.4.1.1: METHOD&enc(uri)&enc(params),
// where params are encoded, sorted by name then value, and joined (§3.4.1.3.2).
func signatureBaseString(method, uri string, params [][2]string) string {
	enc := make([][2]string, len(params))
	for i, p := range params {
		enc[i] = [2]string{percentEncode(p[0]), percentEncode(p[1])}
	}
	// Sort pairs by encoded name, then value; sorting the joined "name=value"
	// strings would misorder names that are prefixes of others.
	slices.SortFunc(enc, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	parts := make([]string, len(enc))
	for i, p := range enc {
		parts[i] = p[0] + "=" + p[1]
	}
	return strings.ToUpper(method) + "&" + percentEncode(uri) + "&" + percentEncode(strings.Join(parts, "&"))
}

// signHMACSHA1 is RFC 5849 §3.4.2: base64(HMAC-SHA1(enc(cs)&enc(ts), base)).
func signHMACSHA1(base, consumerSecret, tokenSecret string) string {
	mac := hmac.New(sha1.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// percentEncode is RFC 5849 §3.6: everything but ALPHA, DIGIT, "-", ".",
// "_" and "~" becomes %XX with upper-case hex.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
