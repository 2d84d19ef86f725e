package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// scaleSize is one point of the scale curve: HR records spread evenly over
// depts × roles skills, and one LivePerson user per records/users people.
type scaleSize struct {
	name                         string
	records, depts, roles, users int
}

// The sizes of the curve; skills and users grow with the records.
var (
	scale10k  = scaleSize{name: "10k", records: 10_000, depts: 10, roles: 20, users: 2_000}
	scale100k = scaleSize{name: "100k", records: 100_000, depts: 50, roles: 40, users: 20_000}
	scale1M   = scaleSize{name: "1M", records: 1_000_000, depts: 200, roles: 100, users: 200_000}
)

const scaleBatch = 50

func (sz scaleSize) skills() int { return sz.depts * sz.roles }

// churned is how many (department, role) groups a churn renames: 5% of the
// skills, and so 5% of the records.
func (sz scaleSize) churned() int { return sz.skills() / 20 }

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

// people is the HR export at churn generation gen: the records spread
// evenly over the (department, role) groups. From generation 1 on, the
// first 5% of the groups carry a new role name each generation, so a
// churn run creates as many skills as it deletes and moves their matched
// members.
func (sz scaleSize) people(gen int) []person {
	ps := make([]person, sz.records)
	for i := range ps {
		group := i % sz.skills()
		d, r := group/sz.roles, group%sz.roles
		role := fmt.Sprintf("Role %02d", r)
		if gen > 0 && group < sz.churned() {
			role += fmt.Sprintf(" v%d", gen)
		}
		ps[i] = person{ID: fmt.Sprint(i + 1), Email: scaleEmail(i), Dept: fmt.Sprintf("Dept %02d", d), Team: role, Status: "active"}
	}
	return ps
}

func scaleEmail(i int) string { return fmt.Sprintf("p%d@example.com", i+1) }

// scaleName and scaleEmployeeID are person i's name and employee id: in
// HR, and in LivePerson's fullName and employeeId, which the Users API
// masks on read and skillsync fills back from HR when it writes a user.
func scaleName(i int) string       { return fmt.Sprintf("Agent Number %d", i+1) }
func scaleEmployeeID(i int) string { return fmt.Sprintf("E%07d", i+1) }

// scaleCSV is the HR file of ps: hrCSV's columns plus name and employee_id.
func scaleCSV(ps []person) []byte {
	var b bytes.Buffer
	b.Grow(len(ps) * 96)
	b.WriteString("id,email,dept,team,status,name,employee_id\r\n")
	for i, p := range ps {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s\r\n", p.ID, p.Email, p.Dept, p.Team, p.Status, scaleName(i), scaleEmployeeID(i))
	}
	return b.Bytes()
}

// writeHR writes the HR export of generation gen.
func (w *scaleWorld) writeHR(gen int) { w.f.writeHRBytes(scaleCSV(w.sz.people(gen))) }

// scaleUser is LivePerson user number i (HR person i) with every field the
// Users API returns, as an account's agents carry them: what skillsync
// reads, keeps and sends back whole when it changes skillIds.
func scaleUser(i int) map[string]any {
	n := i + 1
	return map[string]any{
		"deleted":            false,
		"loginName":          fmt.Sprintf("agent%d", n),
		"fullName":           scaleName(i), // masked by GET
		"nickname":           fmt.Sprintf("Agent %d", n),
		"isEnabled":          true,
		"maxChats":           4,
		"email":              scaleEmail(i),
		"pictureUrl":         fmt.Sprintf("https://cdn.example.com/avatars/agent-%d.png", n),
		"disabledManually":   false,
		"skillIds":           []any{},
		"profiles":           []any{map[string]any{"id": 3, "name": "Agent", "roleTypeId": 1}},
		"profileIds":         []any{3},
		"lobIds":             []any{1, 2},
		"changePwdNextLogin": false,
		"memberOf":           map[string]any{"agentGroupId": -1, "assignmentDate": "2024-03-01 09:00:00"},
		"managerOf":          []any{},
		"permissionGroups":   []any{},
		"description":        "Customer care agent",
		"mobileNumber":       fmt.Sprintf("+1-555-%07d", n),
		"employeeId":         scaleEmployeeID(i), // masked by GET
		"maxAsyncChats":      10,
		"backgndImgUri":      "",
		"pnCertName":         "",
		"dateUpdated":        "2025-11-02 10:11:12",
		"lastPwdChangeDate":  "2025-10-01 08:00:00",
		"isApiUser":          false,
		"userTypeId":         1,
		"dateCreated":        "2023-01-15 12:00:00",
		"allowedAppKeys":     "",
	}
}

