package main

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
)

// bambooFake is a BambooHR custom report endpoint as BambooHR documents it
// (https://documentation.bamboohr.com/reference/request-custom-report:
// POST with {"title", "fields"}, answer {"fields", "employees"}; the API
// key as the basic-auth user, https://documentation.bamboohr.com/docs/getting-started),
// reduced to what these tests need. hrsource's tests hold the full fake.
type bambooFake struct {
	key       string
	refuse    atomic.Bool // answer 401, as for a revoked key
	mu        gosync.Mutex
	fieldSets [][]string
}

func (b *bambooFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u, _, ok := r.BasicAuth(); !ok || u != b.key || b.refuse.Load() || r.Method != http.MethodPost {
		w.Header().Set("X-BambooHR-Error-Message", "Invalid API key")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var body struct {
		Fields []string `json:"fields"`
	}
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
		w.Header().Set("X-BambooHR-Error-Message", "Malformed XML")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.fieldSets = append(b.fieldSets, body.Fields)
	b.mu.Unlock()
	people := []map[string]string{
		{"id": "1", "workEmail": "ann@acme.com", "department": "Care", "jobTitle": "Agent", "status": "Active"},
		{"id": "2", "workEmail": "bo@acme.com", "department": "Care", "jobTitle": "Lead", "status": "Active"},
		{"id": "3", "workEmail": "cy@acme.com", "department": "Sales", "jobTitle": "Agent", "status": "Active"},
	}
	out := make([]map[string]string, 0, len(people))
	for _, p := range people {
		e := map[string]string{"id": p["id"]}
		for _, f := range body.Fields {
			if v, ok := p[f]; ok {
				e[f] = v
			}
		}
		out = append(out, e)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"title": "skillsync", "employees": out})
}

// TestHRAuthFailureWritesNothing syncs from BambooHR, then has the API key
// refused: the next run fails naming the source and what to check, and
// LivePerson sees no write at all (a refused feed is not "everyone left").
// The key appears nowhere: output, logs, stored rows.
func TestHRAuthFailureWritesNothing(t *testing.T) {
	t.Parallel()
	const apiKey = "bamboo-key-3c9e51f0"
	f := setup(t, "")
	bamboo := &bambooFake{key: apiKey}
	hrSrv := httptest.NewUnstartedServer(bamboo)
	hrSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	hrSrv.StartTLS()
	t.Cleanup(hrSrv.Close)
	dir := t.TempDir()
	caFile := writeFile(t, dir, "hr-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hrSrv.Certificate().Raw})))
	f.configPath = writeFile(t, dir, "config.yaml", fmt.Sprintf(`database: {url: "${DB_URL}"}
liveperson:
  account_id: "12345678"
  domain_api_url: %s
  retry_delays: []
  auth: {method: oauth2, client_id: %s, client_secret: "${LP_CLIENT_SECRET}"}
hr:
  type: bamboohr
  url: %s/api/gateway.php/acme/v1/reports/custom
  ca_file: %s
  retry_delays: []
  auth: {token: "${BAMBOO_KEY}"}
  fields: {id: id, email: workEmail}
  active: 'status == "Active"'
skills:
  rules:
    - {id: department, name: "{{ .department }}"}
    - {id: title, name: "{{ .department }} / {{ .jobTitle }}", when: 'jobTitle != ""'}
sync: {delete_after_runs: 1, max_delete_percent: 100}
`, f.srv.URL(), testClientID, hrSrv.URL, caFile))
	f.lookup = envMap("DB_URL", f.dbURL, "LP_CLIENT_SECRET", testClientSecret, "BAMBOO_KEY", apiKey)

	var seen strings.Builder
	out, errOut := f.mustRun(exitOK, "sync", "--log-level", "debug")
	seen.WriteString(out + errOut)
	if n := len(f.sim.Skills(false)); n != 5 {
		t.Fatalf("LivePerson has %d skills after the first sync, want 5:\n%s", n, out)
	}
	// The report asked for what hr.fields, hr.active and the rules read.
	want := []string{"department", "id", "jobTitle", "status", "workEmail"}
	if len(bamboo.fieldSets) != 1 || !slices.Equal(bamboo.fieldSets[0], want) {
		t.Errorf("BambooHR was asked for %q, want %q", bamboo.fieldSets, want)
	}

	bamboo.refuse.Store(true)
	writes := func() int {
		n := 0
		for _, r := range f.sim.Requests() {
			if r.Method != http.MethodGet {
				n++
			}
		}
		return n
	}
	before := writes()
	code, out, errOut := f.run("sync", "--log-level", "debug")
	seen.WriteString(out + errOut)
	if code != exitError {
		t.Fatalf("sync with a refused key: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{"read HR source: BambooHR: POST https://127.0.0.1:", "401 Unauthorized", `X-BambooHR-Error-Message: "Invalid API key"`, "check hr.auth.token"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if n := writes() - before; n != 0 {
		t.Errorf("%d writes reached LivePerson after the HR source failed", n)
	}
	if n := len(f.sim.Skills(false)); n != 5 {
		t.Errorf("LivePerson has %d skills after the failed run, want the 5 still there", n)
	}
	out, errOut = f.mustRun(exitOK, "runs")
	seen.WriteString(out + errOut)
	if !regexp.MustCompile(`manual\s+apply\s+failed`).MatchString(out) {
		t.Errorf("runs does not show the failed run:\n%s", out)
	}
	if strings.Contains(seen.String(), apiKey) {
		t.Errorf("the API key appears in output or logs: %s", around(seen.String(), apiKey))
	}
	if rows := dumpDatabase(t, f.dbURL); strings.Contains(rows, apiKey) {
		t.Errorf("the API key appears in a stored row: %s", around(rows, apiKey))
	}
}

// TestHRConnectorConfigProblems: config check names the file, line and
// key of every problem of the HR connectors' settings.
func TestHRConnectorConfigProblems(t *testing.T) {
	t.Parallel()
	base := func(hr string) string {
		text := minimalConfig("/unused.csv", "")
		start := strings.Index(text, "hr:\n")
		end := strings.Index(text, "skills:\n")
		return text[:start] + hr + text[end:]
	}
	tests := []struct {
		name string
		hr   string
		want []string
	}{
		{
			name: "bamboohr without subdomain, unknown auth method",
			hr:   "hr:\n  type: bamboohr\n  auth:\n    method: x\n  fields: {id: id}\n",
			want: []string{`config\.yaml:\d+: hr\.subdomain: required for bamboohr`, `config\.yaml:12: hr\.auth\.method: unknown "x"`},
		},
		{
			name: "misspelt auth key",
			hr:   "hr:\n  type: workday\n  url: https://wd5-services1.myworkday.com/ccx/service/customreport2/acme/ISU/Staff\n  auth:\n    method: basic\n    username: ISU\n    pasword: p\n  fields: {id: Employee_ID}\n",
			want: []string{`config\.yaml:15: hr\.auth\.pasword: unknown key`},
		},
		{
			name: "SuccessFactors user without company, a size that is not one",
			hr:   "hr:\n  type: successfactors\n  url: https://api4.successfactors.com/odata/v2/User\n  max_bytes: lots\n  auth: {method: basic, username: sfapi, password: p}\n  fields: {id: userId}\n",
			want: []string{`config\.yaml:12: hr\.max_bytes: "lots" is not a size`},
		},
		{
			name: "SuccessFactors user without company",
			hr:   "hr:\n  type: successfactors\n  url: https://api4.successfactors.com/odata/v2/User\n  auth: {method: basic, username: sfapi, password: p}\n  fields: {id: userId}\n",
			want: []string{`config\.yaml:\d+: hr\.auth\.username: SuccessFactors expects user@companyId`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "config.yaml", base(tc.hr))
			_, _, err := loadConfig(path, testEnv)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConfigError, got %v", err)
			}
			for _, w := range tc.want {
				re := regexp.MustCompile(w)
				if !slices.ContainsFunc(ce.Problems, re.MatchString) {
					t.Errorf("no problem matches %q in:\n  %s", w, strings.Join(ce.Problems, "\n  "))
				}
			}
		})
	}
}

