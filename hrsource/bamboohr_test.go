package hrsource

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeBambooHR serves BambooHR's custom report endpoint as BambooHR
// documents it:
//
//   - Request Custom Report, https://documentation.bamboohr.com/reference/request-custom-report:
//     POST /api/gateway.php/{companyDomain}/v1/reports/custom?format=JSON,
//     a JSON body {"title": ..., "fields": [...]} read as JSON only when
//     Content-Type is exactly application/json (anything else is parsed
//     as XML: 400 Malformed XML), at most 400 fields, unknown fields (or
//     fields the user may not see) silently left out with a 200, every
//     employee included whatever their status; the answer is
//     {"title": ..., "fields": [{"id", "type", "name"}], "employees":
//     [{"id": ..., field: value}]}.
//   - Authentication, https://documentation.bamboohr.com/docs/getting-started:
//     HTTP basic with the API key as the user name and any string as the
//     password; a request is allowed what the key's user may see.
//   - Technical overview, https://documentation.bamboohr.com/docs/api-details:
//     401 when the key is missing or wrong, 403 when its user may not,
//     errors explained in an X-BambooHR-Error-Message header, and
//     throttling answered 503 Service Unavailable.
//   - Planned changes, https://documentation.bamboohr.com/docs/planned-changes-to-the-api:
//     from 16 September 2026 throttling is answered 429, and every
//     throttled answer carries Retry-After.
//
// The report comes whole: the endpoint has no paging.
type fakeBambooHR struct {
	apiKey    string
	employees []map[string]string
	// fault, when set and returning true, has answered instead.
	fault func(w http.ResponseWriter, r *http.Request, n int) bool

	log    requestLog
	fields [][]string // the fields list of each request
}

const bambooPath = "/api/gateway.php/acme/v1/reports/custom"

// bambooFields are the fields this fake's company has.
var bambooFields = map[string]struct{ typ, name string }{
	"displayName": {"text", "Display name"}, "workEmail": {"email", "Work Email"},
	"department": {"list", "Department"}, "jobTitle": {"list", "Job Title"},
	"status": {"status", "Status"}, "customShiftPattern": {"text", "Shift pattern"},
	"employeeNumber": {"text", "Employee #"},
}

func (f *fakeBambooHR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.log.add(r)
	if f.fault != nil && f.fault(w, r, n) {
		return
	}
	if r.URL.Path != bambooPath {
		bambooError(w, http.StatusNotFound, "")
		return
	}
	if r.Method != http.MethodPost {
		bambooError(w, http.StatusMethodNotAllowed, "")
		return
	}
	if user, _, ok := r.BasicAuth(); !ok || user != f.apiKey {
		bambooError(w, http.StatusUnauthorized, "")
		return
	}
	if !strings.EqualFold(r.URL.Query().Get("format"), "json") {
		bambooError(w, http.StatusNotFound, "")
		return
	}
	var body struct {
		Title  string   `json:"title"`
		Fields []string `json:"fields"`
	}
	if r.Header.Get("Content-Type") != "application/json" {
		bambooError(w, http.StatusBadRequest, "Malformed XML")
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		bambooError(w, http.StatusBadRequest, "Malformed JSON")
		return
	}
	if len(body.Fields) > 400 {
		bambooError(w, http.StatusBadRequest, "Too many fields")
		return
	}
	f.log.mu.Lock()
	f.fields = append(f.fields, body.Fields)
	f.log.mu.Unlock()
	type field struct{ ID, Type, Name string }
	var fields []field
	var known []string
	for _, id := range body.Fields {
		if meta, ok := bambooFields[id]; ok {
			fields = append(fields, field{id, meta.typ, meta.name})
			known = append(known, id)
		}
	}
	employees := make([]map[string]string, 0, len(f.employees))
	for _, e := range f.employees {
		out := map[string]string{"id": e["id"]}
		for _, id := range known {
			out[id] = e[id]
		}
		employees = append(employees, out)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"title": body.Title, "fields": fields, "employees": employees})
}

func bambooError(w http.ResponseWriter, status int, msg string) {
	if msg != "" {
		w.Header().Set("X-BambooHR-Error-Message", msg)
	}
	w.WriteHeader(status)
}

var bambooEmployees = []map[string]string{
	{"id": "4", "displayName": "Charlotte Abbott", "workEmail": "cabbott@acme.com", "department": "Customer Success", "jobTitle": "Agent", "status": "Active", "customShiftPattern": "early"},
	{"id": "5", "displayName": "Ashley Adams", "workEmail": "aadams@acme.com", "department": "Customer Success", "jobTitle": "Team Lead", "status": "Active", "customShiftPattern": "late"},
	{"id": "6", "displayName": "Christopher Barnes", "workEmail": "cbarnes@acme.com", "department": "Sales", "jobTitle": "Agent", "status": "Inactive"},
}

func bambooConfig() Config {
	return Config{
		Type:   TypeBambooHR,
		URL:    bambooPath, // the fake's; the subdomain builds BambooHR's own
		Auth:   AuthConfig{Token: "bamboo-api-key-4d7e19"},
		Fields: FieldsConfig{ID: "id", Email: "workEmail", Name: "displayName"},
		Active: `status == "Active"`,
	}
}

