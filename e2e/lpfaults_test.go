package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// TestContract walks the happy path of the command-line contract once: plan
// with its exit codes and JSON, sync, a converged plan, the run history.
func TestContract(t *testing.T) {
	t.Parallel()
	ps := staff(12, 2, 1)
	f := setup(t, options{people: ps})
	keep := seedUnowned(f.sim, "Hand made")

	// The secrets come from the environment and are printed redacted.
	res := f.mustRun(exitOK, "config", "check")
	if !strings.Contains(res.stdout, "client_id: "+clientID) || !strings.Contains(res.stderr, "configuration is valid") {
		t.Errorf("config check: %s", res)
	}

	res = f.mustRun(exitChanges, "plan", "--detailed-exitcode")
	if !strings.Contains(res.stdout, "+ Dept 00 / Team 0000") {
		t.Errorf("the text plan lacks a create:\n%s", res.stdout)
	}
	p := decodePlan(t, f.mustRun(exitOK, "plan", "--format", "json"))
	for _, k := range []string{"create", "update", "delete", "pending_delete", "unchanged", "unmanaged_conflict"} {
		if _, ok := p.Summary[k]; !ok {
			t.Errorf("the JSON plan's summary lacks %q: %v", k, p.Summary)
		}
	}
	if p.Summary["create"] != 12 || len(p.Changes) != 12 {
		t.Fatalf("JSON plan: %v, %d changes", p.Summary, len(p.Changes))
	}
	if c := p.Changes[0]; c.Action != "create" || c.Skill != "Dept 00 / Team 0000" || c.Rule != "team" || c.Members != 2 || len(c.Fields) == 0 {
		t.Errorf("first change: %+v", c)
	}
	if w := writes(f.sim); len(w) != 0 {
		t.Fatalf("plan wrote to LivePerson: %v", w)
	}
	// Plans go to stdout and logs to stderr: stdout is pure JSON.
	p = decodePlan(t, f.mustRun(exitOK, "sync", "--format", "json"))
	if p.Summary["create"] != 12 {
		t.Errorf("sync plan: %v", p.Summary)
	}
	f.checkConverged(ps, keep)
	runs := f.runs()
	if len(runs) != 4 || runs[2].Mode != "apply" || runs[2].Outcome != "applied" || runs[2].Counts["create"] != 12 || runs[3].Outcome != "no_changes" {
		t.Errorf("runs: %+v", runs)
	}
	f.checkDBNoSecrets()
	d := f.runShow(runs[2].ID)
	if len(d.Operations) != 12 {
		t.Errorf("the apply run journaled %d operations, want 12", len(d.Operations))
	}
	for _, op := range d.Operations {
		if op.Action != "create" || op.State != "done" || op.SkillID == nil {
			t.Errorf("operation %+v", op)
		}
	}
}

// faultCase is a LivePerson failure injected into one sync.
type faultCase struct {
	name string
	// notFor lists the auth methods the fault does not apply to.
	notFor []string
	// prepare runs before the faulty sync (a first clean sync, drift) and
	// returns the people the faulty sync gets; nil keeps them.
	prepare func(f *fixture, ps []person) []person
	fault   lpsim.Fault
	// hook, when set, is installed instead of fault.
	hook func(f *fixture) hookFunc
	// check looks at the faulty sync's requests (the log was reset before it).
	check func(t *testing.T, f *fixture, log []lpsim.Request)
	// assign turns assignments on, with one LivePerson user per person.
	assign bool
	// conflictCode is lpsim's answer to a stale If-Match (default 409).
	conflictCode int
	// enforceIfMatchOnCreate makes lpsim check If-Match on creates too
	// (LivePerson documents none on Create; lpsim ignores it by default).
	enforceIfMatchOnCreate bool
	// settledNextRun: the fault leaves creates whose outcome the run
	// cannot learn (nothing is sent again in the same run: the list may
	// lag behind a create); the faulty sync ends partial (exit 1) and the
	// next sync settles them.
	settledNextRun bool
}

// concurrentEdit edits a skill that is not ours while the third create
// batch arrives.
func concurrentEdit(f *fixture) hookFunc {
	other := f.sim.SeedSkills(map[string]any{"name": "Someone else's"})[0]
	var mu gosync.Mutex
	posts := 0
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPost && r.URL.Path == skillsPath {
			mu.Lock()
			posts++
			n := posts
			mu.Unlock()
			if n == 3 {
				f.sim.EditSkill(other, func(m map[string]any) { m["description"] = "edited meanwhile" })
			}
		}
		next.ServeHTTP(w, r)
	}
}

