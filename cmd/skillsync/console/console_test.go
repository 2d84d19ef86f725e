package console

import (
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/internal/authlimit"
)

// pagePaths are the console's pages.
var pagePaths = []string{"/", "/runs", "/runs?outcome=refused", "/runs/1", "/runs/3", "/pending", "/skills"}

func TestOffWithoutToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Options{Source: newMemSource()}))
	defer srv.Close()
	c := newClient(t, srv)
	for _, p := range append(pagePaths, "/login", "/static/console.css") {
		if a := c.get(p); a.code != http.StatusNotFound {
			t.Errorf("GET %s without a token: %d, want 404", p, a.code)
		}
	}
	for _, p := range []string{"/login", "/logout", "/runs/3/apply"} {
		if a := c.do("POST", p, url.Values{"token": {""}}, nil); a.code != http.StatusNotFound {
			t.Errorf("POST %s without a token: %d, want 404", p, a.code)
		}
	}
}

func TestPagesNeedSignIn(t *testing.T) {
	t.Parallel()
	c, _, ap := setup(t, false, nil)
	for _, p := range pagePaths {
		a := c.get(p)
		if a.code != http.StatusSeeOther || a.header.Get("Location") != "/login" {
			t.Errorf("GET %s signed out: %d %q, want 303 to /login", p, a.code, a.header.Get("Location"))
		}
		if strings.Contains(a.body, "Research") {
			t.Errorf("GET %s signed out shows data", p)
		}
	}
	if a := c.do("POST", "/runs/3/apply", url.Values{"csrf": {"x"}}, nil); a.code != http.StatusForbidden {
		t.Errorf("POST apply signed out: %d, want 403", a.code)
	}
	if len(ap.Calls()) != 0 {
		t.Errorf("apply called signed out: %v", ap.Calls())
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		c, _, _ := setup(t, tls, nil)

		if a := c.signIn("wrong-token-wrong-token-wrong"); a.code != http.StatusUnauthorized || len(a.header.Values("Set-Cookie")) != 0 {
			t.Errorf("wrong token: %d, cookies %q", a.code, a.header.Values("Set-Cookie"))
		}
		if a := c.get("/"); a.code != http.StatusSeeOther {
			t.Errorf("after a wrong token GET /: %d, want 303", a.code)
		}
		// A sign-in form without its CSRF token is refused, right token
		// or not.
		if a := c.do("POST", "/login", url.Values{"token": {testToken}}, nil); a.code != http.StatusForbidden || len(a.header.Values("Set-Cookie")) != 0 {
			t.Errorf("sign-in without csrf: %d, cookies %q", a.code, a.header.Values("Set-Cookie"))
		}

		a := c.signIn(testToken)
		if a.code != http.StatusSeeOther || a.header.Get("Location") != "/" {
			t.Fatalf("sign-in: %d %q\n%s", a.code, a.header.Get("Location"), a.body)
		}
		ck := a.header.Get("Set-Cookie")
		for _, want := range []string{sessionCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} {
			if !strings.Contains(ck, want) {
				t.Errorf("session cookie %q lacks %s", ck, want)
			}
		}
		if strings.Contains(ck, "Secure") != tls {
			t.Errorf("TLS %v: session cookie %q (Secure only over TLS)", tls, ck)
		}
		if strings.Contains(ck, testToken) || strings.Contains(ck, url.QueryEscape(testToken)) {
			t.Errorf("the session cookie holds the token: %q", ck)
		}
		for _, p := range pagePaths {
			if a := c.get(p); a.code != http.StatusOK {
				t.Errorf("TLS %v: GET %s signed in: %d\n%s", tls, p, a.code, a.body)
			}
		}
		if a := c.get("/login"); a.code != http.StatusSeeOther {
			t.Errorf("GET /login signed in: %d, want 303 to /", a.code)
		}
	}
}

