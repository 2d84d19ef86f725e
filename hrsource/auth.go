package hrsource

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/skillsync/skillsync/internal/secret"
)

// Authentication methods (hr.auth.method).
const (
	AuthNone                    = "none"
	AuthBasic                   = "basic"
	AuthBearer                  = "bearer"
	AuthAPIKey                  = "api_key"
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
	AuthOAuth2RefreshToken      = "oauth2_refresh_token"
)

// DefaultAPIKeyHeader carries the key of auth method api_key on the http
// source when hr.auth.header is empty.
const DefaultAPIKeyHeader = "X-API-Key"

// AuthConfig is hr.auth: how the http source and the vendor connectors
// prove who they are. Every secret in it is redacted from errors, logs,
// config check's output and what runs store.
type AuthConfig struct {
	// Method is none, basic, bearer, api_key, oauth2_client_credentials or
	// oauth2_refresh_token.
	Method string `yaml:"method"`
	// Username and Password are basic's credentials.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Token is bearer's token, or api_key's key.
	Token string `yaml:"token"`
	// Header carries api_key's key on the http source (default X-API-Key).
	Header string `yaml:"header"`
	// ClientID, ClientSecret, TokenURL and Scope are the OAuth 2.0 client's;
	// RefreshToken is oauth2_refresh_token's grant.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	RefreshToken string `yaml:"refresh_token"`
	TokenURL     string `yaml:"token_url"`
	// Scope is a space-separated list of OAuth 2.0 scopes (optional).
	Scope string `yaml:"scope"`
}

// authKey is one key of hr.auth; authKeys drives validation (which keys a
// method needs, which it ignores) from one list.
type authKey struct {
	name string
	get  func(AuthConfig) string
}

var authKeys = []authKey{
	{"username", func(a AuthConfig) string { return a.Username }},
	{"password", func(a AuthConfig) string { return a.Password }},
	{"token", func(a AuthConfig) string { return a.Token }},
	{"header", func(a AuthConfig) string { return a.Header }},
	{"client_id", func(a AuthConfig) string { return a.ClientID }},
	{"client_secret", func(a AuthConfig) string { return a.ClientSecret }},
	{"refresh_token", func(a AuthConfig) string { return a.RefreshToken }},
	{"token_url", func(a AuthConfig) string { return a.TokenURL }},
	{"scope", func(a AuthConfig) string { return a.Scope }},
}

// authMethods lists, per method, the keys it requires and those it may
// use; any other key set is a mistake worth reporting (a refresh token
// under method basic is never sent).
var authMethods = map[string]struct{ required, optional []string }{
	AuthNone:                    {},
	AuthBasic:                   {required: []string{"username", "password"}},
	AuthBearer:                  {required: []string{"token"}},
	AuthAPIKey:                  {required: []string{"token"}, optional: []string{"header"}},
	AuthOAuth2ClientCredentials: {required: []string{"client_id", "client_secret", "token_url"}, optional: []string{"scope"}},
	AuthOAuth2RefreshToken:      {required: []string{"client_id", "refresh_token", "token_url"}, optional: []string{"client_secret", "scope"}},
}

// methodList names the methods for messages, in the documented order.
const methodList = "none, basic, bearer, api_key, oauth2_client_credentials, oauth2_refresh_token"

// authMethod is the method in force: hr.auth.method, else the vendor's
// only one (bamboohr: api_key), else basic when the older hr.username is
// set, else none on the http source ("" for a vendor, which must say).
func (c Config) authMethod() string {
	switch {
	case c.Auth.Method != "":
		return c.Auth.Method
	case c.Type == TypeBambooHR:
		return AuthAPIKey
	case c.Username != "" || c.Password != "":
		return AuthBasic
	case c.Type == TypeHTTP:
		return AuthNone
	}
	return ""
}

