package liveperson

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/skillsync/skillsync/internal/secret"
)

// Defaults for Config.
const (
	DefaultDomainAPIURL  = "https://api.liveperson.net"
	DefaultBatchSize     = 50
	DefaultTimeout       = 30 * time.Second
	DefaultSkillsVersion = "4.0"
	DefaultUsersVersion  = "4.0"
	DefaultDiscoveryTTL  = 10 * time.Minute
)

// DefaultRetryDelays are LivePerson's recommended waits before retrying a
// 5xx or a transport error (retry-policy-recommendations.md).
var DefaultRetryDelays = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}

// DefaultConflictStatuses are the statuses read as a stale If-Match: the
// Skills API does not document which one it sends, so both count.
var DefaultConflictStatuses = []int{409, 412}

// Auth methods.
const (
	AuthOAuth2 = "oauth2"
	AuthOAuth1 = "oauth1"
	AuthLogin  = "login"
)

// Config is the liveperson section of skillsync's configuration.
type Config struct {
	// AccountID is the LivePerson account (site) id.
	AccountID string `yaml:"account_id"`
	// DomainAPIURL is where service discovery runs.
	DomainAPIURL string `yaml:"domain_api_url"`
	// BaseURL, when set, is used for the Skills and Users APIs instead of
	// the discovered accountConfig hosts (e.g. https://va.ac.liveperson.net).
	BaseURL string `yaml:"base_url"`
	// Auth selects and configures authentication.
	Auth AuthConfig `yaml:"auth"`
	// BatchSize is how many items the engine sends per write request.
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds each HTTP attempt.
	Timeout time.Duration `yaml:"timeout"`
	// RetryDelays are the waits before each retry of a 5xx or transport
	// error on an idempotent request; their count is the retry count.
	RetryDelays []time.Duration `yaml:"retry_delays"`
	// SkillsVersion and UsersVersion pin the APIs' v parameter.
	SkillsVersion string `yaml:"skills_version"`
	UsersVersion  string `yaml:"users_version"`
	// DiscoveryTTL is how long discovered hosts are trusted.
	DiscoveryTTL time.Duration `yaml:"discovery_ttl"`
	// ConflictStatuses are the statuses reported as ErrConflict.
	ConflictStatuses []int `yaml:"conflict_statuses"`
}

// AuthConfig holds the credentials of one authentication method.
type AuthConfig struct {
	// Method is oauth2, oauth1 or login.
	Method string `yaml:"method"`
	// ClientID, ClientSecret and Scope are for oauth2 (Sentinel client
	// credentials). Scope is optional: LivePerson documents none for the
	// Skills API.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	Scope        string `yaml:"scope"`
	// AppKey, Secret, AccessToken and AccessTokenSecret are an OAuth 1.0
	// API key, for oauth1 and for login as an application.
	AppKey            string `yaml:"app_key"`
	Secret            string `yaml:"secret"`
	AccessToken       string `yaml:"access_token"`
	AccessTokenSecret string `yaml:"access_token_secret"`
	// Username and Password are for login as a user; with login and no
	// password, the API key fields log in as an application.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// String hides the secrets, so a config printed by mistake leaks nothing.
func (a AuthConfig) String() string {
	return fmt.Sprintf("{method:%s client_id:%s username:%s}", a.Method, a.ClientID, a.Username)
}

// GoString hides the secrets from %#v too.
func (a AuthConfig) GoString() string { return a.String() }

// secrets lists the configured secret values, for redaction.
func (a AuthConfig) secrets() []string {
	var out []string
	for _, s := range []string{a.ClientSecret, a.Secret, a.AccessToken, a.AccessTokenSecret, a.Password} {
		// Very short values would redact ordinary text (the one length
		// rule, for values named as secrets).
		if secret.Huntable(s, true) {
			out = append(out, s)
		}
	}
	return out
}

// WithDefaults returns the config with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.DomainAPIURL = cmp.Or(c.DomainAPIURL, DefaultDomainAPIURL)
	c.BatchSize = cmp.Or(c.BatchSize, DefaultBatchSize)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	if c.RetryDelays == nil {
		c.RetryDelays = slices.Clone(DefaultRetryDelays)
	}
	c.SkillsVersion = cmp.Or(c.SkillsVersion, DefaultSkillsVersion)
	c.UsersVersion = cmp.Or(c.UsersVersion, DefaultUsersVersion)
	c.DiscoveryTTL = cmp.Or(c.DiscoveryTTL, DefaultDiscoveryTTL)
	if len(c.ConflictStatuses) == 0 {
		c.ConflictStatuses = slices.Clone(DefaultConflictStatuses)
	}
	c.Auth.Method = strings.ToLower(strings.TrimSpace(c.Auth.Method))
	return c
}

