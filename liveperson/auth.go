package liveperson

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/skillsync/skillsync/internal/secret"
)

// Token renewal: renew this long before expiry, or a quarter of the
// lifetime for short-lived tokens, so a request never leaves with a token
// about to lapse.
const tokenRenewMargin = 5 * time.Minute

// oauth2Signer gets Sentinel client-credentials tokens through
// golang.org/x/oauth2/clientcredentials, with the credentials in the form
// body as LivePerson documents. The token is cached and renewed before
// expiry; one renewal runs at a time and concurrent callers wait for it.
type oauth2Signer struct {
	c   *Client
	sem chan struct{}
	// hc is the shared client's transport wrapped to observe token calls
	// (the oauth2 package makes the request itself).
	hc *http.Client

	mu      sync.Mutex
	token   string
	renewAt time.Time // zero: expiry unknown, renewed only after a 401
}

func newOAuth2Signer(c *Client) *oauth2Signer {
	base := c.hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &oauth2Signer{
		c:   c,
		sem: make(chan struct{}, 1),
		hc:  refuseInsecureRedirects(&http.Client{Transport: &observedTransport{base: base, c: c, endpoint: "token"}}),
	}
}

func (s *oauth2Signer) valid() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == "" || (!s.renewAt.IsZero() && !s.c.now().Before(s.renewAt)) {
		return "", false
	}
	return s.token, true
}