// TestRedactedConfigHidesHRAuth: config check prints every hr.auth secret
// as [redacted] and hands each to the log redactor.
func TestRedactedConfigHidesHRAuth(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.HR.Type = "workday"
	cfg.HR.Auth.Password = "hr-auth-password-1"
	cfg.HR.Auth.Token = "hr-auth-token-2"
	cfg.HR.Auth.ClientSecret = "hr-client-secret-3"
	cfg.HR.Auth.RefreshToken = "hr-refresh-token-4"
	cfg.HR.Auth.ClientID = "hr-client-id"
	cfg.HR.Auth.Username = "ISU_skillsync"
	out, secrets, err := redactedConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hr-auth-password-1", "hr-auth-token-2", "hr-client-secret-3", "hr-refresh-token-4"} {
		if strings.Contains(string(out), s) {
			t.Errorf("%q printed:\n%s", s, out)
		}
		if !slices.Contains(secrets, s) {
			t.Errorf("%q not collected for the log redactor: %q", s, secrets)
		}
	}
	for _, keep := range []string{"client_id: hr-client-id", "username: ISU_skillsync", "max_bytes: 512MiB", "max_retry_wait: 5m0s"} {
		if !strings.Contains(string(out), keep) {
			t.Errorf("output lacks %q:\n%s", keep, out)
		}
	}
}

// TestREADMEHRRecipesValidate keeps the README's connector recipes true:
// each config block of its HR connectors section passes config check.
func TestREADMEHRRecipesValidate(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "### HR connectors")
	end := strings.Index(text[start:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README has no HR connectors section")
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(text[start:start+end], -1)
	if len(blocks) != 4 {
		t.Fatalf("%d yaml blocks in the HR connectors section, want 4 (Workday, BambooHR, SuccessFactors, http)", len(blocks))
	}
	minimal := minimalConfig("/unused.csv", "")
	head := minimal[:strings.Index(minimal, "hr:\n")]
	skills := minimal[strings.Index(minimal, "skills:\n"):]
	lookup := envMap("DB_URL", "postgres://localhost/x", "LP_CLIENT_ID", "c", "LP_CLIENT_SECRET", "s",
		"WORKDAY_ISU_PASSWORD", "p", "BAMBOOHR_API_KEY", "k", "SF_API_PASSWORD", "p", "HR_CLIENT_SECRET", "s")
	for i, b := range blocks {
		cfg := head + b[1]
		if !strings.Contains(b[1], "skills:") {
			cfg += skills
		}
		path := writeFile(t, t.TempDir(), "config.yaml", cfg)
		if _, _, err := loadConfig(path, lookup); err != nil {
			t.Errorf("README block %d does not pass config check: %v\n%s", i+1, err, b[1])
		}
	}
}