func checkConflict(status int) func(*testing.T, *fixture, []lpsim.Request) {
	return func(t *testing.T, f *fixture, log []lpsim.Request) {
		if s := statuses(log, http.MethodPost, skillsPath); !slices.Contains(s, status) {
			t.Errorf("POST statuses %v: the concurrent edit caused no %d", s, status)
		}
	}
}

// firstSync is a prepare step: a clean first sync.
func firstSync(f *fixture, ps []person) []person {
	f.mustRun(exitOK, "sync")
	return nil
}

// drift edits three owned skills by hand after a first sync, so the
// faulty sync has updates to send.
func drift(f *fixture, ps []person) []person {
	firstSync(f, ps)
	edited := 0
	for _, s := range f.sim.Skills(false) {
		if strings.HasPrefix(s["name"].(string), "Dept ") && edited < 3 {
			f.sim.EditSkill(s["id"].(int64), func(m map[string]any) { m["description"] = "edited by hand" })
			edited++
		}
	}
	return nil
}

// dropTeams removes the last two teams from HR after a first sync, so the
// faulty sync has deletes to send.
func dropTeams(f *fixture, ps []person) []person {
	firstSync(f, ps)
	return ps[:len(ps)-4]
}

// moveStaff moves the first two people to another team after a first
// sync, so the faulty sync has user updates to send.
func moveStaff(f *fixture, ps []person) []person {
	firstSync(f, ps)
	next := slices.Clone(ps)
	next[0].Dept, next[0].Team = ps[len(ps)-1].Dept, ps[len(ps)-1].Team
	next[1].Dept, next[1].Team = ps[len(ps)-3].Dept, ps[len(ps)-3].Team
	return next
}

// statuses lists the statuses of the logged requests with method and a
// path starting with prefix (0 for a dropped connection, the handler's
// status for a lost response).
func statuses(log []lpsim.Request, method, prefix string) []int {
	var out []int
	for _, r := range matching(log, method, prefix) {
		out = append(out, r.Status)
	}
	return out
}

