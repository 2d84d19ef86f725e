package liveperson_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// The contract suite runs the client against lpsim, the simulator that
// follows docs/liveperson-api.md, for every auth method and endpoint, and
// under injected faults.

const (
	account   = "12345678"
	skillsAPI = "/api/account/" + account + "/configuration/le-users/skills"
	usersAPI  = "/api/account/" + account + "/configuration/le-users/users"
)

var authMethods = []struct {
	name string
	auth liveperson.AuthConfig
}{
	{"oauth2", liveperson.AuthConfig{Method: "oauth2", ClientID: "client-id", ClientSecret: "client-secret-1"}},
	{"oauth1", liveperson.AuthConfig{Method: "oauth1", AppKey: "app-key", Secret: "consumer-secret",
		AccessToken: "access-token", AccessTokenSecret: "token-secret"}},
	{"login", liveperson.AuthConfig{Method: "login", Username: "bot", Password: "bot-password"}},
	{"login-app", liveperson.AuthConfig{Method: "login", Username: "bot", AppKey: "app-key", Secret: "consumer-secret",
		AccessToken: "access-token", AccessTokenSecret: "token-secret"}},
}

// clock is a settable clock shared by the client and lpsim.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one client against one lpsim server.
type env struct {
	method string // auth method name
	c      *liveperson.Client
	srv    *lpsim.Server
	sim    *lpsim.Sim
	clock  *clock

	mu     sync.Mutex
	waits  []time.Duration
	counts map[string]int // "METHOD endpoint status" -> attempts
	logs   bytes.Buffer   // the client's debug log
}

func (e *env) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.Write(p)
}

// secrets are every credential value used in the suite.
var secrets = []string{"client-secret-1", "consumer-secret", "access-token", "token-secret", "bot-password"}

func (e *env) recordedWaits() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.waits)
}

type envOpts struct {
	auth liveperson.AuthConfig
	sim  func(*lpsim.Options)
	cfg  func(*liveperson.Config)
}

