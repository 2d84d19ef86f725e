package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"strings"
	gosync "sync"
	"testing"

	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// exitStale: a stored plan is stale, nothing applied (design §7.2).
const exitStale = 4

// resultHeadJSON is the head of `plan|sync|apply --format json`.
type resultHeadJSON struct {
	RunID       int64          `json:"run_id"`
	Mode        string         `json:"mode"`
	Outcome     string         `json:"outcome"`
	Refused     string         `json:"refused"`
	Error       string         `json:"error"`
	ApprovedRun *int64         `json:"approved_run"`
	ApprovedBy  string         `json:"approved_by"`
	Summary     map[string]int `json:"summary"`
}

func decodeHead(t testing.TB, res result) resultHeadJSON {
	t.Helper()
	var h resultHeadJSON
	if err := json.Unmarshal([]byte(res.stdout), &h); err != nil {
		t.Fatalf("stdout is not one JSON document (%v): %s", err, res)
	}
	return h
}

// planned makes a dry run that plans to delete the last team and returns
// its run id.
func planned(t *testing.T, f *fixture, people []person) int64 {
	t.Helper()
	f.mustRun(exitOK, "sync")
	f.writeHR(people[:len(people)-2])
	h := decodeHead(t, f.mustRun(exitOK, "plan", "--format", "json"))
	if h.Outcome != "planned" || h.Summary["delete"] != 1 {
		t.Fatalf("dry run: %+v", h)
	}
	return h.RunID
}

// TestApplyStale: each reason a stored plan is stale, end to end through
// the binary: exit 4, the reason, nothing written, and no run recorded.
func TestApplyStale(t *testing.T) {
	t.Parallel()
	people := staff(10, 2, 1)
	tests := []struct {
		name   string
		sync   string
		change func(f *fixture, id int64)
		reason string
	}{
		{"revision moved", "", func(f *fixture, _ int64) {
			f.sim.SeedSkills(map[string]any{"name": "Made by hand"})
		}, "LivePerson changed since the plan was made"},
		{"hr changed", "", func(f *fixture, _ int64) {
			f.writeHR(people[:len(people)-3])
		}, "the HR records changed since the plan was made"},
		{"too old", "{max_deletes: 1000, max_delete_percent: 100, delete_after_runs: 1, plan_max_age: 1ms}", func(*fixture, int64) {},
			"more than sync.plan_max_age (1ms)"},
		{"plan differs", "", func(f *fixture, _ int64) {
			// The configuration changed: the same records and revision
			// make another plan than the one reviewed.
			cfg, err := os.ReadFile(f.cfgPath)
			if err != nil {
				f.t.Fatal(err)
			}
			cfg = []byte(strings.Replace(string(cfg), `description: "{{ .team }} of {{ .dept }}"`, `description: "{{ .team }}"`, 1))
			if err := os.WriteFile(f.cfgPath, cfg, 0o600); err != nil {
				f.t.Fatal(err)
			}
		}, "the plan made now differs from the stored one"},
		{"applied already", "", func(f *fixture, id int64) {
			f.mustRun(exitOK, "apply", fmt.Sprint(id), "--yes")
		}, "it was applied already, by run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, options{people: people, sync: tc.sync})
			id := planned(t, f, people)
			tc.change(f, id)
			runs := len(f.runs())
			f.sim.ResetLog()
			res := f.mustRun(exitStale, "apply", fmt.Sprint(id), "--yes")
			for _, want := range []string{fmt.Sprintf("plan %d is stale: ", id), tc.reason, "; run skillsync plan again"} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, res)
				}
			}
			h := decodeHead(t, f.mustRun(exitStale, "apply", fmt.Sprint(id), "--yes", "--format", "json"))
			if h.Outcome != "stale" || !strings.Contains(h.Error, tc.reason) {
				t.Errorf("apply --format json: %+v", h)
			}
			if w := writes(f.sim); len(w) != 0 {
				t.Errorf("a stale plan was written: %+v", w)
			}
			if n := len(f.runs()); n != runs {
				t.Errorf("%d runs recorded by stale applies", n-runs)
			}
		})
	}
	t.Run("needs a terminal or --yes", func(t *testing.T) {
		t.Parallel()
		f := setup(t, options{people: people})
		id := planned(t, f, people)
		f.sim.ResetLog()
		res := f.mustRun(exitError, "apply", fmt.Sprint(id))
		if !strings.Contains(res.stderr, "add --yes") || len(writes(f.sim)) != 0 {
			t.Errorf("apply without --yes and without a terminal: %s", res)
		}
		res = f.mustRun(exitError, "apply", "9999", "--yes")
		if !strings.Contains(res.stderr, "no stored plan") {
			t.Errorf("apply of an unknown run: %s", res)
		}
	})
}

