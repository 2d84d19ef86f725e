package lpsim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestDomainAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	host := strings.TrimPrefix(e.srv.URL(), "https://")
	base := "/api/account/" + testAccount + "/service/"
	tests := []struct {
		name string
		path string
		want int
	}{
		{"read-only", base + "accountConfigReadOnly/baseURI.json?version=1.0", 200},
		{"read-write", base + "accountConfigReadWrite/baseURI.json?version=1.0", 200},
		{"sentinel", base + "sentinel/baseURI.json?version=1.0", 200},
		{"agentVep", base + "agentVep/baseURI.json?version=1.0", 200},
		{"case-sensitive name", base + "accountconfigreadonly/baseURI.json?version=1.0", 400},
		{"unknown service", base + "nope/baseURI.json?version=1.0", 400},
		{"version missing", base + "sentinel/baseURI.json", 400},
		{"unknown account", "/api/account/1/service/sentinel/baseURI.json?version=1.0", 401},
	}
	for _, tt := range tests {
		r := e.do(req{method: "GET", path: tt.path, noAuth: true})
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
			continue
		}
		if tt.want == 200 {
			var got baseURI
			r.json(t, &got)
			if got.BaseURI != host || got.Account != testAccount || !strings.Contains(tt.path, "/"+got.Service+"/") {
				t.Errorf("%s: %+v, want baseURI %s", tt.name, got, host)
			}
		}
	}
	r := e.do(req{method: "GET", path: base + "baseURI.json?version=1.0", noAuth: true})
	e.mustStatus(r, 200)
	var all struct{ BaseURIs []baseURI }
	r.json(t, &all)
	seen := map[string]bool{}
	for _, b := range all.BaseURIs {
		if b.BaseURI != host {
			t.Errorf("%+v: want host %s", b, host)
		}
		seen[b.Service] = true
	}
	for _, s := range []string{"accountConfigReadOnly", "accountConfigReadWrite", "sentinel", "agentVep"} {
		if !seen[s] {
			t.Errorf("all services lacks %s", s)
		}
	}
}