func TestSignOutAndExpiry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var clock = func() time.Time { return now }
	c, _, _ := setup(t, false, func(o *Options) { o.Now = func() time.Time { return clock() } })
	c.signIn(testToken)
	page := c.get("/")
	if page.code != 200 {
		t.Fatalf("GET /: %d", page.code)
	}
	// Sign-out without the CSRF token does nothing.
	if a := c.do("POST", "/logout", url.Values{}, nil); a.code != http.StatusForbidden {
		t.Errorf("sign-out without csrf: %d, want 403", a.code)
	}
	// A copy of the cookie taken before sign-out stops working with it.
	stolen := c.http.Jar.Cookies(mustURL(t, c.base))
	a := c.do("POST", "/logout", url.Values{"csrf": {csrfOf(t, page.body)}}, nil)
	if a.code != http.StatusSeeOther || a.header.Get("Location") != "/login" || !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign-out: %d %q %q", a.code, a.header.Get("Location"), a.header.Get("Set-Cookie"))
	}
	c.http.Jar.SetCookies(mustURL(t, c.base), stolen)
	if a := c.get("/"); a.code != http.StatusSeeOther {
		t.Errorf("a signed-out session still works: %d", a.code)
	}

	// Sessions expire.
	c2, _, _ := setup(t, false, func(o *Options) { o.Now = func() time.Time { return clock() }; o.SessionTTL = time.Hour })
	c2.signIn(testToken)
	if a := c2.get("/"); a.code != 200 {
		t.Fatalf("fresh session: %d", a.code)
	}
	clock = func() time.Time { return now.Add(time.Hour + time.Second) }
	if a := c2.get("/"); a.code != http.StatusSeeOther {
		t.Errorf("expired session: %d, want 303", a.code)
	}
}

func TestForgedSessionCookie(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, false, nil)
	// Signed with another token: another skillsync's cookie, or a forgery.
	other := newSessions("another-token-another-token", time.Hour, time.Now)
	forged, _ := other.sign("session", time.Hour)
	// A login-form token is signed by us, but for another purpose.
	ours := newSessions(testToken, time.Hour, time.Now)
	login, _ := ours.sign("login", time.Hour)
	for _, v := range []string{forged, login, "x", "a.b", ""} {
		c.http.Jar.SetCookies(mustURL(t, c.base), []*http.Cookie{{Name: sessionCookie, Value: v}})
		if a := c.get("/"); a.code != http.StatusSeeOther {
			t.Errorf("cookie %q: %d, want 303", v, a.code)
		}
	}
}

func TestApplyNeedsCSRF(t *testing.T) {
	t.Parallel()
	c, _, ap := setup(t, false, nil)
	c.signIn(testToken)
	page := c.get("/runs/3")
	token := csrfOf(t, page.body)
	for name, tc := range map[string]struct {
		form   url.Values
		header map[string]string
	}{
		"no token":       {url.Values{}, nil},
		"wrong token":    {url.Values{"csrf": {token[:len(token)-2] + "AA"}}, nil},
		"login token":    {url.Values{"csrf": {csrfOf(t, c.signInForm())}}, nil},
		"another origin": {url.Values{"csrf": {token}}, map[string]string{"Origin": "https://evil.example"}},
	} {
		a := c.do("POST", "/runs/3/apply", tc.form, tc.header)
		if a.code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, a.code)
		}
	}
	if calls := ap.Calls(); len(calls) != 0 {
		t.Fatalf("apply called without a valid CSRF token: %v", calls)
	}
	a := c.do("POST", "/runs/3/apply", url.Values{"csrf": {token}}, map[string]string{"Origin": c.base})
	if a.code != http.StatusSeeOther || a.header.Get("Location") != "/runs/101?approved=3" {
		t.Fatalf("apply: %d %q\n%s", a.code, a.header.Get("Location"), a.body)
	}
	if calls := ap.Calls(); len(calls) != 1 || calls[0] != "3 by token" {
		t.Errorf("apply calls %v, want [3 by token]", calls)
	}
	res := c.get("/runs/101?approved=3")
	if !strings.Contains(res.body, "Approved: this run applied the plan of run 3") || !strings.Contains(res.body, "approved by token") {
		t.Errorf("the approval run's page does not say what it applied:\n%s", res.body)
	}
}