// scaleWorld is the account, database and files one sequence of phases
// works on.
type scaleWorld struct {
	sz  scaleSize
	f   *fixture
	gen int // HR generation last synced; -1 before the first sync
}

func newScaleWorld(b *testing.B, sz scaleSize) *scaleWorld {
	b.Helper()
	f := setup(b, options{
		people: []person{}, // written by w.writeHR
		fields: "{id: id, email: email, name: name, employee_id: employee_id}",
		batch:  scaleBatch,
		sync:   fmt.Sprintf("{max_deletes: %d, max_delete_percent: 100, delete_after_runs: 1, max_active_drop_percent: 20}", sz.skills()),
		extra:  "assignments: {enabled: true, match: email, max_changes_percent: 100}\n",
	})
	users := make([]map[string]any, 0, sz.users)
	for i := 0; i < sz.records; i += sz.records / sz.users {
		users = append(users, scaleUser(i))
	}
	f.sim.SeedUsers(users...)
	f.sim.SetLatency(scaleLatency(b))
	w := &scaleWorld{sz: sz, f: f, gen: -1}
	w.writeHR(0)
	// Migrate outside the measurement.
	f.mustRun(exitOK, "migrate")
	return w
}

// usage is what one process cost, from its rusage.
type usage struct {
	wall      time.Duration
	user, sys time.Duration // CPU time of the process
	maxRSS    int64         // bytes
}

func (u usage) cpu() time.Duration { return u.user + u.sys }

// measure runs the binary to its end (15 minutes at most) and returns how
// it ended and its own cost: wall time, user and system CPU from its
// rusage and its peak RSS as it reports it, so that lpsim and PostgreSQL
// sharing the machine do not count. With $E2E_SCALE_PROFILE_DIR set, the binary writes a CPU and a
// heap profile there, named after profile, and its log is kept there.
func (w *scaleWorld) measure(b *testing.B, profile string, args ...string) (result, usage) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := w.f.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	peakFile := filepath.Join(b.TempDir(), "peak-rss")
	cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], "SKILLSYNC_PEAKRSS="+peakFile)
	base := profileBase(profile)
	if base != "" {
		cmd.Env = append(cmd.Env, "SKILLSYNC_CPUPROFILE="+base+".cpu.pprof", "SKILLSYNC_MEMPROFILE="+base+".mem.pprof")
	}
	start := time.Now()
	b.StartTimer()
	err := cmd.Run()
	b.StopTimer()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if base != "" {
		// The log too (with GODEBUG=gctrace=1 in the environment, the
		// collector's trace).
		if err := os.WriteFile(base+".log", stderr.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	u := usage{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u.user = time.Duration(ru.Utime.Nano())
			u.sys = time.Duration(ru.Stime.Nano())
		}
	}
	// Not the rusage's Maxrss: Linux carries the peak RSS of the process
	// that starts a child (this one, holding lpsim's account) into the
	// child at exec, so that figure is never below ours. The binary
	// reports its own peak (SKILLSYNC_PEAKRSS).
	if line, err := os.ReadFile(peakFile); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(line), "VmHWM: %d kB", &kb); err != nil {
			b.Fatalf("SKILLSYNC_PEAKRSS: %q: %v", line, err)
		}
		u.maxRSS = kb * 1024
	}
	res.wall, res.maxRSS = u.wall, u.maxRSS
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.code = ee.ExitCode()
	default:
		b.Fatalf("skillsync %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	w.f.checkNoSecrets(res.stdout, res.stderr)
	return res, u
}

// profileBase is where the files of a measured phase go, without their
// extension: "" unless $E2E_SCALE_PROFILE_DIR is set and the phase is
// named. Each run of a phase has its own number (phase.N), so that
// `go tool pprof` can merge the profiles of a -benchtime 5x run.
func profileBase(phase string) string {
	dir := os.Getenv("E2E_SCALE_PROFILE_DIR")
	if dir == "" || phase == "" {
		return ""
	}
	profileRuns[phase]++
	return filepath.Join(dir, fmt.Sprintf("%s.%d", phase, profileRuns[phase]))
}