func TestSentinelToken(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	e := setup(t, func(o *Options) {
		o.TokenTTL = 10 * time.Minute
		o.Now = func() time.Time { return time.Unix(now.Load(), 0) }
	})
	tokenURL := e.srv.URL() + "/sentinel/api/v2/account/" + testAccount + "/app/token"
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.c)

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader, oauth2.AuthStyleAutoDetect} {
		cc := clientcredentials.Config{ClientID: "client-1", ClientSecret: "s3cret&+/=", TokenURL: tokenURL, AuthStyle: style, Scopes: []string{"users.read"}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
			t.Errorf("style %d: token %+v", style, tok)
		}
		claims := jwtClaims(t, tok.AccessToken)
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 600 {
			t.Errorf("exp-iat = %v, want 600", exp-iat)
		}
	}
	bad := clientcredentials.Config{ClientID: "client-1", ClientSecret: "wrong", TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}
	_, err := bad.Token(ctx)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != 401 || re.ErrorCode != "invalid_client" {
		t.Errorf("bad secret: %v", err)
	}
	// Wrong grant type, wrong content type, other account.
	for _, tt := range []struct {
		name, path, ct, body string
		want                 int
	}{
		{"grant", "/sentinel/api/v2/account/" + testAccount + "/app/token", "application/x-www-form-urlencoded", "grant_type=password&client_id=client-1&client_secret=s3cret%26%2B%2F%3D", 400},
		{"json body", "/sentinel/api/v2/account/" + testAccount + "/app/token", "application/json", `{}`, 400},
		{"account", "/sentinel/api/v2/account/1/app/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=client-1&client_secret=s3cret%26%2B%2F%3D", 401},
	} {
		r := e.do(req{method: "POST", path: tt.path, body: tt.body, noAuth: true, header: map[string]string{"Content-Type": tt.ct}})
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, r.status, tt.want)
		}
	}

	// The token works until TokenTTL has passed.
	tok := e.sentinelToken()
	get := func() int {
		return e.do(req{method: "GET", path: skillsPath + "?v=4.0", noAuth: true, header: map[string]string{"Authorization": "Bearer " + tok}}).status
	}
	if s := get(); s != 200 {
		t.Fatalf("fresh token: %d", s)
	}
	now.Add(int64(10 * time.Minute / time.Second))
	if s := get(); s != 401 {
		t.Errorf("expired token: %d, want 401", s)
	}
	// ExpireTokens ends tokens early.
	tok = e.sentinelToken()
	e.sim.ExpireTokens()
	if s := get(); s != 401 {
		t.Errorf("after ExpireTokens: %d, want 401", s)
	}
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestLoginService(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	e := setup(t, func(o *Options) {
		o.TokenTTL = 8 * time.Hour
		o.Now = func() time.Time { return time.Unix(now.Load(), 0) }
	})
	acc := "/api/account/" + testAccount
	logins := []struct {
		name string
		body map[string]any
		want int
	}{
		{"user", map[string]any{"username": "bot", "password": "pw"}, 200},
		{"app oauth1", map[string]any{"username": "bot", "appKey": "app-key", "secret": "consumer-secret", "accessToken": "access-token", "accessTokenSecret": "token-secret"}, 200},
		{"app oauth2 bot", map[string]any{"username": "bot", "appKey": "client-1", "secret": "s3cret&+/=", "accessToken": "dummy", "accessTokenSecret": "dummy"}, 200},
		{"wrong password", map[string]any{"username": "bot", "password": "nope"}, 401},
		{"wrong user", map[string]any{"username": "other", "password": "pw"}, 401},
		{"wrong app secret", map[string]any{"username": "bot", "appKey": "app-key", "secret": "x", "accessToken": "access-token", "accessTokenSecret": "token-secret"}, 401},
		{"no username", map[string]any{"password": "pw"}, 400},
	}
	for _, tt := range logins {
		r := e.do(req{method: "POST", path: acc + "/login?v=1.3", body: tt.body, noAuth: true})
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, r.status, tt.want)
		}
	}
	e.mustStatus(e.do(req{method: "POST", path: acc + "/login", body: logins[0].body, noAuth: true}), 400)

	// A full session with a cookie jar, as a client would hold it.
	jar, _ := cookiejar.New(nil)
	c := *e.c
	c.Jar = jar
	post := func(path string, body any, auth string) (int, []byte) {
		raw, _ := json.Marshal(body)
		r, _ := http.NewRequest("POST", e.srv.URL()+path, strings.NewReader(string(raw)))
		r.Header.Set("Content-Type", "application/json")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		res, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, b
	}
	status, body := post(acc+"/login?v=1.3", logins[0].body, "")
	if status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	var login struct {
		Bearer, CSRF string
		SessionTTl   string
	}
	if err := json.Unmarshal(body, &login); err != nil {
		t.Fatal(err)
	}
	if login.Bearer == "" || login.CSRF == "" || login.SessionTTl != "28800000" {
		t.Fatalf("login response %s", body)
	}
	u, _ := url.Parse(e.srv.URL())
	if cs := jar.Cookies(u); len(cs) != 1 || cs[0].Name != "Session_id" {
		t.Fatalf("cookies %v", cs)
	}
	skills := func() int {
		return e.do(req{method: "GET", path: skillsPath + "?v=4.0", noAuth: true, header: map[string]string{"Authorization": "Bearer " + login.Bearer}}).status
	}
	if s := skills(); s != 200 {
		t.Fatalf("bearer: %d", s)
	}
	// Bad csrf: 401 with internalCode 10.
	status, body = post(acc+"/refresh", map[string]string{"csrf": "wrong"}, "")
	if status != 401 || !strings.Contains(string(body), `"internalCode":10`) {
		t.Errorf("bad csrf: %d %s", status, body)
	}
	// Refresh extends the session past its first expiry.
	now.Add(int64(7 * time.Hour / time.Second))
	if status, body = post(acc+"/refresh", map[string]string{"csrf": login.CSRF}, ""); status != 200 || len(body) != 0 {
		t.Errorf("refresh: %d %s", status, body)
	}
	now.Add(int64(7 * time.Hour / time.Second))
	if s := skills(); s != 200 {
		t.Errorf("after refresh: %d", s)
	}
	// Logout ends it.
	if status, _ = post(acc+"/logout", map[string]string{"csrf": login.CSRF}, ""); status != 200 {
		t.Errorf("logout: %d", status)
	}
	if s := skills(); s != 401 {
		t.Errorf("after logout: %d, want 401", s)
	}
	if status, _ = post(acc+"/refresh", map[string]string{"csrf": login.CSRF}, ""); status != 401 {
		t.Errorf("refresh after logout: %d, want 401", status)
	}
	// A session lapses after TokenTTL without refresh.
	status, body = post(acc+"/login?v=1.3", logins[1].body, "")
	if status != 200 {
		t.Fatal(status)
	}
	_ = json.Unmarshal(body, &login)
	now.Add(int64(8 * time.Hour / time.Second))
	if s := skills(); s != 401 {
		t.Errorf("lapsed session: %d, want 401", s)
	}
}

