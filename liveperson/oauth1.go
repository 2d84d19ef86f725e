package liveperson

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// OAuth 1.0 request signing, RFC 5849 HMAC-SHA1, as LivePerson's API keys
// use it. No maintained Go library signs arbitrary requests this way with
// LivePerson's rules (query signed as sent, JSON body not signed, no
// oauth_body_hash), and the algorithm is small, so it lives here, tested
// against the RFC's published examples.

// oauth1Credentials is an OAuth 1.0 API key.
type oauth1Credentials struct {
	consumerKey, consumerSecret, token, tokenSecret string
}

// oauth1Signer signs each attempt with a fresh nonce and timestamp, so a
// replayed request is never refused as a nonce reuse.
type oauth1Signer struct {
	creds oauth1Credentials
	c     *Client
}

func (s *oauth1Signer) sign(_ context.Context, req *http.Request) error {
	nonce, err := newNonce()
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(s.c.now().Unix(), 10)
	req.Header.Set("Authorization", oauth1Header(req.Method, req.URL, nil, s.creds, nonce, ts))
	return nil
}

// reauth has nothing to renew: the next attempt is signed afresh.
func (s *oauth1Signer) reauth(context.Context, string) error { return nil }

func (s *oauth1Signer) close(context.Context) error { return nil }

func newNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// oauth1Header returns the Authorization header for a request. form holds
// application/x-www-form-urlencoded body parameters, which are signed
// (skillsync only sends JSON bodies, which are not).
func oauth1Header(method string, u *url.URL, form [][2]string, cr oauth1Credentials, nonce, timestamp string) string {
	oauth := [][2]string{
		{"oauth_consumer_key", cr.consumerKey},
		{"oauth_nonce", nonce},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", timestamp},
		{"oauth_token", cr.token},
		{"oauth_version", "1.0"},
	}
	sig := oauth1Signature(method, u, form, oauth, cr)
	var b strings.Builder
	b.WriteString("OAuth ")
	for _, p := range append(oauth, [2]string{"oauth_signature", sig}) {
		if p[0] != "oauth_consumer_key" {
			b.WriteString(", ")
		}
		b.WriteString(p[0])
		b.WriteString(`="`)
		b.WriteString(percentEncode(p[1]))
		b.WriteString(`"`)
	}
	return b.String()
}

// oauth1Signature is RFC 5849 §3.4.2: base64(HMAC-SHA1(key, base string))
// with key enc(consumer secret)&enc(token secret).
func oauth1Signature(method string, u *url.URL, form, oauth [][2]string, cr oauth1Credentials) string {
	base := oauth1BaseString(method, u, form, oauth)
	mac := hmac.New(sha1.New, []byte(percentEncode(cr.consumerSecret)+"&"+percentEncode(cr.tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// oauth1BaseString is RFC 5849 §3.4.1: METHOD & enc(base URI) &
// enc(normalized parameters). The query is taken from the URL as it goes
// on the wire (RawQuery), decoded and re-encoded per §3.4.1.3, so what is
// signed is exactly what the server sees ("$all" is sent and signed as
// "%24all").
func oauth1BaseString(method string, u *url.URL, form, oauth [][2]string) string {
	params := queryPairs(u.RawQuery)
	params = append(params, form...)
	for _, p := range oauth {
		if p[0] != "realm" && p[0] != "oauth_signature" {
			params = append(params, p)
		}
	}
	enc := make([][2]string, len(params))
	for i, p := range params {
		enc[i] = [2]string{percentEncode(p[0]), percentEncode(p[1])}
	}
	// Sort by encoded name, then encoded value (§3.4.1.3.2).
	slices.SortFunc(enc, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	var norm strings.Builder
	for i, p := range enc {
		if i > 0 {
			norm.WriteByte('&')
		}
		norm.WriteString(p[0])
		norm.WriteByte('=')
		norm.WriteString(p[1])
	}
	return strings.ToUpper(method) + "&" + percentEncode(baseURI(u)) + "&" + percentEncode(norm.String())
}

// queryPairs decodes a raw query into name/value pairs in order, as
// application/x-www-form-urlencoded ("+" is a space), keeping empty values
// and repeated names.
func queryPairs(raw string) [][2]string {
	var out [][2]string
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

// baseURI is RFC 5849 §3.4.1.2: lower-case scheme and host, the port only
// when it is not the scheme's default, the path as sent, no query.
func baseURI(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// percentEncode is RFC 5849 §3.6: every byte but ALPHA, DIGIT, "-", ".",
// "_" and "~" becomes %XX with upper-case hex.
func percentEncode(s string) string {
	const hexUpper = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