func (s *oauth2Signer) sign(ctx context.Context, req *http.Request) error {
	tok, err := s.get(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

func (s *oauth2Signer) get(ctx context.Context) (string, error) {
	if tok, ok := s.valid(); ok {
		return tok, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
	defer func() { <-s.sem }()
	if tok, ok := s.valid(); ok {
		return tok, nil // renewed by another caller meanwhile
	}
	return s.fetch(ctx)
}

func (s *oauth2Signer) fetch(ctx context.Context) (string, error) {
	c := s.c
	sentinel, err := c.disc.host(ctx, c, svcSentinel)
	if err != nil {
		return "", fmt.Errorf("discover sentinel: %w", err)
	}
	tokenPath := "/sentinel/api/v2/account/" + url.PathEscape(c.cfg.AccountID) + "/app/token"
	cc := clientcredentials.Config{
		ClientID:     c.cfg.Auth.ClientID,
		ClientSecret: c.cfg.Auth.ClientSecret,
		TokenURL:     sentinel + tokenPath,
		Scopes:       strings.Fields(c.cfg.Auth.Scope),
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	fetchedAt := c.now()
	tok, err := cc.Token(context.WithValue(tctx, oauth2.HTTPClient, s.hc))
	if err != nil {
		return "", s.tokenError(ctx, tokenPath, err)
	}
	exp := tokenExpiry(tok, fetchedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = tok.AccessToken
	s.renewAt = time.Time{}
	if !exp.IsZero() {
		margin := min(tokenRenewMargin, exp.Sub(fetchedAt)/4)
		s.renewAt = exp.Add(-margin)
	}
	return s.token, nil
}

// tokenError turns the oauth2 package's errors into APIError (so the
// retry policy reads the status) and strips secrets and URLs from the rest.
func (s *oauth2Signer) tokenError(ctx context.Context, path string, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return s.c.apiError(http.MethodPost, path, re.Response, re.Body)
	}
	return secret.Wrap(err, "POST "+path+": "+s.c.red.Replace(transportMessage(err)))
}

// tokenExpiry reads the token's expiry: the JWT's exp claim (what
// LivePerson documents), else expires_in, else unknown.
func tokenExpiry(tok *oauth2.Token, fetchedAt time.Time) time.Time {
	if exp, ok := jwtExpiry(tok.AccessToken); ok {
		return exp
	}
	if tok.ExpiresIn > 0 {
		return fetchedAt.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return tok.Expiry
}

// jwtExpiry reads exp from a JWT's payload without verifying it: the
// client only needs to know when to renew; LivePerson verifies.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil || f <= 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// reauth drops the refused token, unless another caller already replaced
// it, so a burst of 401s causes one renewal.
func (s *oauth2Signer) reauth(_ context.Context, refused string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if refused == "Bearer "+s.token {
		s.token = ""
	}
	return nil
}

func (s *oauth2Signer) close(context.Context) error { return nil }

// observedTransport reports requests made by code that is not ours (the
// oauth2 package) to Observe and the debug log.
type observedTransport struct {
	base     http.RoundTripper
	c        *Client
	endpoint string
}

func (t *observedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	} else {
		t.c.disc.markStale()
	}
	t.c.observe(req.Context(), t.endpoint, req.Method, status, start)
	return resp, err
}

// Login Service.

// loginVersion is the Login Service API version LivePerson documents.
const loginVersion = "1.3"

// loginRefreshEvery is how often the session is refreshed while in use:
// LivePerson asks for a refresh every 3-5 minutes.
const loginRefreshEvery = 4 * time.Minute

// loginBackoff is the least wait after a 429 from login (LivePerson's
// login retry policy says at least 5 s).
const loginBackoff = 5 * time.Second

// loginSigner holds a Login Service session (user login, or application
// login with an API key).
//
// The session is refreshed lazily, when a request is about to be sent and
// the last login or refresh is older than loginRefreshEvery, rather than
// by a background goroutine: skillsync calls LivePerson in bursts (one run
// per schedule tick), so a timer would keep an idle session alive for
// nothing, and a lazy refresh needs no goroutine to own and stop. A
// session that lapsed while idle is replaced by a new login (also after a
// 401). Close logs out.
type loginSigner struct {
	c   *Client
	sem chan struct{}

	mu        sync.Mutex
	bearer    string
	csrf      string
	sessionID string
	fresh     time.Time     // last login or refresh
	ttl       time.Duration // sessionTTl from login
}

func newLoginSigner(c *Client) *loginSigner {
	return &loginSigner{c: c, sem: make(chan struct{}, 1)}
}

// state says what the session needs before the next request.
type loginState int

const (
	loginOK loginState = iota
	loginRefresh
	loginNew
)

func (s *loginSigner) state() (string, loginState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bearer == "" {
		return "", loginNew
	}
	age := s.c.now().Sub(s.fresh)
	refreshAfter := loginRefreshEvery
	if s.ttl > 0 {
		// A session shorter than twice the refresh interval is refreshed
		// halfway through instead.
		refreshAfter = min(refreshAfter, s.ttl/2)
	}
	switch {
	case age < refreshAfter:
		return s.bearer, loginOK
	case s.ttl > 0 && age >= s.ttl:
		return "", loginNew
	}
	return s.bearer, loginRefresh
}

func (s *loginSigner) sign(ctx context.Context, req *http.Request) error {
	bearer, st := s.state()
	if st != loginOK {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		var err error
		bearer, err = s.renew(ctx)
		<-s.sem
		if err != nil {
			return err
		}
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	return nil
}

// renew refreshes or replaces the session; the caller holds sem.
func (s *loginSigner) renew(ctx context.Context) (string, error) {
	bearer, st := s.state()
	switch st {
	case loginOK:
		return bearer, nil
	case loginRefresh:
		err := s.refresh(ctx)
		if err == nil {
			return bearer, nil
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
			return "", err
		}
		// The session is gone (or the csrf refused): log in again.
	}
	return s.login(ctx)
}

func (s *loginSigner) endpointURL(ctx context.Context, op string) (string, error) {
	host, err := s.c.disc.host(ctx, s.c, svcLogin)
	if err != nil {
		return "", fmt.Errorf("discover agentVep: %w", err)
	}
	u := host + "/api/account/" + url.PathEscape(s.c.cfg.AccountID) + "/" + op
	if op == "login" {
		u += "?v=" + loginVersion
	}
	return u, nil
}

func (s *loginSigner) login(ctx context.Context) (string, error) {
	a := s.c.cfg.Auth
	body := map[string]string{"username": a.Username}
	if a.Password != "" {
		body["password"] = a.Password
	} else {
		body["appKey"] = a.AppKey
		body["secret"] = a.Secret
		body["accessToken"] = a.AccessToken
		body["accessTokenSecret"] = a.AccessTokenSecret
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	u, err := s.endpointURL(ctx, "login")
	if err != nil {
		return "", err
	}
	resp, respBody, err := s.c.send(ctx, "login", http.MethodPost, u, bytes.NewReader(payload),
		http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := s.c.apiError(http.MethodPost, resp.Request.URL.Path, resp, respBody)
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			apiErr.minWait = loginBackoff
		case http.StatusUnavailableForLegalReasons:
			// LivePerson support blocked the account or user: retrying or
			// logging in again cannot help.
			return "", &fatalError{fmt.Errorf("login blocked by LivePerson (contact LivePerson support): %w", apiErr)}
		}
		return "", fmt.Errorf("login: %w", apiErr)
	}
	var doc struct {
		Bearer     string          `json:"bearer"`
		CSRF       string          `json:"csrf"`
		SessionTTL json.RawMessage `json:"sessionTTl"`
	}
	if err := json.Unmarshal(respBody, &doc); err != nil || doc.Bearer == "" {
		return "", &fatalError{errors.New("login: response has no bearer")}
	}
	var sessionID string
	for _, ck := range resp.Cookies() {
		if ck.Name == "Session_id" {
			sessionID = ck.Value
		}
	}
	var ttl time.Duration
	if len(doc.SessionTTL) > 0 {
		// sessionTTl is milliseconds, sent as a string ("28800000").
		if ms, err := parseInt(doc.SessionTTL); err == nil && ms > 0 {
			ttl = time.Duration(ms) * time.Millisecond
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bearer, s.csrf, s.sessionID, s.ttl = doc.Bearer, doc.CSRF, sessionID, ttl
	s.fresh = s.c.now()
	return s.bearer, nil
}

// sessionCall posts {"csrf"} with the Session_id cookie (refresh, logout).
func (s *loginSigner) sessionCall(ctx context.Context, op string) error {
	s.mu.Lock()
	csrf, sessionID := s.csrf, s.sessionID
	s.mu.Unlock()
	payload, err := json.Marshal(map[string]string{"csrf": csrf})
	if err != nil {
		return err
	}
	u, err := s.endpointURL(ctx, op)
	if err != nil {
		return err
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if sessionID != "" {
		h.Set("Cookie", (&http.Cookie{Name: "Session_id", Value: sessionID}).String())
	}
	resp, respBody, err := s.c.send(ctx, op, http.MethodPost, u, bytes.NewReader(payload), h)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w", op, s.c.apiError(http.MethodPost, resp.Request.URL.Path, resp, respBody))
	}
	return nil
}

func (s *loginSigner) refresh(ctx context.Context) error {
	if err := s.sessionCall(ctx, "refresh"); err != nil {
		return err
	}
	s.mu.Lock()
	s.fresh = s.c.now()
	s.mu.Unlock()
	return nil
}

// reauth drops the refused session so the next request logs in again.
func (s *loginSigner) reauth(_ context.Context, refused string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if refused == "Bearer "+s.bearer {
		s.bearer = ""
	}
	return nil
}

// close logs out of a live session.
func (s *loginSigner) close(ctx context.Context) error {
	s.mu.Lock()
	live := s.bearer != ""
	s.mu.Unlock()
	if !live {
		return nil
	}
	err := s.sessionCall(ctx, "logout")
	s.mu.Lock()
	s.bearer, s.csrf, s.sessionID = "", "", ""
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("liveperson logout: %w", err)
	}
	return nil
}