// validateAuth checks hr.auth (and the older hr.username/hr.password) for
// the http source and the vendors, whose v lists the methods they take.
func (c Config) validateAuth(v *vendor, add func(key, format string, args ...any)) {
	a := c.Auth
	legacy := c.Username != "" || c.Password != ""
	if legacy && a != (AuthConfig{}) {
		add("auth", "hr.username/hr.password (the older spelling) and hr.auth are both set: keep hr.auth only")
		return
	}
	if legacy {
		if v != nil {
			add("username", "type %s takes its credentials in hr.auth (hr.auth.method: %s)", c.Type, v.methods[0])
		} else if c.Username == "" {
			add("username", "required when hr.password is set (basic auth)")
		}
		return
	}
	method := c.authMethod()
	spec, known := authMethods[method]
	switch {
	case method == "":
		add("auth.method", "required for type %s: one of %s", c.Type, strings.Join(v.methods, ", "))
		return
	case !known:
		add("auth.method", "unknown %q: use one of %s", method, methodList)
		return
	case v != nil && !slices.Contains(v.methods, method):
		add("auth.method", "%q is not how %s authenticates: use %s", method, v.name, strings.Join(v.methods, " or "))
		return
	}
	c.validateAuthKeys(v, method, spec.required, spec.optional, add)
}

// validateAuthKeys checks the keys of hr.auth for method: those it needs,
// those it ignores, and their values.
func (c Config) validateAuthKeys(v *vendor, method string, required, optional []string, add func(key, format string, args ...any)) {
	a := c.Auth
	for _, k := range authKeys {
		set := k.get(a) != ""
		switch {
		case slices.Contains(required, k.name) && !set && !c.derived(k.name):
			add("auth."+k.name, "required for method %s%s", method, c.authHelp(k.name))
		case set && !slices.Contains(required, k.name) && !slices.Contains(optional, k.name):
			add("auth."+k.name, "not used by method %s: remove it or change hr.auth.method", method)
		}
	}
	if a.Header != "" && v != nil {
		add("auth.header", "%s decides how the key is sent: remove hr.auth.header", v.name)
	} else if a.Header != "" && (strings.ContainsAny(a.Header, " :\r\n\t")) {
		add("auth.header", "invalid header name %q", a.Header)
	}
	if a.TokenURL != "" {
		if u, err := url.Parse(a.TokenURL); err != nil || u.Host == "" {
			add("auth.token_url", "not an absolute URL")
		} else if u.Scheme != "https" {
			add("auth.token_url", "must use https (it receives the client secret), got %s", u.Scheme)
		}
	}
	for _, name := range sortedKeys(c.Headers) {
		switch {
		case strings.EqualFold(name, "Authorization") && method != AuthNone:
			add("headers."+name, "set, and hr.auth.method is %s: keep one of them", method)
		case method == AuthAPIKey && v == nil && strings.EqualFold(name, cmpOr(a.Header, DefaultAPIKeyHeader)):
			add("headers."+name, "also set by hr.auth (method api_key): keep one of them")
		}
	}
	if method == AuthBasic && c.Type == TypeSuccessFactors && a.Username != "" && !strings.Contains(a.Username, "@") {
		add("auth.username", "SuccessFactors expects user@companyId (the API user's name, @, the company id), got %q", a.Username)
	}
}

// derived says whether an hr.auth key left empty is filled from other
// settings: Workday's token endpoint follows from its report URL.
func (c Config) derived(key string) bool {
	if key != "token_url" || c.Type != TypeWorkday {
		return false
	}
	_, ok := workdayTokenURL(c.URL)
	return ok
}

