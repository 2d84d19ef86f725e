package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

// TestTwoDaemonsNeverApplyAtOnce runs two daemons on one database and one
// account, on a one-second schedule, through three generations of HR data.
// At no time may both apply: the recorded runs never overlap, and every
// write LivePerson received falls inside one of them. While one daemon's
// run is held, a manual sync and the other daemon's trigger are refused.
func TestTwoDaemonsNeverApplyAtOnce(t *testing.T) {
	t.Parallel()
	gens := [][]person{
		staff(60, 1, 1),
		staff(80, 1, 1)[10:],  // 10 teams gone, 20 new
		staff(100, 1, 1)[30:], // 20 more gone, 20 more new
	}
	f := setup(t, options{people: gens[0], batch: 5, extra: "run_at_start: true\n"})
	f.setSchedule("@every 1s")
	f.sim.SetLatency(5 * time.Millisecond)
	keep := seedUnowned(f.sim, "Hand made")
	daemons := []*proc{f.start("run"), f.start("run")}
	addrs := []string{daemons[0].addr(), daemons[1].addr()}

	for i, ps := range gens {
		if i > 0 {
			f.writeHR(ps)
		}
		want := map[string]bool{}
		for _, p := range ps {
			want[skillName(p)] = true
		}
		f.waitUntil(time.Minute, "the daemons bring generation "+string(rune('0'+i))+" of HR data to LivePerson", func() bool {
			live := liveSkills(f.sim)
			if len(live) != len(want)+len(keep) {
				return false
			}
			for n := range want {
				if live[n] == nil {
					return false
				}
			}
			return true
		})
	}

	// Hold the next run in its read of the skills.
	held, release := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet && r.URL.Path == skillsPath {
			hold := false
			once.Do(func() { hold = true })
			if hold {
				close(held)
				<-release
			}
		}
		next.ServeHTTP(w, r)
	})
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("no scheduled run started")
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	res := f.mustRun(exitError, "sync")
	if !strings.Contains(res.stderr, "in progress") {
		t.Errorf("a manual sync during the daemon's run is refused without saying why:\n%s", res.stderr)
	}
	for _, addr := range addrs {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/runs", nil)
		req.Header.Set("Authorization", "Bearer "+triggerToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Status string `json:"status"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || body.Status != "run_in_progress" {
			t.Errorf("POST /v1/runs to %s during another run: %d %q, want 409 run_in_progress", addr, resp.StatusCode, body.Status)
		}
	}
	// The other daemon's next scheduled run finds the lock taken.
	skipped := func() int {
		return len(daemons[0].logged("run skipped: another run is in progress")) + len(daemons[1].logged("run skipped: another run is in progress"))
	}
	before := skipped()
	f.waitUntil(30*time.Second, "a scheduled run is skipped because the other daemon holds the lock", func() bool {
		return skipped() > before
	})
	close(release)
	released = true
	f.lp.Intercept(nil)

	for i, d := range daemons {
		if code := d.stop(time.Minute); code != 0 {
			t.Errorf("daemon %d exited %d after SIGTERM\n%s", i, code, d.stderr.String())
		}
		t.Logf("daemon %d started %d runs and skipped %d", i, len(d.logged("run started")), len(d.logged("run skipped: another run is in progress")))
	}

	runs := f.runs()
	slices.SortFunc(runs, func(a, b runJSON) int { return a.StartedAt.Compare(b.StartedAt) })
	applied := 0
	for i, r := range runs {
		if r.FinishedAt == nil {
			t.Errorf("run %d has no end after both daemons stopped: %+v", r.ID, r)
			continue
		}
		if r.Outcome == "applied" {
			applied++
		}
		if i > 0 && runs[i-1].FinishedAt != nil && r.StartedAt.Before(*runs[i-1].FinishedAt) {
			t.Errorf("runs %d (%s–%s) and %d (%s–%s) overlap", runs[i-1].ID, runs[i-1].StartedAt.Format(time.StampMicro),
				runs[i-1].FinishedAt.Format(time.StampMicro), r.ID, r.StartedAt.Format(time.StampMicro), r.FinishedAt.Format(time.StampMicro))
		}
	}
	if applied < len(gens) || len(runs) < 4 {
		t.Errorf("%d runs, %d applied; want at least one applying run per generation", len(runs), applied)
	}
	// Each run's journal lies within the run: no operation of one run was
	// recorded while another held the lock.
	for _, r := range runs {
		if r.Mode != "apply" || r.FinishedAt == nil {
			continue
		}
		for _, op := range f.runShow(r.ID).Operations {
			if op.UpdatedAt.Before(r.StartedAt) || op.UpdatedAt.After(*r.FinishedAt) {
				t.Errorf("run %d's operation %d (%s %s) was recorded at %s, outside the run", r.ID, op.Seq, op.Action, op.Skill, op.UpdatedAt.Format(time.StampMicro))
			}
		}
	}
	ws := writes(f.sim)
	if len(ws) == 0 {
		t.Fatal("no writes logged")
	}
	for _, w := range ws {
		inside := 0
		for _, r := range runs {
			if r.Mode == "apply" && r.FinishedAt != nil && !w.Time.Before(r.StartedAt) && !w.Time.After(*r.FinishedAt) {
				inside++
			}
		}
		if inside != 1 {
			t.Errorf("%s %s at %s falls inside %d apply runs, want exactly 1", w.Method, w.Path, w.Time.Format(time.StampMicro), inside)
		}
	}
	f.checkConverged(gens[len(gens)-1], keep)
}