// scaledDelays is LivePerson's 5, 10, 15 s schedule in milliseconds: the
// client records the waits it decides on (the full values) and the test
// waits the scaled ones, so the schedule is asserted without wall time.
var scaledDelays = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.auth.Method == "" {
		o.auth = authMethods[0].auth
	}
	clk := &clock{t: time.Now()}
	simOpts := lpsim.Options{
		AccountID: account, ClientID: "client-id", ClientSecret: "client-secret-1",
		AppKey: "app-key", Secret: "consumer-secret", AccessToken: "access-token", AccessTokenSecret: "token-secret",
		Username: "bot", Password: "bot-password", Now: clk.Now,
	}
	if o.sim != nil {
		o.sim(&simOpts)
	}
	sim := lpsim.New(simOpts)
	srv := lpsim.Serve(sim)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, sim: sim, clock: clk, counts: map[string]int{}}
	cfg := liveperson.Config{
		AccountID:    account,
		DomainAPIURL: srv.URL(),
		Auth:         o.auth,
		RetryDelays:  scaledDelays,
		Timeout:      10 * time.Second,
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	c, err := liveperson.New(cfg, liveperson.Options{
		HTTPClient: srv.Client(),
		Logger:     slog.New(slog.NewTextHandler(e, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        clk.Now,
		Delay: func(d time.Duration) time.Duration {
			e.mu.Lock()
			e.waits = append(e.waits, d)
			e.mu.Unlock()
			return d / 5000 // 5 s -> 1 ms
		},
		Observe: func(endpoint, method string, status int, _ time.Duration) {
			e.mu.Lock()
			e.counts[fmt.Sprintf("%s %s %d", method, endpoint, status)]++
			e.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	e.c = c
	return e
}

func ptr[T any](v T) *T { return &v }

func TestContractEndpoints(t *testing.T) {
	t.Parallel()
	for _, am := range authMethods {
		t.Run(am.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{auth: am.auth})
			ctx := t.Context()
			c, sim := e.c, e.sim

			// Seeds in LivePerson's loose typing, with fields skillsync does
			// not know.
			seeded := sim.SeedSkills(
				map[string]any{"name": "Existing", "description": "d", "maxWaitTime": "90", "canTransfer": "true",
					"skillTransferList": nil, "pid": "p-1", "skillRoutingConfiguration": []any{map[string]any{"agentGroupId": "5", "priority": 1}}},
				map[string]any{"name": "Other", "skillTransferList": []any{}},
			)

			skills, rev, err := c.ListSkillsAt(ctx, false)
			if err != nil {
				t.Fatalf("ListSkills: %v", err)
			}
			if len(skills) != 2 || skills[0].ID != seeded[0] || *skills[0].MaxWaitTime != 90 || !*skills[0].CanTransfer {
				t.Fatalf("ListSkills = %+v", skills)
			}
			if skills[0].SkillTransferList != nil || skills[1].SkillTransferList == nil {
				t.Fatalf("null vs [] transfer lists not kept: %v / %v", skills[0].SkillTransferList, skills[1].SkillTransferList)
			}
			if string(skills[0].Extra["pid"]) != `"p-1"` {
				t.Fatalf("unknown field lost: %s", skills[0].Extra)
			}
			if rev != fmt.Sprint(sim.Revision()) {
				t.Fatalf("revision %q, lpsim at %d", rev, sim.Revision())
			}

			// A second read is served by 304 from the client's cache.
			again, err := c.ListSkills(ctx, false)
			if err != nil || len(again) != 2 || again[0].Name != "Existing" {
				t.Fatalf("second ListSkills = %v, %v", again, err)
			}
			reqs := sim.Requests()
			if last := reqs[len(reqs)-1]; last.Status != http.StatusNotModified || !strings.Contains(last.Query, "select=%24all") {
				t.Fatalf("second list: %+v, want a 304 for select=$all", last)
			}

			one, err := c.GetSkill(ctx, seeded[0])
			if err != nil || one.Name != "Existing" {
				t.Fatalf("GetSkill = %+v, %v", one, err)
			}
			if _, err := c.GetSkill(ctx, 999); !errors.Is(err, liveperson.ErrNotFound) {
				t.Fatalf("GetSkill(missing) error %v, want ErrNotFound", err)
			}

			created, _, err := c.CreateSkills(ctx, rev, []liveperson.Skill{
				{Name: "Payroll", Description: "HR queue", MaxWaitTime: ptr(120), SkillTransferList: []int64{seeded[0]}},
				{Name: "Benefits"},
			})
			if err != nil {
				t.Fatalf("CreateSkills: %v", err)
			}
			if len(created) != 2 || created[0].ID == 0 || created[0].Name != "Payroll" || created[1].ID == 0 {
				t.Fatalf("CreateSkills = %+v", created)
			}

			// Update: change the description, keep everything else as read.
			skills, rev, err = c.ListSkillsAt(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			upd := skills[0]
			upd.Description = "edited"
			updated, _, err := c.UpdateSkills(ctx, rev, []liveperson.Skill{upd})
			if err != nil {
				t.Fatalf("UpdateSkills: %v", err)
			}
			if updated[0].Description != "edited" {
				t.Fatalf("UpdateSkills = %+v", updated)
			}
			stored := sim.Skills(false)[0]
			if stored["description"] != "edited" || stored["pid"] != "p-1" || stored["skillRoutingConfiguration"] == nil {
				t.Fatalf("lpsim holds %v: unknown fields must survive the update", stored)
			}

			// Users: read-modify-write of skillIds only.
			uids := sim.SeedUsers(map[string]any{"loginName": "ann", "email": "ann@example.com", "profileIds": []any{1},
				"skillIds": []any{}, "maxChats": "4", "customField": map[string]any{"x": 1}})
			users, rev, err := c.ListUsersAt(ctx)
			if err != nil || len(users) != 1 || users[0].ID != uids[0] {
				t.Fatalf("ListUsers = %+v, %v", users, err)
			}
			if r := lastRequest(sim, "GET", usersAPI); !strings.Contains(r.Query, "select=%24all") {
				t.Fatalf("users list query %q lacks select=$all", r.Query)
			}
			u, err := c.GetUser(ctx, uids[0])
			if err != nil || u.LoginName != "ann" {
				t.Fatalf("GetUser = %+v, %v", u, err)
			}
			u.SkillIDs = []int64{created[0].ID}
			if rev, err = c.UpdateUsers(ctx, rev, []liveperson.User{u}); err != nil {
				t.Fatalf("UpdateUsers: %v", err)
			}
			su := sim.Users()[0]
			if fmt.Sprint(su["skillIds"]) != fmt.Sprintf("[%d]", created[0].ID) || su["maxChats"] != "4" || su["customField"] == nil {
				t.Fatalf("lpsim user %v", su)
			}

			// A skill a user holds cannot be deleted.
			if _, err := c.DeleteSkills(ctx, rev, []int64{created[0].ID}); !errors.Is(err, liveperson.ErrSkillDependencies) {
				t.Fatalf("DeleteSkills(held) error %v, want ErrSkillDependencies", err)
			}
			if _, err := c.DeleteSkills(ctx, rev, []int64{created[1].ID}); err != nil {
				t.Fatalf("DeleteSkills: %v", err)
			}
			all, err := c.ListSkills(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(all, func(s liveperson.Skill) bool { return s.ID == created[1].ID }); i < 0 || !all[i].Deleted {
				t.Fatalf("deleted skill not listed as deleted with include_deleted")
			}
			live, _ := c.ListSkills(ctx, false)
			if slices.ContainsFunc(live, func(s liveperson.Skill) bool { return s.ID == created[1].ID }) {
				t.Fatalf("deleted skill listed without include_deleted")
			}

			// Every write carried the revision of the read before it.
			for _, r := range sim.Requests() {
				if (r.Method == "PUT" || r.Method == "DELETE") && (r.IfMatch == "" || r.IfMatch == "-1" || r.IfMatch == "*") {
					t.Errorf("%s %s sent If-Match %q", r.Method, r.Path, r.IfMatch)
				}
			}

			if err := c.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			e.mu.Lock()
			logs := e.logs.String()
			e.mu.Unlock()
			if !strings.Contains(logs, "endpoint=skills status=200") || !strings.Contains(logs, "method=DELETE") {
				t.Errorf("debug log lacks request lines:\n%s", logs)
			}
			for _, secret := range secrets {
				if strings.Contains(logs, secret) {
					t.Errorf("debug log contains the secret %q", secret)
				}
			}
			if strings.HasPrefix(am.name, "login") && sim.Count("POST", "/api/account/"+account+"/logout") != 1 {
				t.Fatalf("Close did not log out")
			}
		})
	}
}

func TestContractConflict(t *testing.T) {
	t.Parallel()
	for _, status := range []int{409, 412} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.ConflictStatus = status }})
			ctx := t.Context()
			ids := e.sim.SeedSkills(map[string]any{"name": "A"})
			skills, rev, err := e.c.ListSkillsAt(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			e.sim.EditSkill(ids[0], func(m map[string]any) { m["description"] = "by hand" })
			skills[0].Description = "by skillsync"
			_, _, err = e.c.UpdateSkills(ctx, rev, skills)
			if !errors.Is(err, liveperson.ErrConflict) {
				t.Fatalf("error %v, want ErrConflict", err)
			}
			var apiErr *liveperson.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != status || apiErr.Method != "PUT" || apiErr.Path != skillsAPI {
				t.Fatalf("APIError %+v", apiErr)
			}
			if e.sim.Count("PUT", skillsAPI) != 1 {
				t.Fatalf("a conflict was retried")
			}
			// Re-read and retry succeeds.
			skills, rev, _ = e.c.ListSkillsAt(ctx, false)
			skills[0].Description = "by skillsync"
			if _, _, err := e.c.UpdateSkills(ctx, rev, skills); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestContractFaults(t *testing.T) {
	t.Parallel()
	seed := func(e *env) []int64 {
		return e.sim.SeedSkills(map[string]any{"name": "A"}, map[string]any{"name": "B"})
	}
	tests := []struct {
		name    string
		methods []string // auth methods to run with; nil: all
		fault   lpsim.Fault
		run     func(t *testing.T, e *env)
	}{
		{
			name:  "5xx burst on GET retried on the documented schedule",
			fault: lpsim.Fault{Method: "GET", PathPrefix: skillsAPI, Status: 503, Times: 3},
			run: func(t *testing.T, e *env) {
				if _, err := e.c.ListSkills(t.Context(), false); err != nil {
					t.Fatal(err)
				}
				if got := e.recordedWaits(); !slices.Equal(got, scaledDelays) {
					t.Fatalf("waits %v, want %v", got, scaledDelays)
				}
				if n := e.sim.Count("GET", skillsAPI); n != 4 {
					t.Fatalf("%d GETs, want 4", n)
				}
			},
		},
		{
			name:  "5xx beyond the schedule surfaces",
			fault: lpsim.Fault{Method: "GET", PathPrefix: skillsAPI, Status: 500, Times: 10},
			run: func(t *testing.T, e *env) {
				_, err := e.c.ListSkills(t.Context(), false)
				var apiErr *liveperson.APIError
				if !errors.As(err, &apiErr) || apiErr.Status != 500 || !strings.Contains(apiErr.Body, "injected fault") {
					t.Fatalf("error %v", err)
				}
				if n := e.sim.Count("GET", skillsAPI); n != 4 {
					t.Fatalf("%d GETs, want 4", n)
				}
			},
		},
		{
			name:  "429 Retry-After honoured",
			fault: lpsim.Fault{PathPrefix: skillsAPI, Status: 429, RetryAfter: "2", Times: 1},
			run: func(t *testing.T, e *env) {
				if _, err := e.c.ListSkills(t.Context(), false); err != nil {
					t.Fatal(err)
				}
				if got := e.recordedWaits(); !slices.Equal(got, []time.Duration{2 * time.Second}) {
					t.Fatalf("waits %v, want [2s]", got)
				}
			},
		},
		{
			name:  "dropped connection on GET retried",
			fault: lpsim.Fault{Method: "GET", PathPrefix: skillsAPI, Drop: true, Times: 1},
			run: func(t *testing.T, e *env) {
				if _, err := e.c.ListSkills(t.Context(), false); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "lost create response: ErrOutcomeUnknown, applied once, no duplicate",
			fault: lpsim.Fault{Method: "POST", PathPrefix: skillsAPI, LoseResponse: true, Times: 1},
			run: func(t *testing.T, e *env) {
				_, _, err := e.c.CreateSkills(t.Context(), "", []liveperson.Skill{{Name: "New"}})
				if !errors.Is(err, liveperson.ErrOutcomeUnknown) {
					t.Fatalf("error %v, want ErrOutcomeUnknown", err)
				}
				if n := e.sim.Count("POST", skillsAPI); n != 1 {
					t.Fatalf("%d POSTs, want 1 (no blind replay)", n)
				}
				if n := countNamed(e.sim.Skills(true), "New"); n != 1 {
					t.Fatalf("%d skills named New, want exactly 1", n)
				}
				// The caller re-reads and finds it.
				skills, err := e.c.ListSkills(t.Context(), true)
				if err != nil || !slices.ContainsFunc(skills, func(s liveperson.Skill) bool { return s.Name == "New" }) {
					t.Fatalf("re-read: %v", err)
				}
			},
		},
		{
			name:  "dropped create: ErrOutcomeUnknown, nothing created",
			fault: lpsim.Fault{Method: "POST", PathPrefix: skillsAPI, Drop: true, Times: 1},
			run: func(t *testing.T, e *env) {
				_, _, err := e.c.CreateSkills(t.Context(), "", []liveperson.Skill{{Name: "New"}})
				if !errors.Is(err, liveperson.ErrOutcomeUnknown) {
					t.Fatalf("error %v, want ErrOutcomeUnknown", err)
				}
				if n := e.sim.Count("POST", skillsAPI); n != 1 {
					t.Fatalf("%d POSTs, want 1", n)
				}
				if n := countNamed(e.sim.Skills(true), "New"); n != 0 {
					t.Fatalf("%d skills named New", n)
				}
			},
		},
		{
			name:  "5xx on create is not retried",
			fault: lpsim.Fault{Method: "POST", PathPrefix: skillsAPI, Status: 502, Times: 1},
			run: func(t *testing.T, e *env) {
				_, _, err := e.c.CreateSkills(t.Context(), "", []liveperson.Skill{{Name: "New"}})
				if !errors.Is(err, liveperson.ErrOutcomeUnknown) {
					t.Fatalf("error %v, want an error matching ErrOutcomeUnknown", err)
				}
				if n := e.sim.Count("POST", skillsAPI); n != 1 {
					t.Fatalf("%d POSTs, want 1", n)
				}
			},
		},
		{
			name:  "lost PUT response: the replay meets a conflict the caller handles",
			fault: lpsim.Fault{Method: "PUT", PathPrefix: skillsAPI, LoseResponse: true, Times: 1},
			run: func(t *testing.T, e *env) {
				skills, rev, err := e.c.ListSkillsAt(t.Context(), false)
				if err != nil {
					t.Fatal(err)
				}
				skills[0].Description = "x"
				_, _, err = e.c.UpdateSkills(t.Context(), rev, skills[:1])
				if !errors.Is(err, liveperson.ErrConflict) {
					t.Fatalf("error %v, want ErrConflict from the replay", err)
				}
				if e.sim.Skills(false)[0]["description"] != "x" {
					t.Fatalf("first PUT not applied")
				}
				if n := e.sim.Count("PUT", skillsAPI); n != 2 {
					t.Fatalf("%d PUTs, want 2", n)
				}
			},
		},
		{
			name:  "concurrent edit surfaces as a conflict",
			fault: lpsim.Fault{Method: "DELETE", PathPrefix: skillsAPI, ConcurrentEdit: true, Times: 1},
			run: func(t *testing.T, e *env) {
				skills, rev, err := e.c.ListSkillsAt(t.Context(), false)
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.c.DeleteSkills(t.Context(), rev, []int64{skills[0].ID})
				if !errors.Is(err, liveperson.ErrConflict) {
					t.Fatalf("error %v, want ErrConflict", err)
				}
			},
		},
		{
			name:  "expired token recovered",
			fault: lpsim.Fault{Method: "GET", PathPrefix: skillsAPI, ExpireToken: true, Times: 1},
			run: func(t *testing.T, e *env) {
				if _, err := e.c.ListSkills(t.Context(), false); err != nil {
					t.Fatalf("after token expiry: %v", err)
				}
				// One credential before the expiry, one after (OAuth 1.0
				// has none: every request is signed).
				tokens := e.sim.Count("POST", "/sentinel/") + e.sim.Count("POST", "/api/account/"+account+"/login")
				if want := map[string]int{"oauth2": 2, "oauth1": 0, "login": 2, "login-app": 2}[e.method]; tokens != want {
					t.Fatalf("%d token requests or logins, want %d", tokens, want)
				}
			},
		},
		{
			name:    "5xx from Sentinel retried",
			methods: []string{"oauth2"},
			fault:   lpsim.Fault{PathPrefix: "/sentinel/", Status: 503, Times: 2},
			run: func(t *testing.T, e *env) {
				if _, err := e.c.ListSkills(t.Context(), false); err != nil {
					t.Fatal(err)
				}
				if got := e.recordedWaits(); !slices.Equal(got, scaledDelays[:2]) {
					t.Fatalf("waits %v", got)
				}
			},
		},
		{
			name:  "discovery outage at start is retried",
			fault: lpsim.Fault{PathPrefix: "/api/account/" + account + "/service/", Drop: true, Times: 1},
			run: func(t *testing.T, e *env) {
				if _, err := e.c.ListSkills(t.Context(), false); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, am := range authMethods {
		for _, tt := range tests {
			if tt.methods != nil && !slices.Contains(tt.methods, am.name) {
				continue
			}
			t.Run(am.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOpts{auth: am.auth})
				e.method = am.name
				seed(e)
				e.sim.InjectFault(tt.fault)
				tt.run(t, e)
			})
		}
	}
}

func lastRequest(sim *lpsim.Sim, method, path string) lpsim.Request {
	reqs := sim.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method && reqs[i].Path == path {
			return reqs[i]
		}
	}
	return lpsim.Request{}
}

func countNamed(skills []map[string]any, name string) int {
	n := 0
	for _, s := range skills {
		if s["name"] == name {
			n++
		}
	}
	return n
}

func TestContractTokenLifetime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.TokenTTL = 20 * time.Minute }})
	ctx := t.Context()
	if _, err := e.c.ListSkills(ctx, false); err != nil {
		t.Fatal(err)
	}
	// 16 minutes in: within a quarter of the 20-minute lifetime of exp, so
	// the client renews before sending, and lpsim never sees a stale token.
	e.clock.Add(16 * time.Minute)
	if _, err := e.c.ListSkills(ctx, true); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Count("POST", "/sentinel/"); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	for _, r := range e.sim.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Fatalf("a request was refused: %+v", r)
		}
	}
}

