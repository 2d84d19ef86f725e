package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

const testToken = "console-test-token-0123456789abcdef"

// memSource is a Source over fixed data: the console's own tests check
// what it does with what a source returns (cmd's tests read a real store).
type memSource struct {
	mu       gosync.Mutex
	accounts []Account
	runs     []RunDetail // newest first
	pending  []PendingDelete
	owned    []OwnedSkill
}

func (s *memSource) Accounts(context.Context) ([]Account, error) { return s.accounts, nil }

func (s *memSource) Runs(_ context.Context, q RunQuery) (RunPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []Run
	for _, r := range s.runs {
		if (q.Account == "" || r.Account == q.Account) && (q.Outcome == "" || r.Outcome == q.Outcome) {
			all = append(all, r.Run)
		}
	}
	from := min(q.Page*q.Size, len(all))
	to := min(from+q.Size, len(all))
	return RunPage{Runs: all[from:to], More: to < len(all)}, nil
}

func (s *memSource) Run(_ context.Context, id int64) (RunDetail, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		if r.ID == id {
			return r, nil
		}
	}
	return RunDetail{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
}

func (s *memSource) PendingDeletes(context.Context) ([]PendingDelete, error) { return s.pending, nil }
func (s *memSource) OwnedSkills(context.Context) ([]OwnedSkill, error)       { return s.owned, nil }

// add records an approval run, as Apply does.
func (s *memSource) add(r RunDetail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append([]RunDetail{r}, s.runs...)
}

// testPlan is a stored plan with one change of each kind.
const testPlan = `{"format_version":1,"policy":"sync",
 "summary":{"create":1,"update":1,"delete":1,"pending_delete":1,"unchanged":7,"unmanaged_conflict":0},
 "changes":[
  {"action":"create","skill":"Sales / Manager","fields":["name","description"],"diff":[{"field":"description","before":null,"after":"Sales managers"}],"rule":"department-role","key":"department-role|Sales|Manager","members":6,"member_ids":["1001","1002","1003"]},
  {"action":"update","skill":"Research","skill_id":41,"fields":["maxWaitTime"],"diff":[{"field":"max_wait_time","before":60,"after":120}],"rule":"department","members":12,"drift":true,"reason":"edited in LivePerson"},
  {"action":"delete","skill":"Old Team","skill_id":42,"fields":[],"rule":"department","members":0,"reason":"absent from the desired state for 2 runs"},
  {"action":"pending_delete","skill":"Leaving Team","skill_id":43,"fields":[],"rule":"department","members":0,"reason":"absent for 1 of 2 runs"}
 ]}`

func newMemSource() *memSource {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	fin := now.Add(2 * time.Second)
	fin2, fin3 := fin.Add(time.Hour), fin.Add(2*time.Hour)
	status := 200
	sid := int64(41)
	runs := []RunDetail{
		{Run: Run{ID: 3, Account: "default", Trigger: "schedule", Mode: "apply", Outcome: "refused", StartedAt: now.Add(2 * time.Hour), FinishedAt: &fin3,
			Error: "refused: active headcount fell 40% (max_active_drop_percent 20)"},
			Plan: []byte(testPlan), Applicable: true},
		{Run: Run{ID: 2, Account: "default", Trigger: "manual", Mode: "plan", Outcome: "planned", StartedAt: now.Add(time.Hour), FinishedAt: &fin2},
			Plan: []byte(testPlan), NotApplicable: "it is older than sync.plan_max_age (24h0m0s)"},
		{Run: Run{ID: 1, Account: "default", Trigger: "schedule", Mode: "apply", Outcome: "applied", StartedAt: now, FinishedAt: &fin,
			Counts: Counts{Create: 14}},
			Journal:       []Operation{{Seq: 1, Action: "update", Skill: "Research", SkillID: &sid, Request: "PUT skills/41", State: "done", HTTPStatus: &status, UpdatedAt: fin}},
			Notifications: []Notification{{Sink: "oncall", Event: "applied", Status: "sent", Attempts: 1, At: fin}}},
	}
	last := runs[0].Run
	ok := runs[2].Run
	next := now.Add(3 * time.Hour)
	return &memSource{
		accounts: []Account{{Name: "default", AccountID: "12345678", Schedule: "@every 1h", NextRun: &next, LastRun: &last, LastSuccess: &ok,
			Refused: true, Guard: last.Error, PendingDeletes: 1}},
		runs:    runs,
		pending: []PendingDelete{{Account: "default", Skill: "Leaving Team", SkillID: 43, MissingRuns: 1, FirstMissingRun: 1, Since: now, Reason: "absent from the desired state for 1 of 2 apply runs"}},
		owned:   []OwnedSkill{{Account: "default", Name: "Research", SkillID: 41, Rule: "department", Key: "department|Research", CreatedAt: now}},
	}
}

var testOutcomes = []string{"no_changes", "planned", "applied", "partial", "refused", "failed", "interrupted", "running"}

// applier is an ApplyFunc that records its calls and adds a run.
type applier struct {
	src   *memSource
	mu    gosync.Mutex
	calls []string
	err   error
}

func (a *applier) apply(_ context.Context, id int64, user string) (Run, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, fmt.Sprintf("%d by %s", id, user))
	if a.err != nil {
		return Run{}, a.err
	}
	now := time.Now()
	r := Run{ID: 100 + int64(len(a.calls)), Account: "default", Trigger: "approval", Mode: "apply", Outcome: "applied",
		StartedAt: now, FinishedAt: &now, ApprovedRun: id, ApprovedBy: user, Counts: Counts{Create: 1, Update: 1, Delete: 1}}
	a.src.add(RunDetail{Run: r})
	return r, nil
}

func (a *applier) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// client is a browser-like client of a console: it keeps cookies and does
// not follow redirects (tests look at them).
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, base: srv.URL, http: hc}
}

type answer struct {
	code   int
	body   string
	header http.Header
}

func (c *client) do(method, path string, form url.Values, header map[string]string) answer {
	c.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{code: resp.StatusCode, body: string(b), header: resp.Header}
}

func (c *client) get(path string) answer { return c.do("GET", path, nil, nil) }

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token of the page's first form.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", page)
	}
	return m[1]
}

// signIn signs in with token and returns the answer to the POST.
func (c *client) signIn(token string) answer {
	c.t.Helper()
	form := c.get("/login")
	if form.code != 200 {
		c.t.Fatalf("GET /login: %d\n%s", form.code, form.body)
	}
	return c.do("POST", "/login", url.Values{"csrf": {csrfOf(c.t, form.body)}, "token": {token}}, nil)
}

// setup serves a console over mem data; tls chooses HTTPS.
func setup(t *testing.T, tls bool, mod func(*Options)) (*client, *memSource, *applier) {
	t.Helper()
	src := newMemSource()
	ap := &applier{src: src}
	o := Options{Source: src, Apply: ap.apply, Token: testToken, Outcomes: testOutcomes}
	if mod != nil {
		mod(&o)
	}
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(New(o))
	} else {
		srv = httptest.NewServer(New(o))
	}
	t.Cleanup(srv.Close)
	return newClient(t, srv), src, ap
}