// TestOAuth1RFCBaseString checks the signature base string against RFC 5849
// §3.4.1.1, built from the request of §3.1 (query, form body and header
// parameters, realm excluded, "+" in the body decoded as a space).
func TestOAuth1RFCBaseString(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", strings.NewReader("c2&a3=2+q"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", `OAuth realm="Example",
                oauth_consumer_key="9djdj82h48djs9d2",
                oauth_token="kkk9d7dh3k39sjv7",
                oauth_signature_method="HMAC-SHA1",
                oauth_timestamp="137131201",
                oauth_nonce="7d8f3e4a",
                oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D"`)
	const want = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
		"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9dj" +
		"dj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1" +
		"%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
	params, err := requestParams(r)
	if err != nil {
		t.Fatal(err)
	}
	hp, err := parseOAuthHeader(strings.ReplaceAll(r.Header.Get("Authorization"), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hp {
		if k != "realm" && k != "oauth_signature" {
			params = append(params, [2]string{k, vs[0]})
		}
	}
	if got := signatureBaseString(r.Method, baseStringURI(r), params); got != want {
		t.Errorf("base string\n got %s\nwant %s", got, want)
	}
	// The body is still there for the handler.
	if b, _ := io.ReadAll(r.Body); string(b) != "c2&a3=2+q" {
		t.Errorf("body after verification: %q", b)
	}
}

// TestOAuth1RFCSignature verifies requests whose signatures were computed
// elsewhere. RFC 5849 §1.2 publishes every secret and the signature of its
// final request, so the verifier must accept it. §3.1 publishes no secrets;
// its request is checked with the secrets OAuth test suites use for it and
// the signature they give (r6/TJjbCOr97/+UU0NsvSne7s5g=), since the RFC's
// own value (bYT5...) cannot be reproduced without them.
func TestOAuth1RFCSignature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   Options
		now    int64
		method string
		url    string
		ct     string
		body   string
		auth   string
	}{
		{
			name: "RFC 5849 section 1.2",
			opts: Options{AppKey: "dpf43f3p2l4k3l03", Secret: "kd94hf93k423kf44", AccessToken: "nnch734d00sl2jdk", AccessTokenSecret: "pfkkdhi9sl3r4s00"},
			now:  137131202, method: "GET", url: "http://photos.example.net/photos?file=vacation.jpg&size=original",
			auth: `OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"`,
		},
		{
			name: "RFC 5849 section 3.1 request",
			opts: Options{AppKey: "9djdj82h48djs9d2", Secret: "j49sk3j29djd", AccessToken: "kkk9d7dh3k39sjv7", AccessTokenSecret: "dh893hdasih9"},
			now:  137131201, method: "POST", url: "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
			ct: "application/x-www-form-urlencoded", body: "c2&a3=2+q",
			auth: `OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="r6%2FTJjbCOr97%2F%2BUU0NsvSne7s5g%3D"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Now = func() time.Time { return time.Unix(tt.now, 0) }
			sim := New(opts)
			mk := func(auth, url string) *http.Request {
				r := httptest.NewRequest(tt.method, url, strings.NewReader(tt.body))
				if tt.ct != "" {
					r.Header.Set("Content-Type", tt.ct)
				}
				r.Header.Set("Authorization", auth)
				return r
			}
			// Tampering first, so the genuine nonce is still unused.
			if err := sim.verifyOAuth1(mk(tt.auth, tt.url+"&extra=1")); err == nil || !strings.Contains(err.Error(), "signature") {
				t.Errorf("tampered query accepted: %v", err)
			}
			if err := sim.verifyOAuth1(mk(tt.auth, strings.Replace(tt.url, "http://", "http://EXAMPLE.org.", 1))); err == nil {
				t.Errorf("other host accepted")
			}
			if err := sim.verifyOAuth1(mk(tt.auth, tt.url)); err != nil {
				t.Fatalf("published signature rejected: %v", err)
			}
			if err := sim.verifyOAuth1(mk(tt.auth, tt.url)); err == nil || !strings.Contains(err.Error(), "nonce") {
				t.Errorf("replay accepted: %v", err)
			}
		})
	}
}

// signOAuth1 signs r like a client would: query signed, JSON body not.
func signOAuth1(r *http.Request, o Options, ts int64, nonce string) {
	oauth := [][2]string{
		{"oauth_consumer_key", o.AppKey},
		{"oauth_token", o.AccessToken},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", strconv.FormatInt(ts, 10)},
		{"oauth_nonce", nonce},
		{"oauth_version", "1.0"},
	}
	params := append([][2]string(nil), oauth...)
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			params = append(params, [2]string{k, v})
		}
	}
	host := r.URL.Host
	base := signatureBaseString(r.Method, r.URL.Scheme+"://"+host+r.URL.EscapedPath(), params)
	sig := signHMACSHA1(base, o.Secret, o.AccessTokenSecret)
	var parts []string
	for _, p := range append(oauth, [2]string{"oauth_signature", sig}) {
		parts = append(parts, p[0]+`="`+percentEncode(p[1])+`"`)
	}
	r.Header.Set("Authorization", "OAuth "+strings.Join(parts, ", "))
}

func TestOAuth1OverHTTPS(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix())
	e := setup(t, func(o *Options) { o.Now = func() time.Time { return time.Unix(now.Load(), 0) } })
	opts := testOptions()
	ids := e.sim.SeedSkills(map[string]any{"name": "a"})
	do := func(method, path string, body string, o Options, ts int64, nonce string, hdr map[string]string) int {
		r, _ := http.NewRequest(method, e.srv.URL()+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		signOAuth1(r, o, ts, nonce)
		res, err := e.c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	ts := now.Load()
	wrongSecret := opts
	wrongSecret.AccessTokenSecret = "nope"
	wrongKey := opts
	wrongKey.AppKey = "other"
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		o      Options
		ts     int64
		nonce  string
		want   int
	}{
		{"list with $all and include_deleted", "GET", skillsPath + "?v=4.0&select=%24all&include_deleted=true", "", opts, ts, "n1", 200},
		{"same nonce again", "GET", skillsPath + "?v=4.0&select=%24all&include_deleted=true", "", opts, ts, "n1", 401},
		{"users", "GET", usersPath + "?v=4.0", "", opts, ts, "n2", 200},
		{"wrong token secret", "GET", skillsPath + "?v=4.0", "", wrongSecret, ts, "n3", 401},
		{"wrong consumer key", "GET", skillsPath + "?v=4.0", "", wrongKey, ts, "n4", 401},
		{"timestamp too old", "GET", skillsPath + "?v=4.0", "", opts, ts - 301, "n5", 401},
		{"timestamp too new", "GET", skillsPath + "?v=4.0", "", opts, ts + 301, "n6", 401},
		{"timestamp at edge", "GET", skillsPath + "?v=4.0", "", opts, ts - 300, "n7", 200},
		{"JSON body not signed", "PUT", skillsPath + "/" + idStr(ids[0]) + "?v=4.0", `{"name":"b"}`, opts, ts, "n8", 200},
	}
	for _, tt := range tests {
		hdr := map[string]string{}
		if tt.method == "PUT" {
			hdr["X-HTTP-Method-Override"] = "PUT"
			hdr["If-Match"] = strconv.FormatInt(e.sim.Revision(), 10)
		}
		if got := do(tt.method, tt.path, tt.body, tt.o, tt.ts, tt.nonce, hdr); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestBaseStringURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		tls  bool
		want string
	}{
		{"http://Example.COM:80/r%20x?a=1", false, "http://example.com/r%20x"},
		{"https://va.ac.liveperson.net:443/api", true, "https://va.ac.liveperson.net/api"},
		{"https://127.0.0.1:8443/api", true, "https://127.0.0.1:8443/api"},
		{"http://127.0.0.1:443/api", false, "http://127.0.0.1:443/api"},
		{"https://[::1]:443/p", true, "https://[::1]/p"},
		{"https://[::1]:8443/p", true, "https://[::1]:8443/p"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.url, nil)
		if !tt.tls {
			r.TLS = nil
		}
		if got := baseStringURI(r); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.url, got, tt.want)
		}
	}
}