// profileRuns counts the profiled runs of each phase.
var profileRuns = map[string]int{}

// phase is what one measured sync did.
type phase struct {
	use                              usage
	calls, reads, writes, other      int
	creates, updates, deletes, users int
	// byKind counts the requests by method and collection ("PUT users").
	byKind map[string]int
}

// sync runs `skillsync sync` against the world and counts its requests.
func (w *scaleWorld) sync(b *testing.B, profile string) phase {
	b.Helper()
	before := userSkills(w.f.sim)
	w.f.sim.ResetLog()
	res, use := w.measure(b, profile, "sync")
	if res.code != exitOK {
		b.Fatalf("sync: %s", res)
	}
	ph := phase{use: use}
	ph.countRequests(w.f.sim)
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

// plan runs `skillsync plan` (a dry run) against the world.
func (w *scaleWorld) plan(b *testing.B, profile string) phase {
	b.Helper()
	w.f.sim.ResetLog()
	res, use := w.measure(b, profile, "plan", "--format", "json")
	if res.code != exitOK {
		b.Fatalf("plan: %s", res)
	}
	ph := phase{use: use}
	ph.countRequests(w.f.sim)
	if ph.writes != 0 {
		b.Errorf("a dry run wrote %d times", ph.writes)
	}
	p := decodePlan(b, res)
	ph.creates, ph.updates, ph.deletes = p.Summary["create"], p.Summary["update"], p.Summary["delete"]
	return ph
}

func (ph *phase) countRequests(sim *lpsim.Sim) {
	ph.byKind = map[string]int{}
	for _, r := range sim.Requests() {
		ph.calls++
		switch {
		case isWrite(r):
			ph.writes++
			collection := "skills"
			if strings.HasPrefix(r.Path, usersPath) {
				collection = "users"
			}
			ph.byKind[r.Method+" "+collection]++
		case r.Method == http.MethodGet && (strings.HasPrefix(r.Path, skillsPath) || strings.HasPrefix(r.Path, usersPath)):
			ph.reads++
		default:
			ph.other++ // discovery, token
		}
	}
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
	u := ph.use
	b.ReportMetric(u.wall.Seconds(), "wall-s")
	b.ReportMetric(u.cpu().Seconds(), "cpu-s")
	b.ReportMetric(u.user.Seconds(), "user-s")
	b.ReportMetric(u.sys.Seconds(), "sys-s")
	b.ReportMetric(float64(u.maxRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(ph.reads+ph.writes), "api-calls")
	b.ReportMetric(float64(ph.other), "auth-calls")
	b.ReportMetric(float64(minimum), "min-calls")
	b.ReportMetric(float64(naive), "per-change-calls")
	b.ReportMetric(float64(ph.creates+ph.updates+ph.deletes), "skill-changes")
	b.ReportMetric(float64(ph.users), "user-changes")
	b.Logf("wall %s, skillsync CPU %s (user %s, sys %s), peak RSS %.0f MiB; "+
		"%d Skills/Users API calls (%d reads, %d writes %v) + %d discovery/auth; "+
		"%d creates, %d updates, %d deletes, %d users changed; minimum %d, one request per change %d",
		u.wall.Round(time.Millisecond), u.cpu().Round(time.Millisecond), u.user.Round(time.Millisecond),
		u.sys.Round(time.Millisecond), float64(u.maxRSS)/(1<<20),
		ph.reads+ph.writes, ph.reads, ph.writes, ph.byKind, ph.other,
		ph.creates, ph.updates, ph.deletes, ph.users, minimum, naive)
}

// BenchmarkScale measures the binary against lpsim answering every request
// after 20 ms: 100,000 HR records, 2,000 skills, 20,000 users with every
// field LivePerson returns, assignments on. Reproduce with:
//
//	go test ./e2e -run '^$' -bench 'BenchmarkScale$' -benchtime 1x -timeout 30m
//
// (E2E_SCALE_LATENCY=0 in the environment takes the simulated network out;
// E2E_SCALE_PROFILE_DIR=DIR makes the binary write CPU and heap profiles
// of each phase there.)
//
// ns/op and wall-s are the wall time of one `skillsync sync` (process start
// to exit); cpu-s (user-s + sys-s) and peak-RSS-MiB are the process's own
// CPU time and maximum resident set, from its rusage: lpsim and PostgreSQL
// share the machine, so wall time mixes their work in and CPU time does
// not. api-calls are the Skills and Users API requests it made; min-calls
// and per-change-calls are the two yardsticks.
func BenchmarkScale(b *testing.B) {
	b.StopTimer()
	sz := scale100k
	// Worlds belong to the parent benchmark, so that the sub-benchmarks
	// after first_sync go on from its state.
	parent := b
	var w *scaleWorld
	world := func(b *testing.B) *scaleWorld {
		if w == nil {
			w = newScaleWorld(parent, sz)
		}
		if w.gen < 0 {
			w.writeHR(0)
			w.sync(b, "")
			w.gen = 0
		}
		return w
	}
	b.Run("first_sync", func(b *testing.B) {
		b.StopTimer()
		var ph phase
		for range b.N {
			// A world of its own each time: the first sync starts empty.
			fresh := newScaleWorld(parent, sz)
			ph = fresh.sync(b, "first_sync")
			fresh.gen = 0
			w = fresh
		}
		if ph.creates != sz.skills() || ph.users != sz.users {
			b.Errorf("first sync: %d creates, %d users changed", ph.creates, ph.users)
		}
		ph.report(b)
	})
	b.Run("no_op", func(b *testing.B) {
		b.StopTimer()
		w := world(b)
		var ph phase
		for range b.N {
			ph = w.sync(b, "no_op")
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
			w.writeHR(w.gen)
			ph = w.sync(b, "churn_5pct")
		}
		if ph.creates != sz.churned() || ph.deletes != sz.churned() || ph.users != sz.users/20 {
			b.Errorf("churn: %d creates, %d deletes, %d users changed; want %d, %d, %d", ph.creates, ph.deletes, ph.users,
				sz.churned(), sz.churned(), sz.users/20)
		}
		ph.report(b)
	})
}

// BenchmarkScaleCurve is the scale curve: 10,000, 100,000 and (with
// E2E_SCALE_1M=1) 1,000,000 HR records, with skills (records / 50) and
// users (records / 5) scaled alike. At each size: a dry run against the
// empty account (everything planned), the first sync, then a no-op run.
// The metrics are BenchmarkScale's. Reproduce with:
//
//	E2E_SCALE_1M=1 go test ./e2e -run '^$' -bench BenchmarkScaleCurve -benchtime 1x -timeout 60m
func BenchmarkScaleCurve(b *testing.B) {
	sizes := []scaleSize{scale10k, scale100k}
	if os.Getenv("E2E_SCALE_1M") != "" {
		sizes = append(sizes, scale1M)
	}
	for _, sz := range sizes {
		b.Run("records="+sz.name, func(b *testing.B) {
			b.StopTimer()
			parent := b
			var w *scaleWorld
			b.Run("plan", func(b *testing.B) {
				b.StopTimer()
				var ph phase
				for range b.N {
					w = newScaleWorld(parent, sz)
					ph = w.plan(b, sz.name+"-plan")
				}
				if ph.creates != sz.skills() {
					b.Errorf("dry run: %d creates, want %d", ph.creates, sz.skills())
				}
				ph.report(b)
			})
			b.Run("first_sync", func(b *testing.B) {
				b.StopTimer()
				var ph phase
				for i := range b.N {
					if w == nil || i > 0 {
						w = newScaleWorld(parent, sz)
					}
					ph = w.sync(b, sz.name+"-first_sync")
					w.gen = 0
				}
				if ph.creates != sz.skills() || ph.users != sz.users {
					b.Errorf("first sync: %d creates, %d users changed", ph.creates, ph.users)
				}
				ph.report(b)
			})
			b.Run("no_op", func(b *testing.B) {
				b.StopTimer()
				if w == nil {
					w = newScaleWorld(parent, sz)
				}
				if w.gen < 0 {
					w.sync(b, "")
					w.gen = 0
				}
				var ph phase
				for range b.N {
					ph = w.sync(b, sz.name+"-no_op")
				}
				if ph.writes != 0 {
					b.Errorf("a no-op run wrote %d times", ph.writes)
				}
				ph.report(b)
			})
		})
	}
}