// matching returns the logged requests with method and path prefix.
func matching(log []lpsim.Request, method, prefix string) []lpsim.Request {
	var out []lpsim.Request
	for _, r := range log {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// checkRetried checks that the first n requests matching method failed
// with status, that the next succeeded, and that each retry waited at
// least the configured delay (50, 100, 150 ms).
func checkRetried(method string, status, n int) func(*testing.T, *fixture, []lpsim.Request) {
	return func(t *testing.T, f *fixture, log []lpsim.Request) {
		t.Helper()
		reqs := matching(log, method, skillsPath)
		if len(reqs) < n+1 {
			t.Fatalf("%d %s requests, want at least %d: %v", len(reqs), method, n+1, statuses(log, method, skillsPath))
		}
		delays := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond}
		for i := range n + 1 {
			want := status
			if i == n {
				want = 0 // a success, checked below
			}
			got := reqs[i].Status
			if reqs[i].Dropped {
				got = -1
			}
			if want != 0 && got != want || want == 0 && (got < 200 || got > 299) {
				t.Errorf("%s attempt %d: status %d (dropped %v), want %d (0: a success); all: %v", method, i+1, reqs[i].Status, reqs[i].Dropped, want, statuses(log, method, skillsPath))
			}
			if i > 0 {
				// A lower bound only: waiting less than LivePerson's schedule
				// is the defect; waiting more is the machine being busy.
				if gap := reqs[i].Time.Sub(reqs[i-1].Time); gap < delays[i-1] {
					t.Errorf("%s retry %d came %s after the failure, want at least %s", method, i, gap, delays[i-1])
				}
			}
		}
	}
}

var faultCases = []faultCase{
	{
		name:  "5xx burst on read",
		fault: lpsim.Fault{Method: http.MethodGet, PathPrefix: skillsPath, Status: 503, Times: 3},
		check: checkRetried(http.MethodGet, 503, 3),
	},
	{
		name:    "5xx burst on update",
		prepare: drift,
		fault:   lpsim.Fault{Method: http.MethodPut, PathPrefix: skillsPath, Status: 502, Times: 2},
		check:   checkRetried(http.MethodPut, 502, 2),
	},
	{
		name:    "5xx burst on delete",
		prepare: dropTeams,
		fault:   lpsim.Fault{Method: http.MethodDelete, PathPrefix: skillsPath, Status: 503, Times: 2},
		check:   checkRetried(http.MethodDelete, 503, 2),
	},
	{
		// A 5xx to a create may hide a create that happened: the client
		// must not replay it blindly but re-read and match by name.
		name:           "5xx on create",
		fault:          lpsim.Fault{Method: http.MethodPost, PathPrefix: skillsPath, Status: 500},
		settledNextRun: true,
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			if s := statuses(log, http.MethodPost, skillsPath); len(s) < 2 || s[0] != 500 {
				t.Errorf("POST statuses %v, want a 500 first", s)
			}
		},
	},
	{
		name:  "429 with Retry-After",
		fault: lpsim.Fault{Method: http.MethodPost, PathPrefix: skillsPath, Status: 429, RetryAfter: "2"},
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			reqs := matching(log, http.MethodPost, skillsPath)
			if len(reqs) < 2 || reqs[0].Status != 429 {
				t.Fatalf("POST statuses %v, want a 429 first", statuses(log, http.MethodPost, skillsPath))
			}
			if gap := reqs[1].Time.Sub(reqs[0].Time); gap < 2*time.Second {
				t.Errorf("the retry came %s after a 429 with Retry-After: 2", gap)
			}
		},
	},
	{
		name:  "dropped connections on read",
		fault: lpsim.Fault{Method: http.MethodGet, PathPrefix: skillsPath, Drop: true, Times: 2},
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			reqs := matching(log, http.MethodGet, skillsPath)
			if len(reqs) < 3 || !reqs[0].Dropped || !reqs[1].Dropped || reqs[2].Dropped || reqs[2].Status != 200 {
				t.Errorf("GET skills: %+v", reqs)
			}
		},
	},
	{
		name:           "dropped connection on create",
		fault:          lpsim.Fault{Method: http.MethodPost, PathPrefix: skillsPath, Drop: true},
		settledNextRun: true,
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			if reqs := matching(log, http.MethodPost, skillsPath); len(reqs) < 2 || !reqs[0].Dropped {
				t.Errorf("POST skills: %+v", reqs)
			}
		},
	},
	{
		// The create is applied and its answer lost: re-reading must find
		// the skills by name and not create them twice (checkConverged
		// counts them).
		name:  "lost create response",
		fault: lpsim.Fault{Method: http.MethodPost, PathPrefix: skillsPath, LoseResponse: true},
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			reqs := matching(log, http.MethodPost, skillsPath)
			if len(reqs) == 0 || !reqs[0].Dropped || reqs[0].Status/100 != 2 {
				t.Fatalf("POST skills: %+v", reqs)
			}
			if gets := matching(log, http.MethodGet, skillsPath); len(gets) < 2 || !gets[1].Time.After(reqs[0].Time) {
				t.Errorf("no re-read of the skills after the lost create")
			}
		},
	},
	{
		// Someone edits another skill in LivePerson between our second and
		// third create batches. LivePerson documents no If-Match on
		// Create: the creates go through, and the edit stays.
		name: "concurrent edit mid-apply",
		hook: concurrentEdit,
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			if s := statuses(log, http.MethodPost, skillsPath); slices.ContainsFunc(s, func(c int) bool { return c/100 != 2 }) {
				t.Errorf("POST statuses %v: a create failed", s)
			}
			for _, sk := range f.sim.Skills(false) {
				if sk["name"] == "Someone else's" && sk["description"] != "edited meanwhile" {
					t.Errorf("the concurrent edit was lost: %v", sk)
				}
			}
		},
	},
	{
		// The same on a server that does check If-Match on creates: the
		// stale one is refused, the account re-read and the rest created.
		name:                   "concurrent edit mid-apply, If-Match checked on create",
		hook:                   concurrentEdit,
		enforceIfMatchOnCreate: true,
		check:                  checkConflict(409),
	},
	{
		// The same, with LivePerson answering a stale If-Match with 412
		// (undocumented: the client must take either).
		name:                   "concurrent edit mid-apply, If-Match checked on create (412)",
		hook:                   concurrentEdit,
		conflictCode:           412,
		enforceIfMatchOnCreate: true,
		check:                  checkConflict(412),
	},
	{
		name:    "5xx burst on user update",
		assign:  true,
		prepare: moveStaff,
		fault:   lpsim.Fault{Method: http.MethodPut, PathPrefix: usersPath, Status: 503, Times: 2},
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			if s := statuses(log, http.MethodPut, usersPath); len(s) < 3 || s[0] != 503 || s[1] != 503 || s[2]/100 != 2 {
				t.Errorf("PUT users statuses %v, want 503, 503, then a success", s)
			}
		},
	},
	{
		// Someone edits a user while we update users: our If-Match is
		// stale; the users are re-read (read-modify-write) and the edit kept.
		name:    "concurrent edit of users",
		assign:  true,
		prepare: moveStaff,
		fault:   lpsim.Fault{Method: http.MethodPut, PathPrefix: usersPath, ConcurrentEdit: true},
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			if s := statuses(log, http.MethodPut, usersPath); !slices.Contains(s, 409) {
				t.Errorf("PUT users statuses %v: the concurrent edit caused no conflict", s)
			}
			if n := len(matching(log, http.MethodGet, usersPath)); n < 2 {
				t.Errorf("users read %d times, want a re-read after the conflict", n)
			}
		},
	},
	{
		name:   "expiring token",
		notFor: []string{"oauth1"}, // OAuth 1.0 signs each request: nothing expires
		fault:  lpsim.Fault{Method: http.MethodPost, PathPrefix: skillsPath, ExpireToken: true},
		check: func(t *testing.T, f *fixture, log []lpsim.Request) {
			s := statuses(log, http.MethodPost, skillsPath)
			if len(s) < 2 || s[0] != 401 || s[1]/100 != 2 {
				t.Errorf("POST statuses %v, want a 401 then a success after re-authenticating", s)
			}
			var auth int
			for _, r := range log {
				if strings.Contains(r.Path, "/token") || strings.HasSuffix(r.Path, "/login") {
					auth++
				}
			}
			if auth == 0 {
				t.Errorf("no new token or login after the 401: %v", log)
			}
		},
	},
}

