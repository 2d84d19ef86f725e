package lpsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// services are the Domain API service names lpsim answers, each with the
// simulator's own host. Besides the four skillsync uses, a few others appear
// so a client has to pick by name. Names are case-sensitive, as in LivePerson.
var services = []string{
	"accountConfigReadOnly",
	"accountConfigReadWrite",
	"sentinel",
	"agentVep",
	"adminArea",
	"leDataReporting",
	"msgHist",
}

func knownService(name string) bool {
	for _, s := range services {
		if s == name {
			return true
		}
	}
	return false
}

type baseURI struct {
	Service string `json:"service"`
	Account string `json:"account"`
	BaseURI string `json:"baseURI"`
}

// domainPreamble checks what the Domain API checks: GET, version and the
// account. Undocumented: which of 400/401 an unknown account gets; lpsim
// answers 401, since the account is what the (absent) credentials name.
func (s *Sim) domainPreamble(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "Domain API: only GET is supported")
		return false
	}
	if r.URL.Query().Get("version") == "" {
		writeError(w, http.StatusBadRequest, "Domain API: query parameter version is required (version=1.0)")
		return false
	}
	if r.PathValue("acc") != s.opts.AccountID {
		writeError(w, http.StatusUnauthorized, "Domain API: unknown account "+r.PathValue("acc"))
		return false
	}
	return true
}

func (s *Sim) handleDomain(w http.ResponseWriter, r *http.Request) {
	if !s.domainPreamble(w, r) {
		return
	}
	name := r.PathValue("name")
	if !knownService(name) {
		writeError(w, http.StatusBadRequest, "Domain API: unknown service "+name)
		return
	}
	writeJSON(w, http.StatusOK, baseURI{Service: name, Account: s.opts.AccountID, BaseURI: r.Host})
}

func (s *Sim) handleDomainAll(w http.ResponseWriter, r *http.Request) {
	if !s.domainPreamble(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"baseURIs": s.baseURIs(r.Host)})
}

func (s *Sim) baseURIs(host string) []baseURI {
	out := make([]baseURI, 0, len(services))
	for _, name := range services {
		out = append(out, baseURI{Service: name, Account: s.opts.AccountID, BaseURI: host})
	}
	return out
}

// handleToken is Sentinel's client-credentials token endpoint. Credentials
// are accepted in the form body (LivePerson's documented way) or as HTTP
// basic auth, which golang.org/x/oauth2 sends when its auth style is not
// fixed to "in params"; it query-escapes both parts, so they are unescaped.
func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "body must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "bad form body")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	if r.PathValue("acc") != s.opts.AccountID || s.opts.ClientID == "" ||
		!equal(id, s.opts.ClientID) || !equal(secret, s.opts.ClientSecret) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	now := s.now()
	exp := now.Add(s.opts.TokenTTL)
	claims := map[string]any{
		"iss":     "https://sentinel.liveperson.net",
		"sub":     id,
		"aud":     id,
		"lp.site": s.opts.AccountID,
		"iat":     now.Unix(),
		"exp":     exp.Unix(),
		"jti":     randomHex(8),
	}
	scope := r.PostForm.Get("scope")
	if scope != "" {
		claims["scope"] = strings.Fields(scope)
	}
	token := s.signJWT(claims)
	s.mu.Lock()
	s.tokens[token] = exp
	s.mu.Unlock()
	resp := map[string]any{
		"access_token": token,
		"token_type":   "Bearer",
		"expires_in":   int64(s.opts.TokenTTL / time.Second),
	}
	if scope != "" {
		resp["scope"] = scope
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// signJWT returns an HS256 JWT. Sentinel V2 signs with a key published as
// JWKS; clients only read exp, so a private HMAC key models it well enough.
func (s *Sim) signJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"lpsim"}`))
	body := enc.EncodeToString(mustMarshal(claims))
	mac := hmac.New(sha256.New, s.jwtKey)
	mac.Write([]byte(head + "." + body))
	return head + "." + body + "." + enc.EncodeToString(mac.Sum(nil))
}

// session is a Login Service session.
type session struct {
	id, csrf, bearer string
	expires          time.Time
}

type loginBody struct {
	Username          string `json:"username"`
	Password          string `json:"password"`
	AppKey            string `json:"appKey"`
	Secret            string `json:"secret"`
	AccessToken       string `json:"accessToken"`
	AccessTokenSecret string `json:"accessTokenSecret"`
}

// handleLogin is Login Service user login and application login.
func (s *Sim) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeLoginError(w, http.StatusMethodNotAllowed, 0, "use POST")
		return
	}
	if r.URL.Query().Get("v") == "" {
		writeLoginError(w, http.StatusBadRequest, 0, "query parameter v is required (v=1.3)")
		return
	}
	var body loginBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeLoginError(w, http.StatusBadRequest, 0, "body must be a JSON object")
		return
	}
	if body.Username == "" {
		writeLoginError(w, http.StatusBadRequest, 0, "username is required")
		return
	}
	if r.PathValue("acc") != s.opts.AccountID || !s.loginAllowed(body) {
		writeLoginError(w, http.StatusUnauthorized, 0, "Bad Authentication (invalid site or agent)")
		return
	}
	sess := &session{id: randomHex(16), csrf: randomHex(32), bearer: randomHex(32), expires: s.now().Add(s.opts.TokenTTL)}
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.bearers[sess.bearer] = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "Session_id", Value: sess.id, Path: "/", HttpOnly: true, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]any{
		"csrf": sess.csrf,
		"wsuk": randomHex(8),
		"config": map[string]any{
			"loginName":         body.Username,
			"userId":            "3700000000",
			"serverCurrentTime": s.now().UnixMilli(),
			"isAdmin":           true,
		},
		"csdsCollectionResponse": map[string]any{"baseURIs": s.baseURIs(r.Host)},
		"accountData":            map[string]any{},
		"sessionTTl":             strconv.FormatInt(s.opts.TokenTTL.Milliseconds(), 10),
		"bearer":                 sess.bearer,
	})
}

// loginAllowed checks user login (username + password) and application
// login (username + OAuth 1.0 key, or an OAuth 2.0 bot's client id and
// secret as appKey and secret with "dummy" tokens).
func (s *Sim) loginAllowed(b loginBody) bool {
	if b.AppKey == "" {
		return s.opts.Password != "" && equal(b.Username, s.opts.Username) && equal(b.Password, s.opts.Password)
	}
	if s.opts.Username != "" && !equal(b.Username, s.opts.Username) {
		return false
	}
	if s.opts.AppKey != "" && equal(b.AppKey, s.opts.AppKey) && equal(b.Secret, s.opts.Secret) &&
		equal(b.AccessToken, s.opts.AccessToken) && equal(b.AccessTokenSecret, s.opts.AccessTokenSecret) {
		return true
	}
	return s.opts.ClientID != "" && equal(b.AppKey, s.opts.ClientID) && equal(b.Secret, s.opts.ClientSecret)
}

// sessionOf finds the live session named by the Session_id cookie and checks
// the csrf in the body, as refresh and logout do. It writes the error itself.
func (s *Sim) sessionOf(w http.ResponseWriter, r *http.Request) *session {
	if r.Method != http.MethodPost {
		writeLoginError(w, http.StatusMethodNotAllowed, 0, "use POST")
		return nil
	}
	var body struct {
		CSRF string `json:"csrf"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
	c, err := r.Cookie("Session_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	var sess *session
	if err == nil {
		sess = s.sessions[c.Value]
	}
	if sess == nil || !s.now().Before(sess.expires) || r.PathValue("acc") != s.opts.AccountID {
		writeLoginError(w, http.StatusUnauthorized, 0, "Bad Authentication (invalid site or agent)")
		return nil
	}
	if !equal(body.CSRF, sess.csrf) {
		writeLoginError(w, http.StatusUnauthorized, 10, "CSRF token invalid! The CSRF token on request does not match the CSRF token on the session")
		return nil
	}
	return sess
}

