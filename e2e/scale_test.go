package e2e

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// Scale of BenchmarkScale.
const (
	scaleRecords = 100_000
	scaleDepts   = 50
	scaleRoles   = 40 // 50 × 40 = 2,000 skills
	scaleUsers   = 20_000
	scaleBatch   = 50
	// scaleChurned is how many (department, role) groups a churn renames:
	// 5% of the skills, and so 5% of the records.
	scaleChurned = scaleDepts * scaleRoles / 20
)

// scaleLatency is lpsim's delay before answering each request: 20 ms, or
// $E2E_SCALE_LATENCY (a Go duration; 0 shows what is not network).
func scaleLatency(b *testing.B) time.Duration {
	v := os.Getenv("E2E_SCALE_LATENCY")
	if v == "" {
		return 20 * time.Millisecond
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Fatalf("E2E_SCALE_LATENCY: %v", err)
	}
	return d
}

// scalePeople is the HR export at churn generation gen: 100,000 people
// spread evenly over 2,000 (department, role) groups. From generation 1 on,
// the first 100 groups carry a new role name each generation, so a churn
// run creates 100 skills, deletes 100 and moves their matched members.
func scalePeople(gen int) []person {
	ps := make([]person, scaleRecords)
	for i := range ps {
		group := i % (scaleDepts * scaleRoles)
		d, r := group/scaleRoles, group%scaleRoles
		role := fmt.Sprintf("Role %02d", r)
		if gen > 0 && group < scaleChurned {
			role += fmt.Sprintf(" v%d", gen)
		}
		ps[i] = person{ID: fmt.Sprint(i + 1), Email: scaleEmail(i), Dept: fmt.Sprintf("Dept %02d", d), Team: role, Status: "active"}
	}
	return ps
}

// One person in five is a LivePerson agent.
func scaleEmail(i int) string { return fmt.Sprintf("p%d@example.com", i+1) }

// scaleWorld is the account, database and files one sequence of phases
// works on.
type scaleWorld struct {
	f   *fixture
	gen int // HR generation last synced; -1 before the first sync
}

func newScaleWorld(b *testing.B) *scaleWorld {
	b.Helper()
	f := setup(b, options{
		people: scalePeople(0),
		batch:  scaleBatch,
		sync:   "{max_deletes: 10000, max_delete_percent: 100, delete_after_runs: 1, max_active_drop_percent: 20}",
		extra:  "assignments: {enabled: true, match: email, max_changes_percent: 100}\n",
	})
	users := make([]map[string]any, 0, scaleUsers)
	for i := 0; i < scaleRecords; i += scaleRecords / scaleUsers {
		users = append(users, map[string]any{"loginName": fmt.Sprintf("agent%d", i+1), "email": scaleEmail(i),
			"profileIds": []any{1}, "skillIds": []any{}, "nickname": fmt.Sprintf("Agent %d", i+1)})
	}
	f.sim.SeedUsers(users...)
	f.sim.SetLatency(scaleLatency(b))
	// Migrate outside the measurement.
	f.mustRun(exitOK, "migrate")
	return &scaleWorld{f: f, gen: -1}
}

// phase is what one measured sync did.
type phase struct {
	res                              result
	calls, reads, writes, other      int
	creates, updates, deletes, users int
}

// sync runs `skillsync sync` against the world and counts its requests.
func (w *scaleWorld) sync(b *testing.B) phase {
	b.Helper()
	before := userSkills(w.f.sim)
	w.f.sim.ResetLog()
	b.StartTimer()
	res := w.f.run("sync")
	b.StopTimer()
	if res.code != exitOK {
		b.Fatalf("sync: %s", res)
	}
	ph := phase{res: res}
	for _, r := range w.f.sim.Requests() {
		ph.calls++
		switch {
		case isWrite(r):
			ph.writes++
		case r.Method == http.MethodGet && (strings.HasPrefix(r.Path, skillsPath) || strings.HasPrefix(r.Path, usersPath)):
			ph.reads++
		default:
			ph.other++ // discovery, token
		}
	}
	runs := w.f.runs()
	last := runs[len(runs)-1]
	ph.creates, ph.updates, ph.deletes = last.Counts["create"], last.Counts["update"], last.Counts["delete"]
	after := userSkills(w.f.sim)
	for id, s := range after {
		if s != before[id] {
			ph.users++
		}
	}
	if last.Outcome != "applied" && last.Outcome != "no_changes" {
		b.Fatalf("run %d: %s (%s)", last.ID, last.Outcome, last.Error)
	}
	return ph
}