func TestContractLogin(t *testing.T) {
	t.Parallel()
	login := authMethods[2].auth
	loginPath := "/api/account/" + account + "/login"
	t.Run("refreshed while in use, new login after the session lapsed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{auth: login, sim: func(o *lpsim.Options) { o.TokenTTL = 30 * time.Minute }})
		ctx := t.Context()
		if _, err := e.c.ListSkills(ctx, false); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(5 * time.Minute)
		if _, err := e.c.ListSkills(ctx, true); err != nil {
			t.Fatal(err)
		}
		if n := e.sim.Count("POST", "/api/account/"+account+"/refresh"); n != 1 {
			t.Fatalf("%d refreshes, want 1", n)
		}
		e.clock.Add(31 * time.Minute)
		if _, err := e.c.ListSkills(ctx, false); err != nil {
			t.Fatal(err)
		}
		if n := e.sim.Count("POST", loginPath); n != 2 {
			t.Fatalf("%d logins, want 2", n)
		}
	})
	t.Run("short session refreshed halfway", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{auth: login, sim: func(o *lpsim.Options) { o.TokenTTL = 2 * time.Minute }})
		for range 4 {
			if _, err := e.c.ListSkills(t.Context(), false); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(90 * time.Second)
		}
		if n := e.sim.Count("POST", loginPath); n != 1 {
			t.Fatalf("%d logins, want 1: the session should have been kept alive", n)
		}
		if n := e.sim.Count("POST", "/api/account/"+account+"/refresh"); n != 3 {
			t.Fatalf("%d refreshes, want 3", n)
		}
	})
	t.Run("expired session: re-login on 401", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{auth: login})
		if _, err := e.c.ListSkills(t.Context(), false); err != nil {
			t.Fatal(err)
		}
		e.sim.ExpireTokens()
		if _, err := e.c.ListSkills(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		if n := e.sim.Count("POST", loginPath); n != 2 {
			t.Fatalf("%d logins, want 2", n)
		}
	})
	t.Run("429 from login backs off at least 5 s", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{auth: login})
		e.sim.InjectFault(lpsim.Fault{PathPrefix: loginPath, Status: 429, Times: 1})
		if _, err := e.c.ListSkills(t.Context(), false); err != nil {
			t.Fatal(err)
		}
		if w := e.recordedWaits(); len(w) != 1 || w[0] < 5*time.Second {
			t.Fatalf("waits %v, want one of at least 5s", w)
		}
	})
	t.Run("451 is fatal", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{auth: login})
		e.sim.InjectFault(lpsim.Fault{PathPrefix: loginPath, Status: 451, Times: 5})
		_, err := e.c.ListSkills(t.Context(), false)
		var apiErr *liveperson.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 451 || !strings.Contains(err.Error(), "blocked") {
			t.Fatalf("error %v", err)
		}
		if n := e.sim.Count("POST", loginPath); n != 1 {
			t.Fatalf("%d logins, want 1", n)
		}
	})
	t.Run("wrong password is final and not leaked", func(t *testing.T) {
		t.Parallel()
		bad := login
		bad.Password = "wrong-password"
		e := newEnv(t, envOpts{auth: bad})
		_, err := e.c.ListSkills(t.Context(), false)
		var apiErr *liveperson.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 401 || strings.Contains(err.Error(), "wrong-password") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestContractOAuth1Clock(t *testing.T) {
	t.Parallel()
	// Each attempt is signed with a fresh nonce: lpsim refuses a reused
	// nonce, so a 5xx retry would fail with 401 otherwise.
	e := newEnv(t, envOpts{auth: authMethods[1].auth})
	e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: skillsAPI, Status: 500, Times: 2})
	if _, err := e.c.ListSkills(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Count("GET", skillsAPI); n != 3 {
		t.Fatalf("%d GETs, want 3", n)
	}
}

func TestContractObserve(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: skillsAPI, Status: 503, Times: 1})
	if _, err := e.c.ListSkills(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	got := fmt.Sprint(e.counts)
	e.mu.Unlock()
	want := "map[GET discovery 200:1 GET skills 200:1 GET skills 503:1 POST token 200:1]"
	if got != want {
		t.Fatalf("observed %s, want %s", got, want)
	}
}