// TestApplyRefusedRun: a run the source-health guard refused prints the
// plan it would have applied under the refusal and stores it; runs show
// prints it; apply --yes applies it once (trigger approval, approved_run,
// approved_by), and its HR snapshot is the baseline of the next sync.
func TestApplyRefusedRun(t *testing.T) {
	t.Parallel()
	people := staff(10, 2, 1)
	f := setup(t, options{people: people, sync: "{max_deletes: 1000, max_delete_percent: 100, delete_after_runs: 1, max_active_drop_percent: 20}"})
	f.mustRun(exitOK, "sync")
	f.writeHR(people[:10]) // half the people: refused
	res := f.mustRun(exitRefused, "sync")
	refusal := strings.Index(res.stdout, "Refused by a guard")
	plan := strings.Index(res.stdout, "The plan it would have applied")
	if refusal < 0 || plan < refusal || !strings.Contains(res.stdout, "5 to delete") {
		t.Fatalf("the refused sync does not show its plan under the refusal: %s", res)
	}
	if !strings.Contains(res.stderr, "skillsync apply") {
		t.Errorf("the refusal does not say how to approve it: %s", res.stderr)
	}
	runs := f.runs()
	id := runs[len(runs)-1].ID
	show := f.mustRun(exitOK, "runs", "show", fmt.Sprint(id))
	if !strings.Contains(show.stdout, "The plan it would have applied") || !strings.Contains(show.stdout, "stored plan") ||
		!strings.Contains(show.stdout, "- Dept 09 / Team 0009") {
		t.Errorf("runs show does not print the stored plan: %s", show)
	}
	var stored struct {
		StoredPlan struct {
			SkillsRevision string `json:"skills_revision"`
			HRFingerprint  string `json:"hr_fingerprint"`
			Refused        string `json:"refused"`
			AppliedByRun   *int64 `json:"applied_by_run"`
		} `json:"stored_plan"`
	}
	if err := json.Unmarshal([]byte(f.mustRun(exitOK, "runs", "show", fmt.Sprint(id), "--format", "json").stdout), &stored); err != nil {
		t.Fatal(err)
	}
	if sp := stored.StoredPlan; sp.SkillsRevision == "" || len(sp.HRFingerprint) != 64 || !strings.Contains(sp.Refused, "headcount") || sp.AppliedByRun != nil {
		t.Errorf("runs show --format json: stored_plan %+v", sp)
	}
	md := f.mustRun(exitOK, "runs", "show", fmt.Sprint(id), "--format", "markdown")
	if !strings.Contains(md.stdout, "| create | update | delete |") || !strings.Contains(md.stdout, "### Delete (5)") ||
		!strings.Contains(md.stdout, "<details><summary>provenance</summary>") {
		t.Errorf("runs show --format markdown: %s", md)
	}
	if len(writes(f.sim)) == 0 {
		t.Fatal("the first sync wrote nothing")
	}
	f.sim.ResetLog()

	h := decodeHead(t, f.mustRun(exitOK, "apply", fmt.Sprint(id), "--yes", "--format", "json"))
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if h.Outcome != "applied" || h.ApprovedRun == nil || *h.ApprovedRun != id || h.ApprovedBy != me.Username {
		t.Fatalf("apply: %+v", h)
	}
	if n := len(liveSkills(f.sim)); n != 5 {
		t.Errorf("%d skills after the approved plan, want 5", n)
	}
	last := f.runs()[len(f.runs())-1]
	if last.Trigger != "approval" || last.Outcome != "applied" || last.Counts["delete"] != 5 {
		t.Errorf("approval run recorded as %+v", last)
	}
	var detail struct {
		Run struct {
			ApprovedRun *int64 `json:"approved_run"`
			ApprovedBy  string `json:"approved_by"`
		} `json:"run"`
	}
	shown := f.mustRun(exitOK, "runs", "show", fmt.Sprint(last.ID), "--format", "json")
	if err := json.Unmarshal([]byte(shown.stdout), &detail); err != nil {
		t.Fatal(err)
	}
	if rv := detail.Run; rv.ApprovedRun == nil || *rv.ApprovedRun != id || rv.ApprovedBy != me.Username {
		t.Errorf("runs show of the approval run: %+v %v", rv, err)
	}
	// Overridden once: the plan is used up, and the next sync measures
	// against the approved headcount.
	f.mustRun(exitStale, "apply", fmt.Sprint(id), "--yes")
	f.mustRun(exitOK, "sync")
}