// userSkills is each user's skill ids, as text.
func userSkills(sim *lpsim.Sim) map[int64]string {
	out := map[int64]string{}
	for _, u := range sim.Users() {
		out[u["id"].(int64)] = fmt.Sprint(u["skillIds"])
	}
	return out
}

// report records a phase's figures. The minimum is one read per
// collection plus one write per batch of each kind of change; the naive
// client sends one request per change.
func (ph phase) report(b *testing.B) {
	b.Helper()
	batches := func(n int) int { return int(math.Ceil(float64(n) / scaleBatch)) }
	minimum := 2 + batches(ph.creates) + batches(ph.updates) + batches(ph.deletes) + batches(ph.users)
	naive := 2 + ph.creates + ph.updates + ph.deletes + ph.users
	b.ReportMetric(ph.res.wall.Seconds(), "wall-s")
	b.ReportMetric(float64(ph.reads+ph.writes), "api-calls")
	b.ReportMetric(float64(ph.other), "auth-calls")
	b.ReportMetric(float64(minimum), "min-calls")
	b.ReportMetric(float64(naive), "per-change-calls")
	b.ReportMetric(float64(ph.creates+ph.updates+ph.deletes), "skill-changes")
	b.ReportMetric(float64(ph.users), "user-changes")
	b.ReportMetric(float64(ph.res.maxRSS)/(1<<20), "peak-RSS-MiB")
	b.Logf("wall %s; %d Skills/Users API calls (%d reads, %d writes) + %d discovery/auth; "+
		"%d creates, %d updates, %d deletes, %d users changed; minimum %d, one request per change %d; peak RSS %.0f MiB",
		ph.res.wall.Round(time.Millisecond), ph.reads+ph.writes, ph.reads, ph.writes, ph.other,
		ph.creates, ph.updates, ph.deletes, ph.users, minimum, naive, float64(ph.res.maxRSS)/(1<<20))
}

// BenchmarkScale measures the binary against lpsim answering every request
// after 20 ms: 100,000 HR records, 2,000 skills, 20,000 users, assignments
// on. Reproduce with:
//
//	go test ./e2e -run '^$' -bench BenchmarkScale -benchtime 1x -timeout 30m
//
// (E2E_SCALE_LATENCY=0 in the environment takes the simulated network out.)
//
// ns/op is the wall time of one `skillsync sync` (process start to exit);
// api-calls are the Skills and Users API requests it made; min-calls and
// per-change-calls are the two yardsticks; peak-RSS-MiB is the process's
// maximum resident set.
func BenchmarkScale(b *testing.B) {
	b.StopTimer()
	// Worlds belong to the parent benchmark, so that the sub-benchmarks
	// after first_sync go on from its state.
	parent := b
	var w *scaleWorld
	world := func(b *testing.B) *scaleWorld {
		if w == nil {
			w = newScaleWorld(parent)
		}
		if w.gen < 0 {
			w.f.writeHR(scalePeople(0))
			w.sync(b)
			w.gen = 0
		}
		return w
	}
	b.Run("first_sync", func(b *testing.B) {
		b.StopTimer()
		var ph phase
		for range b.N {
			// A world of its own each time: the first sync starts empty.
			fresh := newScaleWorld(parent)
			ph = fresh.sync(b)
			fresh.gen = 0
			w = fresh
		}
		if ph.creates != scaleDepts*scaleRoles || ph.users != scaleUsers {
			b.Errorf("first sync: %d creates, %d users changed", ph.creates, ph.users)
		}
		ph.report(b)
	})
	b.Run("no_op", func(b *testing.B) {
		b.StopTimer()
		w := world(b)
		var ph phase
		for range b.N {
			ph = w.sync(b)
		}
		if ph.writes != 0 {
			b.Errorf("a no-op run wrote %d times", ph.writes)
		}
		ph.report(b)
	})
	b.Run("churn_5pct", func(b *testing.B) {
		b.StopTimer()
		w := world(b)
		var ph phase
		for range b.N {
			w.gen++
			w.f.writeHR(scalePeople(w.gen))
			ph = w.sync(b)
		}
		if ph.creates != scaleChurned || ph.deletes != scaleChurned || ph.users != scaleUsers/20 {
			b.Errorf("churn: %d creates, %d deletes, %d users changed; want %d, %d, %d", ph.creates, ph.deletes, ph.users,
				scaleChurned, scaleChurned, scaleUsers/20)
		}
		ph.report(b)
	})
}