// createChunked creates skills in batches of the client's BatchSize, as the
// engine does.
func createChunked(ctx context.Context, c *liveperson.Client, skills []liveperson.Skill) error {
	for chunk := range slices.Chunk(skills, c.BatchSize()) {
		if _, _, err := c.CreateSkills(ctx, "", chunk); err != nil {
			return err
		}
	}
	return nil
}

func manySkills(n int) []liveperson.Skill {
	out := make([]liveperson.Skill, n)
	for i := range out {
		out[i] = liveperson.Skill{Name: fmt.Sprintf("Skill %04d", i), Description: "bulk", MaxWaitTime: ptr(120)}
	}
	return out
}

func TestContractBatchCreateCost(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{50, 7, 1000} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: func(c *liveperson.Config) { c.BatchSize = batch }})
			if err := createChunked(t.Context(), e.c, manySkills(1000)); err != nil {
				t.Fatal(err)
			}
			want := (1000 + batch - 1) / batch
			if n := e.sim.Count("POST", skillsAPI); n != want {
				t.Fatalf("%d POSTs for 1000 skills in batches of %d, want %d", n, batch, want)
			}
			if n := len(e.sim.Skills(false)); n != 1000 {
				t.Fatalf("%d skills created", n)
			}
		})
	}
}

func BenchmarkBatchCreate1000(b *testing.B) {
	skills := manySkills(1000)
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, envOpts{})
		// Warm discovery and the token so only the creates are timed.
		if _, err := e.c.ListSkills(b.Context(), false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := createChunked(b.Context(), e.c, skills); err != nil {
			b.Fatal(err)
		}
	}
}

func TestContractPlainHTTPSimulator(t *testing.T) {
	t.Parallel()
	// lpsim served without TLS on loopback (as for manual testing): the
	// discovered hosts are used over plain http.
	sim := lpsim.New(lpsim.Options{AccountID: account, ClientID: "client-id", ClientSecret: "client-secret-1"})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := liveperson.New(liveperson.Config{
		AccountID: account, DomainAPIURL: srv.URL, Auth: authMethods[0].auth,
	}, liveperson.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	sim.SeedSkills(map[string]any{"name": "A"})
	skills, err := c.ListSkills(t.Context(), false)
	if err != nil || len(skills) != 1 {
		t.Fatalf("ListSkills = %v, %v", skills, err)
	}
}