// TestLivePersonFaults injects each fault into a sync under each auth
// method: the sync must succeed, converge with no duplicate and leave the
// unowned skills alone, and the fault must have fired as intended.
func TestLivePersonFaults(t *testing.T) {
	t.Parallel()
	for _, auth := range authMethods {
		for _, c := range faultCases {
			if slices.Contains(c.notFor, auth) {
				continue
			}
			t.Run(auth+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				ps := staff(40, 2, 1) // 40 skills: 4 create batches of 10
				o := options{auth: auth, people: ps, sim: lpsim.Options{ConflictStatus: c.conflictCode, EnforceIfMatchOnCreate: c.enforceIfMatchOnCreate}}
				if c.assign {
					o.extra = "assignments: {enabled: true, match: email, max_changes_percent: 100}\n"
				}
				f := setup(t, o)
				keep := seedUnowned(f.sim, "Hand made", "Escalations")
				if c.assign {
					seedAgents(f.sim, ps, keep)
				}
				if c.prepare != nil {
					if next := c.prepare(f, ps); next != nil {
						ps = next
						f.writeHR(ps)
					}
				}
				f.sim.ResetLog()
				if c.hook != nil {
					f.lp.Intercept(c.hook(f))
					keep = nil // the hook seeds a skill of its own
				} else {
					f.sim.InjectFault(c.fault)
				}
				want := exitOK
				if c.settledNextRun {
					want = exitError
				}
				res := f.mustRun(want, "sync")
				log := f.sim.Requests()
				c.check(t, f, log)
				f.lp.Intercept(nil)
				if c.settledNextRun {
					f.mustRun(exitOK, "sync")
				}
				if keep == nil {
					keep = map[int64]string{}
					for _, s := range f.sim.Skills(true) {
						if n := s["name"].(string); n == "Someone else's" || n == "Hand made" || n == "Escalations" || n == "Agents' own" {
							keep[s["id"].(int64)] = fmt.Sprint(s)
						}
					}
				}
				f.checkConverged(ps, keep)
				if c.assign {
					f.checkAssignments(ps)
				}
				f.checkDBNoSecrets()
				if t.Failed() {
					t.Logf("the faulty sync: %s", res)
				}
			})
		}
	}
}

