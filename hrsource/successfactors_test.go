package hrsource

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeSuccessFactors serves an entity of the SAP SuccessFactors OData v2
// API as SAP documents it:
//
//   - the entity URL https://HOST/odata/v2/User, JSON with $format=json,
//     an entity set as {"d": {"results": [...], "__next": URL}}, every
//     entity with its __metadata, a to-one navigation property expanded
//     as an object, a to-many one as {"results": [...]};
//     "$select" names properties, a navigation path (manager/email)
//     only when $expand names the navigation property:
//     SAP SuccessFactors HXM Suite OData API: Developer Guide,
//     https://help.sap.com/docs/SAP_SUCCESSFACTORS_PLATFORM/d599f15995d348a1b45ba5603e2aba9b
//   - server-side paging: at most 1,000 entities a page and a __next link,
//     absolute (https://apisalesdemo4.successfactors.com:443/odata/v2/User?...&$skiptoken=...)
//     to the next one, none on the last:
//     KBA 2489065, https://userapps.support.sap.com/sap/support/knowledge/en/2489065
//   - snapshot paging (paging=snapshot) and session reuse: the first
//     answer sets a session cookie that later pages may send back:
//     KBA 3308165, https://userapps.support.sap.com/sap/support/knowledge/en/3308165
//   - basic authentication as user@companyId; a wrong password is a 401
//     "[LGN0015]Authentication failed. You have entered an incorrect
//     username or password (status code = 4).":
//     KBA 3290097, https://userapps.support.sap.com/sap/support/knowledge/en/3290097
//     and KBA 2545055 (COE_PROPERTY_NOT_FOUND for an unknown property),
//     https://userapps.support.sap.com/sap/support/knowledge/en/2545055
//   - errors as OData v2 JSON, {"error": {"code": ..., "message":
//     {"lang": ..., "value": ...}}}, the code repeated in the message:
//     KBA 2524436, https://apps.support.sap.com/sap/support/knowledge/public/E/2524436
//   - throttling: 429 Too Many Requests with Retry-After (300 s
//     recommended): KBA 3159263, https://userapps.support.sap.com/sap/support/knowledge/en/3159263
//   - OAuth 2.0 through SAP Cloud Identity Services (OpenID Connect), a
//     token from the client credentials grant sent as a bearer token:
//     KBA 3681224, https://userapps.support.sap.com/sap/support/knowledge/en/3681224
type fakeSuccessFactors struct {
	user, password string
	// ias, when set, is the identity service whose tokens are accepted
	// instead of basic authentication.
	ias      *fakeToken
	users    []map[string]any
	pageSize int
	// fault, when set and returning true, has answered instead.
	fault func(w http.ResponseWriter, r *http.Request, n int) bool

	log requestLog
	// cookies counts the page requests after the first that sent the
	// session cookie back.
	cookies int
}

const sfPath = "/odata/v2/User"

