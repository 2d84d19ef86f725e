package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	gosync "sync"
	"time"

	"github.com/skillsync/skillsync/internal/authlimit"
)

// Cookie names.
const (
	sessionCookie = "skillsync_session"
	// csrfField is the form field every POST carries.
	csrfField = "csrf"
)

// sessions signs and checks session cookies. A cookie is
// base64(expiry, nonce) "." base64(HMAC-SHA256(key, that)), the key being
// derived from the token: it never holds the token, every replica with the
// same token accepts it (no shared session table), and changing the token
// ends every session. Sign-out revokes the nonce in this process.
type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	mu      gosync.Mutex
	revoked map[string]time.Time // nonce → expiry
}

func newSessions(token string, ttl time.Duration, now func() time.Time) *sessions {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("skillsync console session key v1"))
	return &sessions{key: m.Sum(nil), ttl: ttl, now: now, revoked: map[string]time.Time{}}
}

// session is a signed-in browser.
type session struct {
	nonce  string
	expiry time.Time
}

func (s *sessions) mac(purpose string, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// sign returns a signed value for purpose that expires after ttl.
func (s *sessions) sign(purpose string, ttl time.Duration) (value, nonce string) {
	payload := make([]byte, 8+16)
	binary.BigEndian.PutUint64(payload, uint64(s.now().Add(ttl).Unix()))
	_, _ = rand.Read(payload[8:])
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(s.mac(purpose, payload)), b64.EncodeToString(payload[8:])
}

// verify checks a value signed for purpose and returns its nonce and
// expiry.
func (s *sessions) verify(purpose, value string) (session, bool) {
	p, m, ok := strings.Cut(value, ".")
	if !ok {
		return session{}, false
	}
	payload, err1 := b64.DecodeString(p)
	mac, err2 := b64.DecodeString(m)
	if err1 != nil || err2 != nil || len(payload) != 24 || !hmac.Equal(mac, s.mac(purpose, payload)) {
		return session{}, false
	}
	expiry := time.Unix(int64(binary.BigEndian.Uint64(payload)), 0)
	if !s.now().Before(expiry) {
		return session{}, false
	}
	return session{nonce: b64.EncodeToString(payload[8:]), expiry: expiry}, true
}

// csrf is the CSRF token of a session: bound to it, useless without the
// cookie, and unknowable from another site.
func (s *sessions) csrf(sess session) string {
	return b64.EncodeToString(s.mac("csrf", []byte(sess.nonce)))
}

func (s *sessions) revoke(sess session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for n, exp := range s.revoked {
		if !now.Before(exp) {
			delete(s.revoked, n)
		}
	}
	s.revoked[sess.nonce] = sess.expiry
}

func (s *sessions) isRevoked(sess session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.revoked[sess.nonce]
	return ok
}

// current returns the request's session, if it has a valid one.
func (c *Console) current(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	sess, ok := c.sessions.verify("session", ck.Value)
	if !ok || c.sessions.isRevoked(sess) {
		return session{}, false
	}
	return sess, true
}

// page wraps a GET page: without a session, the browser is sent to sign in.
func (c *Console) page(h func(w http.ResponseWriter, r *http.Request, sess session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		sess, ok := c.current(r)
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r, sess)
	}
}

// action wraps a POST: it needs a session, a same-origin request and the
// session's CSRF token.
func (c *Console) action(h func(w http.ResponseWriter, r *http.Request, sess session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		sess, ok := c.current(r)
		if !ok {
			c.renderError(w, r, http.StatusForbidden, "Your session has ended: sign in again.")
			return
		}
		if !sameOrigin(r) || !validCSRF(r.PostFormValue(csrfField), c.sessions.csrf(sess)) {
			c.renderError(w, r, http.StatusForbidden, "This form is out of date or did not come from this console: reload the page and try again.")
			return
		}
		h(w, r, sess)
	}
}

func validCSRF(given, want string) bool {
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(want)) == 1
}

// sameOrigin refuses a POST whose Origin (sent by every current browser)
// names another host. The CSRF token is the defence; this is a second one.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// loginTTL bounds how long a sign-in form may be left open.
const loginTTL = time.Hour

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if _, ok := c.current(r); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, "")
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token, _ := c.sessions.sign("login", loginTTL)
	c.render(w, r, status, "login", pageData{Title: "Sign in", CSRF: token, Error: msg})
}

// login checks the token (in constant time) and sets the session cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if _, ok := c.sessions.verify("login", r.PostFormValue(csrfField)); !ok || !sameOrigin(r) {
		c.renderLogin(w, r, http.StatusForbidden, "The sign-in form expired or did not come from this console: try again.")
		return
	}
	if wait := c.opts.Guesses.Wait(r); wait > 0 {
		w.Header().Set("Retry-After", authlimit.RetryAfter(wait))
		c.renderLogin(w, r, http.StatusTooManyRequests,
			"Too many wrong tokens from this address: try again in "+authlimit.RetryAfter(wait)+" s.")
		return
	}
	given := r.PostFormValue("token")
	if subtle.ConstantTimeCompare([]byte(given), []byte(c.opts.Token)) != 1 {
		wait := c.opts.Guesses.Failed(r)
		c.log.Warn("console: sign-in with a wrong token", "remote_addr", r.RemoteAddr, "wait", wait)
		c.renderLogin(w, r, http.StatusUnauthorized, "That is not the token (server.trigger_token).")
		return
	}
	c.opts.Guesses.Succeeded(r)
	value, _ := c.sessions.sign("session", c.opts.SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/",
		MaxAge:   int(c.opts.SessionTTL / time.Second),
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
	c.log.Info("console: signed in", "remote_addr", r.RemoteAddr, "user", c.user(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, sess session) {
	c.sessions.revoke(sess)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// user is who approves: the authenticating proxy's user when
// server.user_header is set and present, else "token".
func (c *Console) user(r *http.Request) string {
	if c.opts.UserHeader != "" {
		if u := strings.TrimSpace(r.Header.Get(c.opts.UserHeader)); u != "" {
			return u
		}
	}
	return "token"
}