func (s *Sim) handleRefresh(w http.ResponseWriter, r *http.Request) {
	sess := s.sessionOf(w, r)
	if sess == nil {
		return
	}
	s.mu.Lock()
	sess.expires = s.now().Add(s.opts.TokenTTL)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *Sim) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess := s.sessionOf(w, r)
	if sess == nil {
		return
	}
	s.mu.Lock()
	delete(s.sessions, sess.id)
	delete(s.bearers, sess.bearer)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// authenticate checks the Authorization header of a Skills or Users call:
// a Sentinel token or Login Service bearer, or an OAuth 1.0 signature.
// It returns an error message for a 401, or "".
func (s *Sim) authenticate(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case h == "":
		return "Authorization header is required"
	case strings.EqualFold(scheme, "Bearer"):
		tok := strings.TrimSpace(rest)
		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.now()
		if exp, ok := s.tokens[tok]; ok {
			if now.Before(exp) {
				return ""
			}
			delete(s.tokens, tok)
			return "token expired"
		}
		if sess, ok := s.bearers[tok]; ok {
			if now.Before(sess.expires) {
				return ""
			}
			delete(s.bearers, tok)
			delete(s.sessions, sess.id)
			return "session expired"
		}
		return "unknown bearer token"
	case strings.EqualFold(scheme, "OAuth"):
		if err := s.verifyOAuth1(r); err != nil {
			return "OAuth 1.0: " + err.Error()
		}
		return ""
	}
	return "unsupported Authorization scheme " + scheme
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// errorBody is the error shape lpsim uses for the account-config APIs.
// Undocumented by LivePerson beyond the status codes; modelled on the Login
// Service's documented error fields.
type errorBody struct {
	Time         int64  `json:"time"`
	Message      string `json:"message"`
	InternalCode int    `json:"internalCode,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Time: nowMillis(), Message: msg})
}

// writeLoginError writes the Login Service's documented error body.
func writeLoginError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"time":           time.Now().UTC().Format("Jan 2, 2006 3:04:05 PM"),
		"message":        msg,
		"internalCode":   code,
		"responseStatus": strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")),
	}})
}

// writeOAuthError writes an RFC 6749 §5.2 error, which golang.org/x/oauth2
// parses into its RetrieveError.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