// authHelp completes "required" messages.
func (c Config) authHelp(key string) string {
	switch {
	case c.Type == TypeBambooHR && key == "token":
		return ": the BambooHR API key (sent as the basic-auth user, as BambooHR documents)"
	case c.Type == TypeWorkday && key == "token_url":
		return ": https://HOST/ccx/oauth2/TENANT/token (Workday's View API Clients shows it)"
	case key == "token_url":
		return ": the OAuth 2.0 token endpoint"
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// workdayTokenURL derives Workday's OAuth 2.0 token endpoint,
// https://HOST/ccx/oauth2/TENANT/token, from a report URL
// https://HOST/ccx/service/customreport2/TENANT/OWNER/REPORT.
func workdayTokenURL(report string) (string, bool) {
	u, err := url.Parse(report)
	if err != nil || u.Host == "" {
		return "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+3 < len(parts); i++ {
		if parts[i] == "ccx" && parts[i+1] == "service" {
			t := url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/" + strings.Join(append(parts[:i:i], "ccx", "oauth2", parts[i+3], "token"), "/")}
			return t.String(), true
		}
	}
	return "", false
}

// authSecrets lists the secrets of hr.auth and the forms they travel in
// (a basic-auth header is base64 of "user:password").
func (c Config) authSecrets() []string {
	a := c.Auth
	out := []string{a.Password, a.Token, a.ClientSecret, a.RefreshToken}
	if user, pass, ok := c.basicCredentials(); ok {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	return out
}

// basicCredentials returns what a basic-auth header carries, if the
// method sends one: hr.auth's (or the older hr.username/hr.password), or
// BambooHR's API key as the user with a throwaway password.
func (c Config) basicCredentials() (user, pass string, ok bool) {
	switch c.authMethod() {
	case AuthBasic:
		if c.Auth.Username != "" {
			return c.Auth.Username, c.Auth.Password, true
		}
		return c.Username, c.Password, c.Username != ""
	case AuthAPIKey:
		if c.Type == TypeBambooHR {
			// BambooHR: "the API key as the username and any random string
			// as the password".
			return c.Auth.Token, "x", c.Auth.Token != ""
		}
	}
	return "", "", false
}

// authorizer signs the requests of one source: a static header, or an
// OAuth 2.0 access token fetched (and renewed before it expires) through
// golang.org/x/oauth2.
type authorizer struct {
	cfg    Config
	method string
	// client makes the token requests (the source's transport: same CA).
	client *http.Client
	// secrets learns each access token: a server may quote it back in an
	// error.
	secrets *secret.Set
	log     *slog.Logger

	mu  gosync.Mutex
	tok *oauth2.Token
	// refresh is the refresh token in force (the server may rotate it).
	refresh string
}

func newAuthorizer(cfg Config, client *http.Client, secrets *secret.Set, log *slog.Logger) *authorizer {
	a := &authorizer{cfg: cfg, method: cfg.authMethod(), client: client, secrets: secrets, log: log, refresh: cfg.Auth.RefreshToken}
	if a.cfg.Auth.TokenURL == "" && cfg.Type == TypeWorkday {
		a.cfg.Auth.TokenURL, _ = workdayTokenURL(cfg.URL)
	}
	return a
}

// authorize sets the request's credentials, fetching a token if need be.
// It returns the OAuth 2.0 access token it sent (nil for any other
// credential), and whether that token had served earlier requests: a 401
// to such a token may mean only that it went stale.
func (a *authorizer) authorize(ctx context.Context, req *http.Request) (tok *oauth2.Token, reused bool, err error) {
	switch a.method {
	case AuthBasic:
		user, pass, _ := a.cfg.basicCredentials()
		req.SetBasicAuth(user, pass)
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+a.cfg.Auth.Token)
	case AuthAPIKey:
		if user, pass, ok := a.cfg.basicCredentials(); ok {
			req.SetBasicAuth(user, pass)
		} else {
			req.Header.Set(cmpOr(a.cfg.Auth.Header, DefaultAPIKeyHeader), a.cfg.Auth.Token)
		}
	case AuthOAuth2ClientCredentials, AuthOAuth2RefreshToken:
		tok, fresh, err := a.token(ctx)
		if err != nil {
			return nil, false, err
		}
		tok.SetAuthHeader(req)
		return tok, !fresh, nil
	}
	return nil, false, nil
}

// forget drops the cached access token tok (after a 401: it may have
// expired early or been revoked), so that the next request fetches a new
// one; a token another request has fetched since stays.
func (a *authorizer) forget(tok *oauth2.Token) {
	a.mu.Lock()
	if a.tok == tok {
		a.tok = nil
	}
	a.mu.Unlock()
}

// token returns a valid access token, fetching one when the cached one is
// missing or about to expire (oauth2.Token.Valid keeps a margin; a token
// announced without a lifetime is kept until a server refuses it). fresh
// says it was just fetched.
func (a *authorizer) token(ctx context.Context) (tok *oauth2.Token, fresh bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok.Valid() {
		return a.tok, false, nil
	}
	auth := a.cfg.Auth
	tctx := context.WithValue(ctx, oauth2.HTTPClient, a.client)
	if a.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(tctx, a.cfg.Timeout)
		defer cancel()
	}
	if a.method == AuthOAuth2ClientCredentials {
		cc := clientcredentials.Config{ClientID: auth.ClientID, ClientSecret: auth.ClientSecret, TokenURL: auth.TokenURL, Scopes: strings.Fields(auth.Scope)}
		tok, err = cc.Token(tctx)
	} else {
		oc := oauth2.Config{ClientID: auth.ClientID, ClientSecret: auth.ClientSecret, Endpoint: oauth2.Endpoint{TokenURL: auth.TokenURL}, Scopes: strings.Fields(auth.Scope)}
		tok, err = oc.TokenSource(tctx, &oauth2.Token{RefreshToken: a.refresh}).Token()
	}
	if err != nil {
		return nil, false, a.tokenError(ctx, err)
	}
	if tok.AccessToken == "" {
		return nil, false, fmt.Errorf("POST %s: the token endpoint answered without an access_token", redactURLString(auth.TokenURL))
	}
	a.secrets.Add(tok.AccessToken)
	if tok.RefreshToken != "" && tok.RefreshToken != a.refresh {
		// A rotated refresh token replaces the old one for this process's
		// life; hr.auth.refresh_token still holds the first, which the
		// server may refuse after a restart.
		a.secrets.Add(tok.RefreshToken)
		a.refresh = tok.RefreshToken
		a.log.WarnContext(ctx, "the token endpoint rotated the refresh token: skillsync uses the new one until it stops, "+
			"then hr.auth.refresh_token again, which the server may refuse (invalid_grant); "+
			"prefer a refresh token that does not rotate (Workday: Non-Expiring Refresh Tokens)", "token_url", redactURLString(auth.TokenURL))
	}
	a.tok = tok
	return tok, true, nil
}

// tokenError explains a failed token request; a 5xx, a 429 or a transport
// error may pass and is retried like a page.
func (a *authorizer) tokenError(ctx context.Context, err error) error {
	where := "POST " + redactURLString(a.cfg.Auth.TokenURL)
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", where, ctx.Err())
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		detail := re.ErrorCode
		if re.ErrorDescription != "" {
			detail += ": " + re.ErrorDescription
		}
		if detail == "" {
			detail = strings.TrimSpace(string(re.Body))
		}
		// The secrets go first: cut or quoted, one would no longer be
		// recognised.
		e := fmt.Errorf("%s (the OAuth 2.0 token endpoint): %s%s", where, re.Response.Status, quoteDetail(a.secrets.Replace(detail)))
		if re.Response.StatusCode >= 500 || re.Response.StatusCode == http.StatusTooManyRequests {
			return &retryable{err: e, wait: retryAfter(re.Response.Header, time.Now())}
		}
		keys := "hr.auth.client_id, hr.auth.client_secret"
		if a.method == AuthOAuth2RefreshToken {
			keys += ", hr.auth.refresh_token"
		}
		return fmt.Errorf("%w: check %s and hr.auth.token_url", e, keys)
	}
	if msg := err.Error(); strings.HasPrefix(msg, "oauth2: cannot parse") || strings.Contains(msg, "missing access_token") {
		// A 200 that is no token (a sign-in page, another service):
		// asking again would not help.
		return fmt.Errorf("%s (the OAuth 2.0 token endpoint): %s: the answer is not an OAuth 2.0 token; check hr.auth.token_url", where, a.secrets.Replace(msg))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := fmt.Errorf("%s (the OAuth 2.0 token endpoint): %w", where, err)
	if rerr := (*redirectError)(nil); errors.As(err, &rerr) {
		return e // asking again would not help
	}
	return &retryable{err: e}
}

// redactURLString is redactURL for a URL held as text.
func redactURLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(hr.auth.token_url)"
	}
	return redactURL(u)
}

// quoteDetail quotes the start of a server's explanation.
func quoteDetail(s string) string {
	const limit = 200
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return fmt.Sprintf(" (%q)", s)
}