func TestBambooHR(t *testing.T) {
	t.Parallel()
	f := &fakeBambooHR{apiKey: "bamboo-api-key-4d7e19", employees: bambooEmployees}
	srv := fakeServer(t, f)
	// What the rules read: sync's Rules.Columns.
	ruleColumns := []string{"department", "jobTitle", "customShiftPattern"}
	snap, err := readVendor(t, srv, bambooConfig(), ruleColumns, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(snap.Records); !slices.Equal(got, []string{"4", "5", "6"}) {
		t.Errorf("ids = %q", got)
	}
	if got := activeIDs(snap.Records); !slices.Equal(got, []string{"4", "5"}) {
		t.Errorf("active = %q", got)
	}
	if r := snap.Records[1]; r.Email != "aadams@acme.com" || r.Name != "Ashley Adams" || r.Origin != "page 1: employees[1]" {
		t.Errorf("record 1 = %+v", r)
	}
	if v, _ := snap.Records[0].Attr("customShiftPattern"); v != "early" {
		t.Errorf("customShiftPattern = %q", v)
	}
	want := []string{"customShiftPattern", "department", "displayName", "id", "jobTitle", "status", "workEmail"}
	if len(f.fields) != 1 || !slices.Equal(f.fields[0], want) {
		t.Errorf("fields asked = %q, want %q", f.fields, want)
	}
	req, _ := f.log.at(0)
	if u, p, _ := req.BasicAuth(); u != "bamboo-api-key-4d7e19" || p == "" {
		t.Errorf("basic auth = %q, %q", u, p)
	}
}

// TestBambooHRDefaultURL checks the endpoint built from hr.subdomain.
func TestBambooHRDefaultURL(t *testing.T) {
	t.Parallel()
	cfg := bambooConfig()
	cfg.URL, cfg.Subdomain = "", "acme-corp"
	u, req, err := planRequest(cfg.WithDefaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.String(); got != "https://api.bamboohr.com/api/gateway.php/acme-corp/v1/reports/custom?format=JSON" {
		t.Errorf("URL = %s", got)
	}
	if req.method != http.MethodPost || req.contentType != "application/json" ||
		string(req.body) != `{"title":"skillsync","fields":["displayName","id","status","workEmail"]}` {
		t.Errorf("request = %s %s %s", req.method, req.contentType, req.body)
	}
}

func TestBambooHRErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      func(*Config)
		fault    func(w http.ResponseWriter, r *http.Request, n int) bool
		want     []string
		requests int
	}{
		{
			name: "401: a wrong API key is not retried",
			cfg:  func(c *Config) { c.Auth.Token = "revoked-api-key-0c21" },
			want: []string{
				"BambooHR: POST https://127.0.0.1:", bambooPath + "?format=…: 401 Unauthorized",
				"check hr.auth.token: the API key of a BambooHR user",
			},
			requests: 1,
		},
		{
			name: "the vendor's error header and body are quoted",
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.Header().Set("X-BambooHR-Error-Message", "Invalid field list for key bamboo-api-key-4d7e19")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, "Bad request")
				return true
			},
			want:     []string{`400 Bad Request ("Bad request") (X-BambooHR-Error-Message: "Invalid field list for key [redacted]")`},
			requests: 1,
		},
		{
			name:     "an unknown subdomain",
			cfg:      func(c *Config) { c.URL = "/api/gateway.php/acne/v1/reports/custom" },
			want:     []string{"404 Not Found: check hr.subdomain (or hr.url)"},
			requests: 1,
		},
		{
			name: "throttled for longer than hr.max_retry_wait",
			cfg:  func(c *Config) { c.MaxRetryWait = time.Minute },
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.Header().Set("Retry-After", "3600")
				bambooError(w, http.StatusServiceUnavailable, "Rate limit exceeded")
				return true
			},
			want: []string{
				`503 Service Unavailable (X-BambooHR-Error-Message: "Rate limit exceeded")`,
				"the server asks to wait 1h0m0s (Retry-After), more than hr.max_retry_wait (1m0s)",
			},
			requests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeBambooHR{apiKey: "bamboo-api-key-4d7e19", employees: bambooEmployees, fault: tt.fault}
			srv := fakeServer(t, f)
			cfg := bambooConfig()
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
			basic := base64.StdEncoding.EncodeToString([]byte("bamboo-api-key-4d7e19:x"))
			checkNoSecret(t, err.Error()+logs.String(), "bamboo-api-key-4d7e19", "revoked-api-key-0c21", basic)
			if got := f.log.count(); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
		})
	}
}

// TestBambooHRThrottled is answered "too many requests" once, the way
// BambooHR does before and after September 2026 (503, then 429, with
// Retry-After: 1): the read waits that second and succeeds.
func TestBambooHRThrottled(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			f := &fakeBambooHR{apiKey: "bamboo-api-key-4d7e19", employees: bambooEmployees}
			f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n > 1 {
					return false
				}
				w.Header().Set("Retry-After", "1")
				bambooError(w, status, "Rate limit exceeded")
				return true
			}
			srv := fakeServer(t, f)
			snap, err := readVendor(t, srv, bambooConfig(), nil, nil)
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
		})
	}
}

// TestBambooHRTooManyFields refuses to build a request BambooHR would
// refuse: more than 400 fields.
func TestBambooHRTooManyFields(t *testing.T) {
	t.Parallel()
	cols := make([]string, 400)
	for i := range cols {
		cols[i] = fmt.Sprintf("custom%03d", i)
	}
	cfg := bambooConfig()
	cfg.URL, cfg.Subdomain = "", "acme"
	_, err := New(cfg, Options{Columns: cols})
	if err == nil || !strings.Contains(err.Error(), "the report needs 404 fields, more than the 400 BambooHR takes") {
		t.Errorf("New = %v", err)
	}
}