// Validate reports every problem in the config, each naming its key path.
// Call it on the result of WithDefaults.
func (c Config) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("liveperson.%s: "+format, append([]any{key}, args...)...))
	}
	if strings.TrimSpace(c.AccountID) == "" {
		bad("account_id", "required: the LivePerson account (site) id")
	} else if strings.ContainsAny(c.AccountID, "/?#% ") {
		bad("account_id", "%q is not an account id", c.AccountID)
	}
	checkURL := func(key, v string, required bool) {
		if v == "" {
			if required {
				bad(key, "required")
			}
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(key, "%q is not an http(s) URL", v)
			return
		}
		if u.User != nil {
			bad(key, "must not carry credentials; use liveperson.auth")
		}
		if err := secureURL(u); err != nil {
			bad(key, "%v", err)
		}
	}
	checkURL("domain_api_url", c.DomainAPIURL, true)
	checkURL("base_url", c.BaseURL, false)

	a := c.Auth
	need := func(method string, fields map[string]string) {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if strings.TrimSpace(fields[k]) == "" {
				bad("auth."+k, "required for method %s", method)
			}
		}
	}
	switch a.Method {
	case AuthOAuth2:
		need(AuthOAuth2, map[string]string{"client_id": a.ClientID, "client_secret": a.ClientSecret})
	case AuthOAuth1:
		need(AuthOAuth1, map[string]string{"app_key": a.AppKey, "secret": a.Secret,
			"access_token": a.AccessToken, "access_token_secret": a.AccessTokenSecret})
	case AuthLogin:
		switch {
		case a.Username == "":
			bad("auth.username", "required for method login")
		case a.Password == "" && a.AppKey == "":
			bad("auth.password", "required for method login (or app_key, secret, access_token and access_token_secret to log in as an application)")
		case a.Password == "":
			need("login as an application", map[string]string{"secret": a.Secret,
				"access_token": a.AccessToken, "access_token_secret": a.AccessTokenSecret})
		}
	case "":
		bad("auth.method", "required: one of oauth2, oauth1, login")
	default:
		bad("auth.method", "%q is not one of oauth2, oauth1, login", a.Method)
	}

	if c.BatchSize < 1 {
		bad("batch_size", "must be at least 1, got %d", c.BatchSize)
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive, got %s", c.Timeout)
	}
	for i, d := range c.RetryDelays {
		if d < 0 {
			bad(fmt.Sprintf("retry_delays[%d]", i), "must not be negative, got %s", d)
		}
	}
	for _, v := range []struct{ key, val string }{{"skills_version", c.SkillsVersion}, {"users_version", c.UsersVersion}} {
		if v.val == "" || strings.Trim(v.val, "0123456789.") != "" {
			bad(v.key, "%q is not an API version such as 4.0", v.val)
		}
	}
	if c.DiscoveryTTL <= 0 {
		bad("discovery_ttl", "must be positive, got %s", c.DiscoveryTTL)
	}
	for i, s := range c.ConflictStatuses {
		if s < 400 || s > 499 {
			bad(fmt.Sprintf("conflict_statuses[%d]", i), "%d is not a 4xx status", s)
		}
	}
	return errs
}

// secureURL refuses a URL that would carry credentials unencrypted: plain
// http, except to the local machine (a simulator in tests).
func secureURL(u *url.URL) error {
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%s uses plain http, which would send the credentials unencrypted: use https (plain http is accepted only to a loopback address: 127.0.0.0/8, ::1, localhost)",
			u.Redacted())
	}
	return fmt.Errorf("%s is not an https URL", u.Redacted())
}

// loopback reports whether host (a URL's Hostname) is the local machine:
// localhost, 127.0.0.0/8 or ::1.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validationError joins Validate's problems for New.
func validationError(errs []error) error {
	return fmt.Errorf("invalid liveperson config: %w", errors.Join(errs...))
}