// signInForm returns a fresh sign-in form (its token is for sign-in only).
func (c *client) signInForm() string {
	jar := c.http.Jar
	c.http.Jar = nil
	defer func() { c.http.Jar = jar }()
	return c.get("/login").body
}

func TestApplyButton(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, false, nil)
	c.signIn(testToken)
	if a := c.get("/runs/3"); !strings.Contains(a.body, "Apply this plan") {
		t.Errorf("an applicable plan has no Apply button")
	}
	a := c.get("/runs/2")
	if strings.Contains(a.body, "Apply this plan") || !strings.Contains(a.body, "older than sync.plan_max_age") {
		t.Errorf("a stale plan: the button shows, or the reason does not:\n%s", a.body)
	}
	if a := c.get("/runs/1"); strings.Contains(a.body, "Apply this plan") {
		t.Errorf("a run without a plan has an Apply button")
	}

	// Without an apply function (a build that cannot apply stored plans),
	// neither button nor action.
	c2, _, _ := setup(t, false, func(o *Options) { o.Apply = nil })
	c2.signIn(testToken)
	page := c2.get("/runs/3")
	if strings.Contains(page.body, "Apply this plan") {
		t.Errorf("Apply button without an apply function")
	}
	if a := c2.do("POST", "/runs/3/apply", url.Values{"csrf": {csrfOf(t, page.body)}}, nil); a.code != http.StatusNotFound {
		t.Errorf("apply without an apply function: %d, want 404", a.code)
	}
}

func TestApplyStaleShowsWhy(t *testing.T) {
	t.Parallel()
	c, _, ap := setup(t, false, func(o *Options) { o.UserHeader = "X-Forwarded-User" })
	ap.err = errors.New("plan 3 is stale: the LivePerson skills revision changed; run skillsync plan again")
	c.signIn(testToken)
	page := c.get("/runs/3")
	a := c.do("POST", "/runs/3/apply", url.Values{"csrf": {csrfOf(t, page.body)}}, map[string]string{"X-Forwarded-User": "alice@example.com"})
	if a.code != http.StatusConflict || !strings.Contains(a.body, "Nothing was applied: plan 3 is stale") {
		t.Errorf("stale apply: %d\n%s", a.code, a.body)
	}
	if calls := ap.Calls(); len(calls) != 1 || calls[0] != "3 by alice@example.com" {
		t.Errorf("apply calls %v, want the proxy's user", calls)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, false, nil)
	check := func(path string, a answer) {
		t.Helper()
		if got := a.header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", path, got)
		}
		if a.header.Get("X-Frame-Options") != "DENY" || a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, a.header)
		}
	}
	for _, p := range []string{"/login", "/static/console.css", "/nope"} {
		check(p, c.get(p))
	}
	c.signIn(testToken)
	for _, p := range pagePaths {
		a := c.get(p)
		check(p, a)
		if a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", p, a.header.Get("Cache-Control"))
		}
	}
	// The policy allows no script at all and nothing from another host.
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("CSP lacks %s", want)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") || strings.Contains(ContentSecurityPolicy, "script-src") {
		t.Errorf("CSP allows scripts: %s", ContentSecurityPolicy)
	}
}