func (f *fakeSuccessFactors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth2/token" && f.ias != nil {
		f.ias.ServeHTTP(w, r)
		return
	}
	n := f.log.add(r)
	if f.fault != nil && f.fault(w, r, n) {
		return
	}
	if r.URL.Path != sfPath {
		sfError(w, http.StatusNotFound, "COE_ENTITY_NOT_FOUND", "Invalid entity (or function) name")
		return
	}
	if f.ias != nil {
		if !f.ias.valid(r.Header.Get("Authorization")) {
			sfError(w, http.StatusUnauthorized, "LGN0007", "[LGN0007]Invalid OAuth token. Please validate the value for your OAuth token.")
			return
		}
	} else if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.password {
		sfError(w, http.StatusUnauthorized, "LGN0015", "[LGN0015]Authentication failed. You have entered an incorrect username or password (status code = 4).")
		return
	}
	q := r.URL.Query()
	if q.Get("$format") != "json" {
		w.Header().Set("Content-Type", "application/atom+xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>`)
		return
	}
	var sel [][]string
	for item := range strings.SplitSeq(q.Get("$select"), ",") {
		if item != "" {
			sel = append(sel, strings.Split(item, "/"))
		}
	}
	expanded := strings.Split(q.Get("$expand"), ",")
	for _, p := range sel {
		if !sfKnown(f.users[0], p) {
			sfError(w, http.StatusBadRequest, "COE_PROPERTY_NOT_FOUND", "[COE0021]Invalid property names: User/"+strings.Join(p, "/")+". Please check the property names.")
			return
		}
		if len(p) > 1 && !slices.Contains(expanded, strings.Join(p[:len(p)-1], "/")) {
			sfError(w, http.StatusBadRequest, "COE_GENERAL_BAD_REQUEST", "[COE0019]Navigation property "+strings.Join(p[:len(p)-1], "/")+" is selected but not expanded.")
			return
		}
	}
	start := 0
	if tok := q.Get("$skiptoken"); tok != "" {
		b, _ := base64.StdEncoding.DecodeString(tok)
		start, _ = strconv.Atoi(string(b))
		if c, err := r.Cookie("JSESSIONID"); err == nil && c.Value == "sf-session-1" {
			f.log.mu.Lock()
			f.cookies++
			f.log.mu.Unlock()
		}
	} else {
		http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "sf-session-1", Path: "/", Secure: true, HttpOnly: true})
	}
	end := min(start+f.pageSize, len(f.users))
	results := make([]map[string]any, 0, end-start)
	for _, u := range f.users[start:end] {
		results = append(results, sfProject(u, sel))
	}
	d := map[string]any{"results": results}
	if end < len(f.users) {
		next := url.Values{"$format": {"json"}, "$select": {q.Get("$select")}, "$skiptoken": {base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(end)))}}
		if e := q.Get("$expand"); e != "" {
			next.Set("$expand", e)
		}
		d["__next"] = "https://" + r.Host + sfPath + "?" + next.Encode()
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"d": d})
}

// sfKnown says whether the property path exists in the model entity.
func sfKnown(e map[string]any, p []string) bool {
	v, ok := e[p[0]]
	if !ok {
		return false
	}
	if len(p) == 1 {
		return true
	}
	switch nv := v.(type) {
	case map[string]any:
		return sfKnown(nv, p[1:])
	case []map[string]any:
		return len(nv) > 0 && sfKnown(nv[0], p[1:])
	}
	return false
}

// sfProject keeps the selected properties of an entity, expanding the
// navigation properties on the way.
func sfProject(e map[string]any, sel [][]string) map[string]any {
	out := map[string]any{"__metadata": e["__metadata"]}
	for _, p := range sel {
		sfProjectInto(out, e, p)
	}
	return out
}

func sfProjectInto(dst, src map[string]any, p []string) {
	v := src[p[0]]
	if len(p) == 1 {
		dst[p[0]] = v
		return
	}
	switch nv := v.(type) {
	case map[string]any: // to-one: the entity itself
		sub, _ := dst[p[0]].(map[string]any)
		if sub == nil {
			sub = map[string]any{"__metadata": nv["__metadata"]}
			dst[p[0]] = sub
		}
		sfProjectInto(sub, nv, p[1:])
	case []map[string]any: // to-many: {"results": [...]}
		wrap, _ := dst[p[0]].(map[string]any)
		if wrap == nil {
			items := make([]map[string]any, len(nv))
			for i, item := range nv {
				items[i] = map[string]any{"__metadata": item["__metadata"]}
			}
			wrap = map[string]any{"results": items}
			dst[p[0]] = wrap
		}
		for i, item := range nv {
			sfProjectInto(wrap["results"].([]map[string]any)[i], item, p[1:])
		}
	case nil:
		dst[p[0]] = nil
	}
}

func sfError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": map[string]string{"lang": "en-US", "value": msg}}})
}

func sfUser(id, status, email, division, managerEmail, department string) map[string]any {
	u := map[string]any{
		"__metadata": map[string]string{"uri": "https://api4.successfactors.com/odata/v2/User('" + id + "')", "type": "SFOData.User"},
		"userId":     id, "status": status, "email": email, "division": division, "costCenter": "CC1",
		"empInfo": map[string]any{
			"__metadata": map[string]string{"type": "SFOData.EmpEmployment"},
			"jobInfoNav": []map[string]any{{"__metadata": map[string]string{"type": "SFOData.EmpJob"}, "department": department, "jobTitle": "Agent"}},
		},
	}
	if managerEmail != "" {
		u["manager"] = map[string]any{"__metadata": map[string]string{"type": "SFOData.User"}, "userId": "m-" + id, "email": managerEmail}
	} else {
		u["manager"] = nil
	}
	return u
}