// TestApplyOverHTTP: POST /v1/runs/{id}/apply answers 200 with the run,
// 409 when the plan is stale, 404 for a run without a plan; approved_by is
// the header named by server.user_header.
func TestApplyOverHTTP(t *testing.T) {
	t.Parallel()
	people := staff(10, 2, 1)
	f := setup(t, options{people: people})
	cfg, err := os.ReadFile(f.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), `trigger_token: "${E2E_TRIGGER_TOKEN}"}`,
		`trigger_token: "${E2E_TRIGGER_TOKEN}", user_header: X-Forwarded-User}`, 1))
	if err := os.WriteFile(f.cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	id := planned(t, f, people)
	p := f.start("run")
	addr := p.addr()
	post := func(id int64, user string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/v1/runs/%d/apply", addr, id), nil)
		req.Header.Set("Authorization", "Bearer "+triggerToken)
		if user != "" {
			req.Header.Set("X-Forwarded-User", user)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("POST apply: %d %s", resp.StatusCode, b)
		}
		return resp.StatusCode, body
	}
	code, body := post(id, "carol@example.com")
	run, _ := body["run"].(map[string]any)
	if code != http.StatusOK || run["outcome"] != "applied" || run["approved_by"] != "carol@example.com" || run["approved_run"] != float64(id) {
		t.Fatalf("POST apply: %d %v", code, body)
	}
	if code, body = post(id, ""); code != http.StatusConflict || body["status"] != "stale" || !strings.Contains(fmt.Sprint(body["error"]), "applied already") {
		t.Errorf("POST apply again: %d %v", code, body)
	}
	// Without the header, the approver is the token.
	f.writeHR(people)
	again := decodeHead(t, f.mustRun(exitOK, "plan", "--format", "json"))
	code, body = post(again.RunID, "")
	if run, _ = body["run"].(map[string]any); code != http.StatusOK || run["approved_by"] != "token" {
		t.Errorf("POST apply without the user header: %d %v", code, body)
	}
	if code, body = post(9999, ""); code != http.StatusNotFound {
		t.Errorf("POST apply of an unknown run: %d %v", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/v1/runs/%d/apply", addr, id), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST apply without the token: %v %v", resp, err)
	}
	if code := p.stop(30e9); code != 0 {
		t.Errorf("daemon exit %d", code)
	}
}

// TestPlanMarkdown: plan --format markdown is a pull-request comment: the
// counts table, the changes by action, provenance folded.
func TestPlanMarkdown(t *testing.T) {
	t.Parallel()
	people := staff(3, 2, 1)
	f := setup(t, options{people: people})
	res := f.mustRun(exitOK, "plan", "--format", "markdown")
	for _, want := range []string{"## skillsync: Plan ", "| create | update | delete | pending delete | unchanged | unmanaged conflict |",
		"| 3 | 0 | 0 | 0 | 0 | 0 |", "### Create (3)", "- **Dept 00 / Team 0000**", "<details><summary>provenance</summary>",
		"rule team, 2 members: 1, 2", "skillsync apply "} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("plan --format markdown lacks %q:\n%s", want, res.stdout)
		}
	}
	res = f.mustRun(exitOK, "sync", "--format", "markdown")
	for _, want := range []string{"## skillsync: Run ", "(apply, applied)", "applied: 3 created", "### Create (3)"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("sync --format markdown lacks %q:\n%s", want, res.stdout)
		}
	}
}