// Pages hold no script, no inline style and no reference to another host:
// what the CSP would block must not be needed.
func TestPagesAreSelfContained(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, false, nil)
	external := regexp.MustCompile(`(?i)(src|href|action)="(https?:)?//`)
	inline := regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=|javascript:`)
	pages := map[string]string{"/login": c.get("/login").body}
	c.signIn(testToken)
	for _, p := range pagePaths {
		pages[p] = c.get(p).body
	}
	for p, body := range pages {
		if m := external.FindString(body); m != "" {
			t.Errorf("%s refers to another host: %s", p, m)
		}
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s has inline script or style: %s", p, m)
		}
		if strings.Contains(body, testToken) {
			t.Errorf("%s shows the token", p)
		}
	}
}

func TestPagesShowData(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, false, func(o *Options) { o.PageSize = 2 })
	c.signIn(testToken)
	for path, wants := range map[string][]string{
		"/": {"default", "12345678", "Refused by a guard", "headcount fell 40%", `href="/runs/3"`, "@every 1h", `href="/pending">1</a>`},
		"/runs/3": {"Sales / Manager", `<span class="sym">&#43;</span>`, `<span class="sym">~</span>`, `<span class="sym">-</span>`,
			"rule department-role, key department-role|Sales|Manager, 6 members: 1001, 1002, 1003, …", "drift",
			`<td class="before">60</td><td class="after">→ 120</td>`, "Pending deletes (delete grace)", "Leaving Team", "Apply this plan"},
		"/runs/1":               {"PUT skills/41", "done", "200", "oncall", "sent"},
		"/runs":                 {`href="/runs/3"`, `href="/runs/2"`, `href="/runs?page=1"`},
		"/runs?page=1":          {`href="/runs/1"`, `href="/runs"`},
		"/runs?outcome=applied": {`href="/runs/1"`},
		"/pending":              {"Leaving Team", "absent from the desired state for 1 of 2 apply runs"},
		"/skills":               {"Research", "department|Research"},
	} {
		a := c.get(path)
		if a.code != 200 {
			t.Errorf("%s: %d", path, a.code)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(a.body, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
	if a := c.get("/runs?page=1"); strings.Contains(a.body, `href="/runs/3"`) {
		t.Errorf("page 1 repeats page 0")
	}
	if a := c.get("/runs?outcome=applied"); strings.Contains(a.body, `href="/runs/3"`) {
		t.Errorf("the outcome filter lets a refused run through")
	}
	if a := c.get("/runs?outcome=bogus"); a.code != http.StatusBadRequest {
		t.Errorf("unknown outcome: %d", a.code)
	}
	if a := c.get("/runs/999"); a.code != http.StatusNotFound {
		t.Errorf("unknown run: %d", a.code)
	}
	if a := c.get("/runs/abc"); a.code != http.StatusNotFound {
		t.Errorf("bad run id: %d", a.code)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSignInMustWaitAfterWrongTokens: past a few wrong tokens, the
// sign-in answers 429 with Retry-After, even to the right token, until the
// wait is over; a success then clears the count.
func TestSignInMustWaitAfterWrongTokens(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var mu gosync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, _, _ := setup(t, false, func(o *Options) { o.Now = clock })
	for i := range authlimit.DefaultFree + 1 {
		if a := c.signIn("wrong-token-wrong-token-wrong"); a.code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i+1, a.code)
		}
	}
	a := c.signIn(testToken)
	if a.code != http.StatusTooManyRequests || a.header.Get("Retry-After") != "1" || len(a.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("right token while waiting: %d, Retry-After %q, cookies %q; want 429, 1, none", a.code, a.header.Get("Retry-After"), a.header.Values("Set-Cookie"))
	}
	if !strings.Contains(a.body, "Too many wrong tokens") {
		t.Errorf("the page does not say why:\n%s", a.body)
	}
	mu.Lock()
	now = now.Add(authlimit.DefaultFirstWait)
	mu.Unlock()
	if a := c.signIn(testToken); a.code != http.StatusSeeOther {
		t.Fatalf("right token after the wait: %d, want 303", a.code)
	}
	c.http.Jar, _ = cookiejar.New(nil) // another browser, same address
	if a := c.signIn("wrong-token-wrong-token-wrong"); a.code != http.StatusUnauthorized {
		t.Errorf("a wrong token after a success: %d, want 401 (the count starts again)", a.code)
	}
}
