package hrsource

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeWorkday serves a Workday custom report through Reports as a Service
// (RaaS), as Workday documents it and as the integration guides quoting
// that documentation show it:
//
//   - Workday, "Reports as a Service":
//     https://doc.workday.com/reader/HAJOEAaClxziA9ljvuBqZA/SyXmXfVCjUOT8xAvvczmng
//     (behind a Workday Community login; the public pages below follow it)
//   - the report URL, https://HOST/ccx/service/customreport2/TENANT/OWNER/REPORT,
//     copied from the report's Actions > Web Service > View URLs, JSON
//     asked for with ?format=json, prompts as further query parameters
//     (Worker_Type!WID=...): https://docs.workato.com/connectors/workday/workday_raas
//   - the JSON output: one object whose Report_Entry array holds a row
//     per worker, fields named by their XML alias, a multi-instance field
//     as an array of objects: https://docs.workato.com/connectors/workday/get_report
//   - basic authentication of an integration system user (ISU):
//     https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/DataIntegration/WebApplications/Connecting-Workday-Reports.htm
//   - OAuth 2.0: an API client for integrations with a non-expiring
//     refresh token, token endpoint https://HOST/ccx/oauth2/TENANT/token
//     (View API Clients shows it):
//     https://www.ibm.com/docs/en/app-connect/13.0.x?topic=workday-obtaining-connection-values
//   - errors as {"error": ..., "message": ...} (the RaaS API description
//     at https://schemas.apis.io/schemas/workday-reporting/workday-reporting-error/)
//
// RaaS has no paging: the report comes whole, so there is no page to miss.
type fakeWorkday struct {
	user, password string
	token          *fakeToken
	entries        string
	// fault, when set and returning true, has answered instead.
	fault func(w http.ResponseWriter, r *http.Request, n int) bool
	log   requestLog
}

const workdayReport = "/ccx/service/customreport2/acme/ISU_skillsync/Skillsync_Staff"

func (f *fakeWorkday) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ccx/oauth2/acme/token" && f.token != nil {
		f.token.ServeHTTP(w, r)
		return
	}
	n := f.log.add(r)
	if f.fault != nil && f.fault(w, r, n) {
		return
	}
	if r.URL.Path != workdayReport || r.Method != http.MethodGet {
		workdayError(w, http.StatusNotFound, "Not Found", "Resource not found")
		return
	}
	authorized := false
	if f.token != nil {
		authorized = f.token.valid(r.Header.Get("Authorization"))
	} else if u, p, ok := r.BasicAuth(); ok && u == f.user && p == f.password {
		authorized = true
	}
	if !authorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Workday"`)
		workdayError(w, http.StatusUnauthorized, "Unauthorized", "Invalid username or password")
		return
	}
	switch r.URL.Query().Get("format") {
	case "json":
	case "csv":
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprint(w, "Employee_ID\n21001\n")
		return
	default:
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><wd:Report_Data xmlns:wd="urn:com.workday.report/Skillsync_Staff"></wd:Report_Data>`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"Report_Entry": [%s]}`, f.entries)
}

func workdayError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error": %q, "message": %q}`, code, msg)
}

const workdayEntries = `
{"Employee_ID": "21001", "Worker": "Logan McNeil", "Email_-_Work": "logan.mcneil@acme.com", "Cost_Center": "Sales", "Active_Status": "1",
 "Worker_Skills_group": [{"Skill": "French"}, {"Skill": "Spanish"}]},
{"Employee_ID": "21002", "Worker": "Oliver Reynolds", "Email_-_Work": "oliver.reynolds@acme.com", "Cost_Center": "Support", "Active_Status": "1",
 "Worker_Skills_group": [{"Skill": "German"}]},
{"Employee_ID": "21003", "Worker": "Teresa Serrano", "Email_-_Work": "teresa.serrano@acme.com", "Cost_Center": "Support", "Active_Status": "0"}`