var sfUsers = []map[string]any{
	sfUser("cgrant", "t", "cgrant@acme.com", "Customer Care", "boss@acme.com", "Voice"),
	sfUser("dlee", "t", "dlee@acme.com", "Customer Care", "boss@acme.com", "Chat"),
	sfUser("efox", "f", "efox@acme.com", "Sales", "", "Sales"),
	sfUser("gkim", "t", "gkim@acme.com", "Sales", "head@acme.com", "Sales"),
	sfUser("hng", "t", "hng@acme.com", "Customer Care", "boss@acme.com", "Voice"),
}

func sfConfig() Config {
	return Config{
		Type:    TypeSuccessFactors,
		URL:     sfPath + "?paging=snapshot",
		Filter:  "status in 't','f'",
		Auth:    AuthConfig{Method: AuthBasic, Username: "sfapi@ACME", Password: "sf-password-a81f"},
		Fields:  FieldsConfig{ID: "userId", Email: "email"},
		Active:  `status == "t"`,
		Columns: map[string]string{"Department": "empInfo/jobInfoNav/results/0/department"},
	}
}

func TestSuccessFactors(t *testing.T) {
	t.Parallel()
	f := &fakeSuccessFactors{user: "sfapi@ACME", password: "sf-password-a81f", users: sfUsers, pageSize: 2}
	srv := fakeServer(t, f)
	// The rules read {{ .division }} and manager.email.
	snap, err := readVendor(t, srv, sfConfig(), []string{"division", "manager.email"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(snap.Records); !slices.Equal(got, []string{"cgrant", "dlee", "efox", "gkim", "hng"}) {
		t.Errorf("ids = %q", got)
	}
	if got := activeIDs(snap.Records); !slices.Equal(got, []string{"cgrant", "dlee", "gkim", "hng"}) {
		t.Errorf("active = %q", got)
	}
	r := snap.Records[3]
	if r.Email != "gkim@acme.com" || r.Origin != "page 2: d.results[1]" {
		t.Errorf("record 3 = %+v", r)
	}
	for col, want := range map[string]string{"Department": "Sales", "manager.email": "head@acme.com", "division": "Sales"} {
		if v, _ := r.Attr(col); v != want {
			t.Errorf("%s = %q, want %q", col, v, want)
		}
	}
	if env := r.Env(); env["manager"].(map[string]any)["email"] != "head@acme.com" {
		t.Errorf("env manager = %v", env["manager"])
	}
	if f.log.count() != 3 {
		t.Errorf("%d requests, want 3 pages", f.log.count())
	}
	req, _ := f.log.at(0)
	q := req.URL.Query()
	if got := q.Get("$select"); got != "Department,division,email,empInfo/jobInfoNav/department,manager/email,status,userId"[len("Department,"):] {
		t.Errorf("$select = %q", got)
	}
	if got := q.Get("$expand"); got != "empInfo/jobInfoNav,manager" {
		t.Errorf("$expand = %q", got)
	}
	if q.Get("$filter") != "status in 't','f'" || q.Get("paging") != "snapshot" || q.Get("$format") != "json" {
		t.Errorf("query = %v", q)
	}
	if f.cookies != 2 {
		t.Errorf("%d of 2 later pages sent the session cookie back", f.cookies)
	}
}

func TestSuccessFactorsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      func(*Config)
		columns  []string
		fault    func(w http.ResponseWriter, r *http.Request, n int) bool
		want     []string
		problems []want
		requests int
	}{
		{
			name: "401: a wrong password is not retried",
			cfg:  func(c *Config) { c.Auth.Password = "wrong-password-0a4e" },
			want: []string{
				"SuccessFactors: GET https://127.0.0.1:", sfPath + "?$expand=…&$filter=…&$format=…&$select=…&paging=…",
				`401 Unauthorized ("[LGN0015]Authentication failed. You have entered an incorrect username or password (status code = 4).")`,
				"check hr.auth: basic takes user@companyId",
			},
			requests: 1,
		},
		{
			name:     "a property SuccessFactors does not have",
			columns:  []string{"costCentre"},
			want:     []string{`400 Bad Request ("COE_PROPERTY_NOT_FOUND: [COE0021]Invalid property names: User/costCentre. Please check the property names.")`},
			requests: 1,
		},
		{
			name: "an empty page in the middle",
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n != 2 {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"d": {"results": [], "__next": "https://%s%s?$format=json&$skiptoken=NA=="}}`, r.Host, sfPath)
				return true
			},
			problems: []want{{"page 2", []string{"no records, yet it links to a next page", "refused rather than read as everyone after it having left"}}},
			requests: 2,
		},
		{
			name:     "more pages than hr.max_pages",
			cfg:      func(c *Config) { c.MaxPages = 2 },
			want:     []string{"more than 2 pages (hr.max_pages) and the feed goes on: nothing was used"},
			requests: 2,
		},
		{
			name:     "more bytes than hr.max_bytes",
			cfg:      func(c *Config) { c.MaxBytes = 1000 },
			want:     []string{"the feed is larger than 1000B (hr.max_bytes) at page 2: nothing was used"},
			requests: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSuccessFactors{user: "sfapi@ACME", password: "sf-password-a81f", users: sfUsers, pageSize: 2, fault: tt.fault}
			srv := fakeServer(t, f)
			cfg := sfConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			var logs syncBuffer
			snap, err := readVendor(t, srv, cfg, tt.columns, &logs)
			if err == nil || snap != nil {
				t.Fatalf("read = %v, %v; want an error and no snapshot", snap, err)
			}
			if tt.problems != nil {
				checkProblems(t, err, tt.problems)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			basic := base64.StdEncoding.EncodeToString([]byte("sfapi@ACME:sf-password-a81f"))
			checkNoSecret(t, err.Error()+logs.String(), "sf-password-a81f", "wrong-password-0a4e", basic)
			if got := f.log.count(); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
		})
	}
}

// TestSuccessFactorsThrottled is answered 429 with Retry-After: 1 on its
// second page: the read waits that second, goes on and gets everyone.
func TestSuccessFactorsThrottled(t *testing.T) {
	t.Parallel()
	f := &fakeSuccessFactors{user: "sfapi@ACME", password: "sf-password-a81f", users: sfUsers, pageSize: 2}
	f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n != 2 {
			return false
		}
		w.Header().Set("Retry-After", "1")
		sfError(w, http.StatusTooManyRequests, "API_RATE_LIMIT", "Too many requests")
		return true
	}
	srv := fakeServer(t, f)
	snap, err := readVendor(t, srv, sfConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 5 || f.log.count() != 4 {
		t.Fatalf("%d records after %d requests", len(snap.Records), f.log.count())
	}
	_, throttled := f.log.at(1)
	_, retried := f.log.at(2)
	if gap := retried.Sub(throttled); gap < time.Second {
		t.Errorf("retried after %s, before the second Retry-After asked for", gap)
	}
}

// TestSuccessFactorsOIDC reads with a token of SAP Cloud Identity
// Services' client credentials grant (here served by the fake's host).
func TestSuccessFactorsOIDC(t *testing.T) {
	t.Parallel()
	ias := &fakeToken{clientID: "sf-oidc-client", clientSecret: "ias-secret-19c2", expiresIn: 3600}
	f := &fakeSuccessFactors{ias: ias, users: sfUsers, pageSize: 2}
	srv := fakeServer(t, f)
	cfg := sfConfig()
	cfg.Auth = AuthConfig{Method: AuthOAuth2ClientCredentials, ClientID: "sf-oidc-client", ClientSecret: "ias-secret-19c2", TokenURL: "/oauth2/token"}
	snap, err := readVendor(t, srv, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 5 || f.log.count() != 3 || ias.count() != 1 {
		t.Errorf("%d records, %d page requests, %d tokens", len(snap.Records), f.log.count(), ias.count())
	}
}

// TestSameOrigin: SuccessFactors' __next links spell the default port out.
func TestSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		same bool
	}{
		{"https://api4.successfactors.com/odata/v2/User", "https://api4.successfactors.com:443/odata/v2/User?$skiptoken=x", true},
		{"https://API4.successfactors.com/x", "https://api4.successfactors.com/y", true},
		{"https://h:8443/x", "https://h/x", false},
		{"https://h/x", "http://h/x", false},
		{"https://h/x", "https://evil.example/x", false},
	}
	for _, tt := range tests {
		a, _ := url.Parse(tt.a)
		b, _ := url.Parse(tt.b)
		if got := sameOrigin(a, b); got != tt.same {
			t.Errorf("sameOrigin(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}
