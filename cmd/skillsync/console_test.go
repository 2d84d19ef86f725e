package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/cmd/skillsync/console"
	"github.com/skillsync/skillsync/cmd/skillsync/console/consoletest"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
	"github.com/skillsync/skillsync/sync"
)

// consoleClient is a browser-like HTTP client of the daemon's console:
// cookies kept, redirects not followed.
type consoleClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newConsoleClient(t *testing.T, base string, tr http.RoundTripper) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, c: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in with token and returns the session cookie's header.
func (c *consoleClient) signIn(token string) string {
	c.t.Helper()
	_, form := c.do("GET", "/login", nil)
	m := consoleCSRF.FindStringSubmatch(form)
	if m == nil {
		c.t.Fatalf("no sign-in form:\n%s", form)
	}
	resp, body := c.do("POST", "/login", url.Values{"csrf": {m[1]}, "token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign-in: %d\n%s", resp.StatusCode, body)
	}
	return resp.Header.Get("Set-Cookie")
}

// TestConsoleOnTheDaemon: the daemon serves the console at / beside its
// other endpoints, which keep working as before; the pages show the store's
// runs and never a configured secret.
func TestConsoleOnTheDaemon(t *testing.T) {
	t.Parallel()
	f := setup(t, "run_at_start: true\n")
	d := f.startDaemon(&env{})
	first := d.nextRun()
	if first.Run.Outcome != store.OutcomeApplied {
		t.Fatalf("first run: %+v", first.Run)
	}
	// A run whose recorded error and journal quote the LivePerson secret
	// (a server that repeated it back, stored before redaction existed).
	leaky := recordLeakyRun(t, f.dbURL)

	for _, p := range []string{"/livez", "/readyz", "/status", "/metrics"} {
		if code, body, _ := d.do("GET", p, ""); code != 200 {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	if code, body, _ := d.do("POST", "/v1/runs?mode=plan", testTriggerToken); code != 200 || !strings.Contains(body, `"status": "finished"`) {
		t.Errorf("POST /v1/runs: %d %s", code, body)
	}
	if code, _, _ := d.do("POST", "/v1/runs", "wrong-token-wrong-token"); code != 401 {
		t.Errorf("POST /v1/runs with a wrong token: %d", code)
	}

	c := newConsoleClient(t, "http://"+d.addr, nil)
	if resp, _ := c.do("GET", "/", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET / signed out: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := c.signIn(testTriggerToken)
	if strings.Contains(cookie, "Secure") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Errorf("session cookie over plain HTTP: %q", cookie)
	}
	pages := map[string][]string{
		"/":                    {"12345678", "default", fmt.Sprintf(`href="/runs/%d"`, first.Run.ID), "@every 1h"},
		"/runs":                {fmt.Sprintf(`href="/runs/%d"`, first.Run.ID), "applied", "no_changes"},
		"/runs?outcome=failed": {fmt.Sprintf(`href="/runs/%d"`, leaky)},
		fmt.Sprintf("/runs/%d", first.Run.ID): {"Research &amp; Development", `<span class="sym">&#43;</span>`, "rule department", "members", "Journal", "create",
			"No notification sink is configured"},
		fmt.Sprintf("/runs/%d", leaky): {"[redacted]", "quoted", "<td>oncall</td><td>failed</td><td>queued</td>"},
		"/skills":                      {"Research &amp; Development", "department"},
		"/pending":                     {"Nothing is waiting"},
	}
	for path, wants := range pages {
		resp, body := c.do("GET", path, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d\n%s", path, resp.StatusCode, body)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
		for _, secret := range []string{testClientSecret, testTriggerToken} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s shows a secret", path)
			}
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s has no CSP", path)
		}
	}
}

// TestConsoleApproval: a refused run's stored plan is approved from the
// console (the same approval as skillsync apply), once: a second try
// shows why nothing was applied, and the button is gone.
func TestConsoleApproval(t *testing.T) {
	t.Parallel()
	f := setup(t, "run_at_start: true\nsync: {min_records: 100000}\n")
	d := f.startDaemon(&env{})
	refused := d.nextRun()
	if refused.Run.Outcome != store.OutcomeRefused {
		t.Fatalf("first run: %+v", refused.Run)
	}
	c := newConsoleClient(t, "http://"+d.addr, nil)
	c.signIn(testTriggerToken)
	page := fmt.Sprintf("/runs/%d", refused.Run.ID)
	_, body := c.do("GET", page, nil)
	if !strings.Contains(body, "Apply this plan") {
		t.Fatalf("a refused run's page has no Apply button:\n%s", body)
	}
	csrf := consoleCSRF.FindStringSubmatch(body)[1]
	resp, body := c.do("POST", page+"/apply", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply: %d\n%s", resp.StatusCode, body)
	}
	approval := d.nextRun()
	if approval.Run.Trigger != store.TriggerApproval || approval.Run.Outcome != store.OutcomeApplied ||
		approval.Run.ApprovedRun == nil || *approval.Run.ApprovedRun != refused.Run.ID || approval.Run.ApprovedBy != "token" {
		t.Fatalf("approval run: %+v", approval.Run)
	}
	if want := fmt.Sprintf("/runs/%d?approved=%d", approval.Run.ID, refused.Run.ID); resp.Header.Get("Location") != want {
		t.Errorf("apply leads to %q, want %q", resp.Header.Get("Location"), want)
	}
	_, body = c.do("GET", resp.Header.Get("Location"), nil)
	for _, want := range []string{"Approved: this run applied the plan of run", "approved by token", "applied"} {
		if !strings.Contains(body, want) {
			t.Errorf("the approval run's page lacks %q", want)
		}
	}
	// Again: applied already, nothing written, and no button any more.
	resp, body = c.do("POST", page+"/apply", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "Nothing was applied") || strings.Contains(body, "Apply this plan") {
		t.Errorf("second apply: %d\n%s", resp.StatusCode, body)
	}
	if _, body = c.do("GET", page, nil); !strings.Contains(body, fmt.Sprintf("it was applied by run %d", approval.Run.ID)) {
		t.Errorf("the refused run's page does not say it was applied")
	}
}

// recordLeakyRun records a failed run whose error and journal quote the
// test's LivePerson client secret, and returns its id.
func recordLeakyRun(t *testing.T, dbURL string) int64 {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.JournalAdd(ctx, run.ID, []store.Operation{{Seq: 1, Action: "create", SkillName: "Leak", State: store.OpFailed,
		Request: "POST skills", Error: "the server quoted client_secret=" + testClientSecret}}); err != nil {
		t.Fatal(err)
	}
	run.Outcome, run.Error = store.OutcomeFailed, "token endpoint said: bad secret "+testClientSecret+" quoted"
	if err := st.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnqueueDeliveries(ctx, "12345678", false, []store.NewDelivery{{RunID: run.ID, AccountID: "12345678",
		Sink: "oncall", Event: "failed", Payload: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

func TestConsoleOffWithoutToken(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	d := newDaemon(&app{cfg: &cfg, metrics: newMetrics()}, &env{})
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/", nil), httptest.NewRequest("GET", "/login", nil),
		httptest.NewRequest("POST", "/login", strings.NewReader("token=")), httptest.NewRequest("GET", "/runs/1", nil),
		httptest.NewRequest("GET", "/static/console.css", nil),
	} {
		rec := httptest.NewRecorder()
		d.handler().ServeHTTP(rec, r)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s %s with no trigger_token: %d, want 404", r.Method, r.URL.Path, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	d.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/livez", nil))
	if rec.Code != 200 {
		t.Errorf("/livez: %d", rec.Code)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "skillsync test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestDaemonTLS: with server.tls_cert_file and tls_key_file every endpoint
// is HTTPS, and the console's session cookie is Secure.
func TestDaemonTLS(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	raw, err := os.ReadFile(f.configPath)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(raw), `trigger_token: "${TRIGGER_TOKEN}"}`,
		fmt.Sprintf(`trigger_token: "${TRIGGER_TOKEN}", tls_cert_file: %s, tls_key_file: %s}`, certFile, keyFile), 1)
	if conf == string(raw) {
		t.Fatal("the fixture's server line changed: update this test")
	}
	if err := os.WriteFile(f.configPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := f.startDaemon(&env{})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := newConsoleClient(t, "https://"+d.addr, tr)
	for _, p := range []string{"/livez", "/status", "/metrics"} {
		if resp, body := c.do("GET", p, nil); resp.StatusCode != 200 || resp.TLS == nil {
			t.Errorf("GET https %s: %d %s", p, resp.StatusCode, body)
		}
	}
	if cookie := c.signIn(testTriggerToken); !strings.Contains(cookie, "Secure") || !strings.Contains(cookie, "HttpOnly") {
		t.Errorf("session cookie over TLS: %q", cookie)
	}
	if resp, body := c.do("GET", "/", nil); resp.StatusCode != 200 || !strings.Contains(body, "12345678") ||
		!strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("GET https /: %d %v", resp.StatusCode, resp.Header)
	}
	// Plain HTTP is not served.
	resp, err := http.Get("http://" + d.addr + "/livez")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP served /livez")
		}
	}
}

func TestConfigTLSKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	certFile, keyFile, _ := selfSigned(t, dir)
	garbage := writeFile(t, dir, "garbage.pem", "not a certificate")
	missing := filepath.Join(dir, "missing.pem")
	for name, tc := range map[string]struct {
		cert, key string
		want      string // "" valid
	}{
		"neither":      {"", "", ""},
		"both":         {certFile, keyFile, ""},
		"cert only":    {certFile, "", "server.tls_key_file: required with server.tls_cert_file"},
		"key only":     {"", keyFile, "server.tls_cert_file: required with server.tls_key_file"},
		"missing cert": {missing, keyFile, "server.tls_cert_file: open " + missing},
		"missing key":  {certFile, missing, "server.tls_key_file: open " + missing},
		"not PEM":      {garbage, keyFile, "server.tls_cert_file, server.tls_key_file: not a PEM certificate and its private key"},
		"swapped":      {keyFile, certFile, "not a PEM certificate and its private key"},
	} {
		extra := fmt.Sprintf("server: {tls_cert_file: %q, tls_key_file: %q}\n", tc.cert, tc.key)
		path := writeFile(t, t.TempDir(), "config.yaml", minimalConfig(hr, extra))
		cfg, _, err := loadConfig(path, testEnv)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want == "" && cfg.Server.TLS() != (tc.cert != ""):
			t.Errorf("%s: TLS() = %v", name, cfg.Server.TLS())
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}

// TestConsoleInBrowser drives the daemon's console in headless Chromium:
// sign in, the overview, the history and a run's page. With
// SKILLSYNC_CONSOLE_SCREENSHOTS=$PWD/docs it renews the README's image of
// the history (TestConsoleAccountsInBrowser takes the overview's, the
// console's own browser test the run page's).
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	ctx := consoletest.Browser(t)
	f := setup(t, "run_at_start: true\n")
	d := f.startDaemon(&env{})
	first := d.nextRun()
	if code, body, _ := d.do("POST", "/v1/runs?mode=plan", testTriggerToken); code != 200 {
		t.Fatalf("POST /v1/runs: %d %s", code, body)
	}
	base := "http://" + d.addr

	if err := consoletest.SignIn(ctx, base, testTriggerToken); err != nil {
		t.Fatal(err)
	}
	main, err := consoletest.Text(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Overview", "default", "LivePerson account 12345678", "healthy", "Next run"} {
		if !strings.Contains(main, want) {
			t.Errorf("overview lacks %q:\n%s", want, main)
		}
	}

	if err := consoletest.Click(ctx, `nav a[href="/runs"]`); err != nil {
		t.Fatal(err)
	}
	main, _ = consoletest.Text(ctx, "main")
	if !strings.Contains(main, "applied") || !strings.Contains(main, "no_changes") {
		t.Errorf("history lacks the runs:\n%s", main)
	}
	consoletest.Screenshot(t, ctx, "console-runs.png")

	if err := consoletest.Click(ctx, fmt.Sprintf(`table.runs a[href="/runs/%d"]`, first.Run.ID)); err != nil {
		t.Fatal(err)
	}
	main, _ = consoletest.Text(ctx, "main")
	for _, want := range []string{fmt.Sprintf("Run %d", first.Run.ID), "+ Research & Development", "rule department", "Journal", "done"} {
		if !strings.Contains(main, want) {
			t.Errorf("run page lacks %q:\n%s", want, main)
		}
	}
}

// The console leaves the daemon's own paths alone: a GET of POST /v1/runs
// is still 405, an unknown path still 404, with the console on.
func TestConsoleLeavesOtherPaths(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.Server.TriggerToken = testTriggerToken
	d := newDaemon(&app{cfg: &cfg, metrics: newMetrics()}, &env{})
	for path, want := range map[string]int{"/v1/runs": 405, "/v1/nope": 404, "/nope": 404, "/": 303, "/runs/1": 303, "/login": 200} {
		rec := httptest.NewRecorder()
		d.handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}

// planSource serves one run whose stored plan is what the engine writes.
type planSource struct{ plan []byte }

func (s planSource) Accounts(context.Context) ([]console.Account, error) { return nil, nil }
func (s planSource) Runs(context.Context, console.RunQuery) (console.RunPage, error) {
	return console.RunPage{}, nil
}
func (s planSource) Run(context.Context, int64) (console.RunDetail, error) {
	return console.RunDetail{Run: console.Run{ID: 1, Account: "default"}, Plan: s.plan}, nil
}
func (s planSource) PendingDeletes(context.Context) ([]console.PendingDelete, error) { return nil, nil }
func (s planSource) OwnedSkills(context.Context) ([]console.OwnedSkill, error)       { return nil, nil }

// TestConsoleReadsTheEnginesPlan: the console reads the JSON plan with
// types of its own (it imports nothing of ours); a plan as sync writes it
// shows every change, its provenance and its field changes.
func TestConsoleReadsTheEnginesPlan(t *testing.T) {
	t.Parallel()
	p := &sync.Plan{Policy: sync.PolicySync, Changes: []sync.Change{
		{Action: sync.ActionCreate, Skill: "Sales / Manager", Rule: "department-role", Key: "department-role|Sales|Manager", Members: 6,
			MemberIDs: []string{"1001", "1002"}, Diff: []sync.FieldDiff{{Field: "description", After: "Sales managers"}}},
		{Action: sync.ActionUpdate, Skill: "Research", SkillID: 41, Rule: "department", Drift: true, Reason: "edited by hand",
			Diff: []sync.FieldDiff{{Field: "max_wait_time", Before: 60, After: 120}}},
		{Action: sync.ActionDelete, Skill: "Old Team", SkillID: 42, Rule: "department", Reason: "no rule produces it"},
		{Action: sync.ActionPendingDelete, Skill: "Leaving", SkillID: 43, Rule: "department", Reason: "1 of 2 runs"},
		{Action: sync.ActionUnmanagedConflict, Skill: "Hand Made", Reason: "exists unowned"},
	}, Problems: []sync.RecordProblem{{RecordID: "77", RuleID: "department", Msg: "no Department"}}, Warnings: []string{"a warning"}}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console.New(console.Options{Source: planSource{plan: raw}, Token: testTriggerToken}))
	defer srv.Close()
	c := newConsoleClient(t, srv.URL, nil)
	c.signIn(testTriggerToken)
	resp, body := c.do("GET", "/runs/1", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /runs/1: %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{
		"Plan: <span class=\"c-create\">1 to create</span>, <span class=\"c-update\">1 to update</span>, <span class=\"c-delete\">1 to delete</span>, 1 pending",
		`<span class="sym">&#43;</span> <strong>Sales / Manager</strong>`, "rule department-role, key department-role|Sales|Manager, 6 members: 1001, 1002, …",
		`<td colspan="2">&#34;Sales managers&#34;</td>`,
		`<span class="sym">~</span> <strong>Research</strong> <span class="tag">drift</span>`, `<td class="before">60</td><td class="after">→ 120</td>`,
		`<span class="sym">-</span> <strong>Old Team</strong>`, "# no rule produces it",
		"Pending deletes (delete grace)", "<strong>Leaving</strong>", "Unmanaged conflicts", "<strong>Hand Made</strong>",
		"record 77, rule department: no Department", "a warning",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the run page lacks %q", want)
		}
	}
}

// TestConsoleAccounts: with accounts:, the console shows every account
// (one refused by a guard, one applied), the history of all or of one, a
// run of either, and whose skills are whose.
func TestConsoleAccounts(t *testing.T) {
	t.Parallel()
	f := setupTwoAccounts(t, pgtest.DB(t), testClientSecret, "    sync: {min_records: 100000}\n",
		"run_at_start: true\nserver: {listen: \"127.0.0.1:0\", trigger_token: \""+testTriggerToken+"\"}\n")
	d := f.startDaemon(&env{})
	runs := map[store.Outcome]int64{}
	for range 2 {
		res := d.nextRun()
		runs[res.Run.Outcome] = res.Run.ID
	}
	emeaRun, apacRun := runs[store.OutcomeApplied], runs[store.OutcomeRefused]
	if emeaRun == 0 || apacRun == 0 {
		t.Fatalf("start-up runs: %v", runs)
	}
	c := newConsoleClient(t, "http://"+d.addr, nil)
	c.signIn(testTriggerToken)
	for path, wants := range map[string][]string{
		"/": {"emea <small>LivePerson account 111</small>", "apac <small>LivePerson account 222</small>", "Refused by a guard",
			fmt.Sprintf(`href="/runs/%d"`, emeaRun), fmt.Sprintf(`href="/runs/%d"`, apacRun)},
		"/runs": {fmt.Sprintf(`href="/runs/%d"`, emeaRun), fmt.Sprintf(`href="/runs/%d"`, apacRun), "<td>emea</td>", "<td>apac</td>",
			"<option>emea</option>", "<option>apac</option>"},
		fmt.Sprintf("/runs/%d", apacRun): {"<dt>Account</dt><dd>apac</dd>", "refused"},
		fmt.Sprintf("/runs/%d", emeaRun): {"<dt>Account</dt><dd>emea</dd>", "applied"},
		"/skills":                        {"<td>emea</td><td>Sales</td>"},
	} {
		resp, body := c.do("GET", path, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
	}
	_, body := c.do("GET", "/runs?account=apac", nil)
	if !strings.Contains(body, fmt.Sprintf(`href="/runs/%d"`, apacRun)) || strings.Contains(body, fmt.Sprintf(`href="/runs/%d"`, emeaRun)) {
		t.Errorf("the history of apac:\n%s", body)
	}
	if _, body := c.do("GET", "/skills", nil); strings.Contains(body, "<td>apac</td>") {
		t.Errorf("apac, refused, owns skills:\n%s", body)
	}
	// Approving apac's refused run applies it in apac.
	_, body = c.do("GET", fmt.Sprintf("/runs/%d", apacRun), nil)
	m := consoleCSRF.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "Apply this plan") {
		t.Fatalf("apac's refused run has no Apply button:\n%s", body)
	}
	if resp, body := c.do("POST", fmt.Sprintf("/runs/%d/apply", apacRun), url.Values{"csrf": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply apac's plan: %d\n%s", resp.StatusCode, body)
	}
	approval := d.nextRun()
	if approval.Run.Outcome != store.OutcomeApplied || approval.Run.ApprovedRun == nil || *approval.Run.ApprovedRun != apacRun {
		t.Fatalf("approval run: %+v", approval.Run)
	}
	if n := len(f.apac.Skills(false)); n == 0 {
		t.Errorf("apac's LivePerson has no skill after the approval")
	}
	if _, body := c.do("GET", fmt.Sprintf("/runs/%d", approval.Run.ID), nil); !strings.Contains(body, "<dt>Account</dt><dd>apac</dd>") {
		t.Errorf("the approval run is not apac's")
	}
}

// TestConsoleAccountsInBrowser: the overview in Chromium with two accounts,
// one refused; with SKILLSYNC_CONSOLE_SCREENSHOTS it is the README's image.
func TestConsoleAccountsInBrowser(t *testing.T) {
	t.Parallel()
	ctx := consoletest.Browser(t)
	f := setupTwoAccounts(t, pgtest.DB(t), testClientSecret, "    sync: {min_records: 100000}\n",
		"run_at_start: true\nserver: {listen: \"127.0.0.1:0\", trigger_token: \""+testTriggerToken+"\"}\n")
	d := f.startDaemon(&env{})
	d.nextRun()
	d.nextRun()
	if err := consoletest.SignIn(ctx, "http://"+d.addr, testTriggerToken); err != nil {
		t.Fatal(err)
	}
	main, err := consoletest.Text(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"emea LivePerson account 111", "apac LivePerson account 222", "Refused by a guard", "healthy", "refused"} {
		if !strings.Contains(main, want) {
			t.Errorf("overview lacks %q:\n%s", want, main)
		}
	}
	consoletest.Screenshot(t, ctx, "console-overview.png")
}

// TestConsoleApprovalInBrowser approves a refused run in headless Chromium:
// the overview shows the refusal, its run page the plan and the button,
// and the click leads to the approval run.
func TestConsoleApprovalInBrowser(t *testing.T) {
	t.Parallel()
	ctx := consoletest.Browser(t)
	f := setup(t, "run_at_start: true\nsync: {min_records: 100000}\n")
	d := f.startDaemon(&env{})
	refused := d.nextRun()
	if refused.Run.Outcome != store.OutcomeRefused {
		t.Fatalf("first run: %+v", refused.Run)
	}
	if err := consoletest.SignIn(ctx, "http://"+d.addr, testTriggerToken); err != nil {
		t.Fatal(err)
	}
	if msg, _ := consoletest.Text(ctx, ".account .error"); !strings.Contains(msg, "Refused by a guard") || !strings.Contains(msg, "min_records") {
		t.Errorf("overview: %q", msg)
	}
	if err := consoletest.Click(ctx, fmt.Sprintf(`.account .error a[href="/runs/%d"]`, refused.Run.ID)); err != nil {
		t.Fatal(err)
	}
	main, _ := consoletest.Text(ctx, "main")
	for _, want := range []string{"+ Research & Development", "Apply this plan"} {
		if !strings.Contains(main, want) {
			t.Errorf("refused run's page lacks %q:\n%s", want, main)
		}
	}
	if err := consoletest.Click(ctx, "#apply"); err != nil {
		t.Fatal(err)
	}
	approval := d.nextRun()
	if approval.Run.Trigger != store.TriggerApproval || approval.Run.Outcome != store.OutcomeApplied {
		t.Fatalf("approval run: %+v", approval.Run)
	}
	if msg, _ := consoletest.Text(ctx, ".notice"); !strings.Contains(msg, fmt.Sprintf("applied the plan of run %d", refused.Run.ID)) {
		t.Errorf("after Apply the page says %q", msg)
	}
	if n := len(f.sim.Skills(false)); n != 14 {
		t.Errorf("LivePerson has %d skills after the approval, want 14", n)
	}
}