func workdayConfig() Config {
	return Config{
		Type:    TypeWorkday,
		URL:     workdayReport + "?Effective_as_of_Date=2024-05-01-07:00&Worker_Type!WID=d588c41a446c11de98360015c5e6daf6&format=csv",
		Auth:    AuthConfig{Method: AuthBasic, Username: "ISU_skillsync", Password: "wd-password-5f1c"},
		Fields:  FieldsConfig{ID: "Employee_ID", Email: "Email_-_Work", Name: "Worker"},
		Active:  `Active_Status == "1"`,
		Columns: map[string]string{"First_Skill": "Worker_Skills_group/0/Skill"},
	}
}

func TestWorkday(t *testing.T) {
	t.Parallel()
	f := &fakeWorkday{user: "ISU_skillsync", password: "wd-password-5f1c", entries: workdayEntries}
	srv := fakeServer(t, f)
	snap, err := readVendor(t, srv, workdayConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(snap.Records); !slices.Equal(got, []string{"21001", "21002", "21003"}) {
		t.Errorf("ids = %q", got)
	}
	if got := activeIDs(snap.Records); !slices.Equal(got, []string{"21001", "21002"}) {
		t.Errorf("active = %q", got)
	}
	r := snap.Records[0]
	if r.Email != "logan.mcneil@acme.com" || r.Name != "Logan McNeil" || r.Origin != "page 1: Report_Entry[0]" {
		t.Errorf("record 0 = %+v", r)
	}
	if v, _ := r.Attr("First_Skill"); v != "French" {
		t.Errorf("First_Skill = %q", v)
	}
	req, _ := f.log.at(0)
	// format=json replaces the format of the URL as pasted; the prompts
	// stay exactly as Workday wrote them.
	if q := req.URL.RawQuery; !strings.Contains(q, "Worker_Type!WID=d588c41a446c11de98360015c5e6daf6") ||
		!strings.Contains(q, "Effective_as_of_Date=2024-05-01-07:00") || req.URL.Query()["format"][0] != "json" || len(req.URL.Query()["format"]) != 1 {
		t.Errorf("query = %q", q)
	}
	if f.log.count() != 1 {
		t.Errorf("%d requests, want 1 (RaaS does not page)", f.log.count())
	}
}

// TestWorkdayRefreshToken reads with an API client's refresh token: the
// token endpoint follows from the report URL, and the access token is
// reused until it expires.
func TestWorkdayRefreshToken(t *testing.T) {
	t.Parallel()
	tok := &fakeToken{clientID: "skillsync-client", clientSecret: "wd-client-secret-77aa", refreshToken: "wd-refresh-token-90be", expiresIn: 3600}
	f := &fakeWorkday{token: tok, entries: workdayEntries}
	srv := fakeServer(t, f)
	cfg := workdayConfig()
	cfg.Auth = AuthConfig{Method: AuthOAuth2RefreshToken, ClientID: "skillsync-client", ClientSecret: "wd-client-secret-77aa", RefreshToken: "wd-refresh-token-90be"}
	src, err := newVendorSource(t, srv, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		snap, err := src.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Records) != 3 {
			t.Fatalf("%d records", len(snap.Records))
		}
	}
	if tok.count() != 1 {
		t.Errorf("%d tokens fetched for two reads, want 1", tok.count())
	}
}

func TestWorkdayErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      func(*Config)
		token    *fakeToken
		fault    func(w http.ResponseWriter, r *http.Request, n int) bool
		want     []string
		requests int
	}{
		{
			name: "401: a wrong password is not retried",
			cfg:  func(c *Config) { c.Auth.Password = "wrong-password-31d9" },
			want: []string{
				"Workday: GET https://127.0.0.1:", workdayReport + "?Effective_as_of_Date=…",
				`401 Unauthorized ("Unauthorized: Invalid username or password")`, "check hr.auth: the integration system user's name and password",
			},
			requests: 1,
		},
		{
			name: "a report error is quoted",
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				workdayError(w, http.StatusBadRequest, "Bad Request", "Invalid prompt value for Effective_as_of_Date; ISU wd-password-5f1c")
				return true
			},
			want:     []string{`400 Bad Request ("Bad Request: Invalid prompt value for Effective_as_of_Date; ISU [redacted]")`},
			requests: 1,
		},
		{
			name: "the token endpoint refuses the refresh token",
			cfg: func(c *Config) {
				c.Auth = AuthConfig{Method: AuthOAuth2RefreshToken, ClientID: "skillsync-client", ClientSecret: "wd-client-secret-77aa", RefreshToken: "revoked-refresh-token-1"}
			},
			token: &fakeToken{clientID: "skillsync-client", clientSecret: "wd-client-secret-77aa", refreshToken: "wd-refresh-token-90be"},
			want: []string{
				"Workday: POST https://127.0.0.1:", "/ccx/oauth2/acme/token (the OAuth 2.0 token endpoint): 400 Bad Request", `("invalid_grant")`,
				"check hr.auth.client_id, hr.auth.client_secret, hr.auth.refresh_token and hr.auth.token_url",
			},
			requests: 0,
		},
		{
			// A gateway or a session timeout answering 200 with the
			// vendor's error object: the error is quoted, and not blamed
			// on hr.records_path, which a connector does not let one set.
			name: "an error object answered with a 200",
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"error": "Processing error", "message": "Report Skillsync_Staff could not run for ISU_skillsync (wd-password-5f1c)"}`)
				return true
			},
			want: []string{
				`page 1: the server answered 200 OK with an error instead of records ("Processing error: Report Skillsync_Staff could not run for ISU_skillsync ([redacted])"): check hr.url and hr.auth`,
			},
			requests: 1,
		},
		{
			name: "a server that keeps failing",
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				http.Error(w, "The server is temporarily unavailable", http.StatusInternalServerError)
				return true
			},
			want:     []string{"500 Internal Server Error", "temporarily unavailable"},
			requests: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeWorkday{user: "ISU_skillsync", password: "wd-password-5f1c", entries: workdayEntries, fault: tt.fault, token: tt.token}
			srv := fakeServer(t, f)
			cfg := workdayConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			var logs syncBuffer
			snap, err := readVendor(t, srv, cfg, nil, &logs)
			if err == nil || snap != nil {
				t.Fatalf("read = %v, %v; want an error and no snapshot", snap, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "records_path") {
				t.Errorf("error %q blames hr.records_path, which a connector sets itself", err)
			}
			basic := base64.StdEncoding.EncodeToString([]byte("ISU_skillsync:wd-password-5f1c"))
			checkNoSecret(t, err.Error()+logs.String(), "wd-password-5f1c", "wrong-password-31d9", "wd-client-secret-77aa", "revoked-refresh-token-1", basic)
			if got := f.log.count(); got != tt.requests {
				t.Errorf("%d report requests, want %d", got, tt.requests)
			}
		})
	}
}

// TestWorkdayThrottled is answered 429 with Retry-After: 1 once: the read
// waits that second (not the configured millisecond) and succeeds.
func TestWorkdayThrottled(t *testing.T) {
	t.Parallel()
	f := &fakeWorkday{user: "ISU_skillsync", password: "wd-password-5f1c", entries: workdayEntries}
	f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n > 1 {
			return false
		}
		w.Header().Set("Retry-After", "1")
		workdayError(w, http.StatusTooManyRequests, "Too Many Requests", "Rate limit exceeded")
		return true
	}
	srv := fakeServer(t, f)
	var logs syncBuffer
	snap, err := readVendor(t, srv, workdayConfig(), nil, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 3 || f.log.count() != 2 {
		t.Fatalf("%d records after %d requests", len(snap.Records), f.log.count())
	}
	_, first := f.log.at(0)
	_, second := f.log.at(1)
	if gap := second.Sub(first); gap < time.Second {
		t.Errorf("retried after %s, before the second Retry-After asked for", gap)
	}
	if !strings.Contains(logs.String(), "retry_after=1s") {
		t.Errorf("the retry was not logged with its wait:\n%s", logs.String())
	}
}