// TestDaemonOutlivesItsTokens runs the daemon with tokens and sessions
// that live 300 ms, on a one-second schedule: every run after the first
// finds its credentials expired and must re-authenticate, not fail.
func TestDaemonOutlivesItsTokens(t *testing.T) {
	t.Parallel()
	for _, auth := range []string{"oauth2", "login"} {
		t.Run(auth, func(t *testing.T) {
			t.Parallel()
			ps := staff(20, 2, 1)
			f := setup(t, options{auth: auth, people: ps, sim: lpsim.Options{TokenTTL: 300 * time.Millisecond},
				extra: "run_at_start: true\n"})
			f.setSchedule("@every 1s")
			d := f.start("run")
			d.addr()
			f.waitUntil(time.Minute, "four runs have finished", func() bool {
				return len(d.logged("run finished")) >= 4
			})
			if code := d.stop(time.Minute); code != 0 {
				t.Errorf("exit %d after SIGTERM", code)
			}
			for _, r := range f.runs() {
				if r.Outcome != "applied" && r.Outcome != "no_changes" {
					t.Errorf("run %d: %s (%s)", r.ID, r.Outcome, r.Error)
				}
			}
			var auths, unauthorized int
			for _, r := range f.sim.Requests() {
				if strings.Contains(r.Path, "/token") || strings.HasSuffix(r.Path, "/login") || strings.HasSuffix(r.Path, "/refresh") {
					auths++
				}
				if r.Status == http.StatusUnauthorized {
					unauthorized++
				}
			}
			// The start-up run and the first scheduled one may come less
			// than 300 ms apart; the later ones are a second apart.
			if auths < 3 {
				t.Errorf("%d authentications over four runs with tokens living 300 ms", auths)
			}
			t.Logf("%d authentications, %d requests answered 401", auths, unauthorized)
			f.checkConverged(ps, nil)
		})
	}
}

// TestLivePersonDownLongerThanRetries: when LivePerson keeps failing past
// the retry schedule, the run ends in error with exit 1 and a message
// naming the failure, and the next sync, with LivePerson back, converges.
func TestLivePersonDownLongerThanRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(*fixture, []person) []person
		fault   lpsim.Fault
		outcome string
		want    string
	}{
		{
			name:    "reads",
			fault:   lpsim.Fault{Method: http.MethodGet, PathPrefix: skillsPath, Status: 503, Times: 4},
			outcome: "failed",
			want:    "503",
		},
		{
			// The batch fails, then each item alone: every update is
			// recorded as failed, none is lost.
			name:    "updates",
			prepare: drift,
			fault:   lpsim.Fault{Method: http.MethodPut, PathPrefix: skillsPath, Status: 503, Times: 1000},
			outcome: "partial",
			want:    "runs show",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps := staff(20, 2, 1)
			f := setup(t, options{people: ps})
			keep := seedUnowned(f.sim, "Hand made")
			if tc.prepare != nil {
				tc.prepare(f, ps)
			}
			f.sim.ResetLog()
			f.sim.InjectFault(tc.fault)
			res := f.mustRun(exitError, "sync")
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("stderr lacks %q: %s", tc.want, res)
			}
			runs := f.runs()
			last := runs[len(runs)-1]
			if last.Outcome != tc.outcome {
				t.Errorf("run %d: %s (%s), want %s", last.ID, last.Outcome, last.Error, tc.outcome)
			}
			if tc.outcome == "partial" {
				failed := 0
				for _, op := range f.runShow(last.ID).Operations {
					if op.State == "failed" && op.HTTPStatus != nil && *op.HTTPStatus == 503 {
						failed++
					}
				}
				if failed != 3 || last.Counts["failed"] != 3 {
					t.Errorf("%d operations journaled as failed with 503, counts %v; want the 3 updates", failed, last.Counts)
				}
			}
			f.sim.ClearFaults()
			f.mustRun(exitOK, "sync")
			f.checkConverged(ps, keep)
		})
	}
}

// TestDatabaseUnreachable: without its database skillsync does nothing,
// says which database it could not reach, and exits 1.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	f := setup(t, options{dbURL: "postgres://skillsync@127.0.0.1:1/skillsync_e2e?sslmode=disable&connect_timeout=5"})
	for _, args := range [][]string{{"sync"}, {"plan"}, {"runs"}} {
		res := f.mustRun(exitError, args...)
		if !strings.Contains(res.stderr, "127.0.0.1") || !strings.Contains(res.stderr, "skillsync_e2e") {
			t.Errorf("the error does not name the database: %s", res)
		}
	}
	if n := len(f.sim.Requests()); n != 0 {
		t.Errorf("%d requests reached LivePerson without a database to record them", n)
	}
}