// TestApplyTwiceAtOnce: two applies of one plan started at once (two
// replicas' operators): exactly one applies it; the other is refused
// (another run holds the lock, exit 1, or the plan is used up, exit 4)
// and writes nothing.
func TestApplyTwiceAtOnce(t *testing.T) {
	t.Parallel()
	people := staff(10, 2, 1)
	f := setup(t, options{people: people})
	id := planned(t, f, people)
	f.sim.ResetLog()
	codes := make(chan int, 2)
	for range 2 {
		go func() { codes <- f.run("apply", fmt.Sprint(id), "--yes").code }()
	}
	got := []int{<-codes, <-codes}
	ok := 0
	for _, c := range got {
		switch c {
		case exitOK:
			ok++
		case exitError, exitStale:
		default:
			t.Errorf("exit codes %v", got)
		}
	}
	if ok != 1 {
		t.Fatalf("exit codes %v: want exactly one apply to succeed", got)
	}
	if w := writes(f.sim); len(w) != 2 { // the rename that frees the name, then the delete
		t.Errorf("%d writes, want the plan's once: %+v", len(w), w)
	}
	approvals := 0
	for _, r := range f.runs() {
		if r.Trigger == "approval" {
			approvals++
		}
	}
	if approvals != 1 {
		t.Errorf("%d approval runs recorded, want 1", approvals)
	}
}

// TestApplyLivePersonMovesMidway: someone changes the account while an
// approved plan is being written: the rest is not planned again, the run
// ends partial (exit 1) and says to plan again.
func TestApplyLivePersonMovesMidway(t *testing.T) {
	t.Parallel()
	people := staff(10, 2, 1)
	f := setup(t, options{people: people, batch: 2, sync: "{max_deletes: 1000, max_delete_percent: 100, delete_after_runs: 1, max_active_drop_percent: -1}"})
	f.mustRun(exitOK, "sync")
	f.writeHR(people[:8]) // six teams go: six deletes, in batches of two
	h := decodeHead(t, f.mustRun(exitOK, "plan", "--format", "json"))
	if h.Summary["delete"] != 6 {
		t.Fatalf("dry run: %+v", h)
	}
	var mu gosync.Mutex
	seen := 0
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, skillsPath) {
			mu.Lock()
			seen++
			if seen == 2 { // after the first batch: a hand edit lands
				f.sim.InjectFault(lpsim.Fault{PathPrefix: skillsPath, Method: r.Method, ConcurrentEdit: true})
			}
			mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
	f.sim.ResetLog()
	res := f.mustRun(exitError, "apply", fmt.Sprint(h.RunID), "--yes")
	if !strings.Contains(res.stderr, "partial") || !strings.Contains(res.stderr, "run skillsync plan again") {
		t.Errorf("apply: %s", res)
	}
	f.lp.Intercept(nil)
	last := f.runs()[len(f.runs())-1]
	if last.Trigger != "approval" || last.Outcome != "partial" {
		t.Errorf("approval run recorded as %+v", last)
	}
	conflicts, after := 0, 0
	for _, r := range f.sim.Requests() {
		if isWrite(r) {
			after++
			if r.Status == http.StatusConflict || r.Status == http.StatusPreconditionFailed {
				conflicts++
			}
		}
	}
	if conflicts != 1 || after != 2 {
		t.Errorf("%d writes, %d refused on the revision: want the first batch, then one refused and nothing re-planned", after, conflicts)
	}
	// The plan is used up; the next run finishes the work.
	f.mustRun(exitStale, "apply", fmt.Sprint(h.RunID), "--yes")
	f.mustRun(exitOK, "sync")
	f.checkConverged(people[:8], nil)
}
