package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"

	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// This file draws what one soak seed does: the configuration, the HR
// generations, the LivePerson faults, the hand edits and the disruptions
// of each run. Everything is drawn from the seed's generator, so a seed
// replays the same story (the timing of concurrent runs aside).

// soakPerson is one row of the soak's HR file.
type soakPerson struct {
	ID, Email, Name, Dept, Team, Status string
}

// team is a (department, team) pair: the attributes the skill rule reads.
type team struct{ Dept, Name string }

// nameTemplates are the rule's name templates a seed moves between (a
// configuration change renaming every skill in place: the templates read
// the same attributes). The second differs from the first in case only,
// which LivePerson's name rule treats as the same name.
var nameTemplates = []string{
	"{{ .dept }} / {{ .team }}",
	"{{ upper .dept }} / {{ .team }}",
	"{{ .team }} ({{ .dept }})",
}

// skillNameFor renders the skill name of t under template tmpl, as the
// rule does.
func skillNameFor(tmpl int, t team) string {
	switch tmpl {
	case 1:
		return strings.ToUpper(t.Dept) + " / " + t.Name
	case 2:
		return t.Name + " (" + t.Dept + ")"
	}
	return t.Dept + " / " + t.Name
}

// skillDescFor is the rule's description of t.
func skillDescFor(t team) string { return t.Name + " of " + t.Dept }

// soakRules is the skills.rules list of the soak's configuration.
func soakRules(tmpl int) string {
	return fmt.Sprintf(`    - id: team
      name: %q
      description: "{{ .team }} of {{ .dept }}"
`, nameTemplates[tmpl])
}

// foldName is LivePerson's uniqueness key for skill names (as lpsim
// models it: case-insensitive, surrounding spaces ignored).
func foldName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// world is the HR side of a seed: the people in feed order.
type world struct {
	rng      *rand.Rand
	people   []soakPerson
	nextID   int
	nextTeam int
	nextDept int
	tmpl     int
	// retired are teams that had active people once and have none now:
	// candidates for a return.
	retired []team
	known   map[team]bool
}

func newWorld(rng *rand.Rand) *world {
	w := &world{rng: rng, nextID: 1, nextTeam: 1, nextDept: 1, known: map[team]bool{}}
	depts := 2 + rng.IntN(3)
	for range depts {
		w.newDept()
	}
	n := 6 + rng.IntN(25)
	for range n {
		w.addPerson(w.pickTeam(0.3))
	}
	w.settle()
	return w
}

func (w *world) newDept() string {
	d := fmt.Sprintf("Dept %02d", w.nextDept)
	w.nextDept++
	return d
}

func (w *world) newTeam(dept string) team {
	t := team{Dept: dept, Name: fmt.Sprintf("Team %03d", w.nextTeam)}
	w.nextTeam++
	return t
}

// depts lists the departments of the feed's records, in feed order.
func (w *world) depts() []string {
	var out []string
	for _, p := range w.people {
		if !slices.Contains(out, p.Dept) {
			out = append(out, p.Dept)
		}
	}
	return out
}

// activeTeams lists the teams with active people, in feed order.
func (w *world) activeTeams() []team {
	var out []team
	for _, p := range w.people {
		t := team{p.Dept, p.Team}
		if p.Status == "active" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (w *world) active() []int {
	var out []int
	for i, p := range w.people {
		if p.Status == "active" {
			out = append(out, i)
		}
	}
	return out
}

// pickTeam returns an active team, or with probability pNew (always when
// there is none) a new one, in an existing department or now and then a
// new one.
func (w *world) pickTeam(pNew float64) team {
	teams := w.activeTeams()
	if len(teams) == 0 || w.rng.Float64() < pNew {
		depts := w.depts()
		dept := ""
		if len(depts) > 0 && w.rng.Float64() < 0.8 {
			dept = depts[w.rng.IntN(len(depts))]
		} else {
			dept = w.newDept()
		}
		return w.newTeam(dept)
	}
	return teams[w.rng.IntN(len(teams))]
}

func (w *world) addPerson(t team) {
	id := w.nextID
	w.nextID++
	w.people = append(w.people, soakPerson{ID: fmt.Sprint(id), Email: fmt.Sprintf("p%d@example.com", id),
		Name: fmt.Sprintf("Person %d", id), Dept: t.Dept, Team: t.Name, Status: "active"})
}

// settle records which teams are now empty (retired) or back.
func (w *world) settle() {
	now := w.activeTeams()
	for _, t := range now {
		w.known[t] = true
	}
	w.retired = w.retired[:0]
	for t := range w.known {
		if !slices.Contains(now, t) {
			w.retired = append(w.retired, t)
		}
	}
	slices.SortFunc(w.retired, func(a, b team) int { return strings.Compare(a.Dept+"/"+a.Name, b.Dept+"/"+b.Name) })
}

// generation changes the feed as a month of HR would: growth, moves,
// departures, renames of teams and departments, returning teams. It
// returns what it did, for the seed's story.
func (w *world) generation() []string {
	var did []string
	for range 1 + w.rng.IntN(3) {
		switch k := w.rng.IntN(10); {
		case k < 3 && len(w.people) < 60:
			n := 1 + w.rng.IntN(6)
			for range n {
				w.addPerson(w.pickTeam(0.35))
			}
			did = append(did, fmt.Sprintf("growth +%d", n))
		case k < 5:
			act := w.active()
			n := min(len(act), 1+w.rng.IntN(4))
			for _, i := range pick(w.rng, act, n) {
				t := w.pickTeam(0.25)
				w.people[i].Dept, w.people[i].Team = t.Dept, t.Name
			}
			did = append(did, fmt.Sprintf("moves %d", n))
		case k < 7:
			act := w.active()
			n := min(len(act)-3, 1+w.rng.IntN(4))
			if n <= 0 {
				continue
			}
			var gone []string
			for _, i := range pick(w.rng, act, n) {
				if w.rng.IntN(2) == 0 {
					w.people[i].Status = "inactive"
				} else {
					gone = append(gone, w.people[i].ID)
				}
			}
			w.people = slices.DeleteFunc(w.people, func(p soakPerson) bool { return slices.Contains(gone, p.ID) })
			did = append(did, fmt.Sprintf("departures %d (%d removed from the feed)", n, len(gone)))
		case k < 8:
			teams := w.activeTeams()
			old := teams[w.rng.IntN(len(teams))]
			nt := w.newTeam(old.Dept)
			for i := range w.people {
				if w.people[i].Dept == old.Dept && w.people[i].Team == old.Name {
					w.people[i].Team = nt.Name
				}
			}
			did = append(did, fmt.Sprintf("team rename %s/%s -> %s", old.Dept, old.Name, nt.Name))
		case k < 9:
			depts := w.depts()
			old := depts[w.rng.IntN(len(depts))]
			nd := w.newDept()
			for i := range w.people {
				if w.people[i].Dept == old {
					w.people[i].Dept = nd
				}
			}
			did = append(did, fmt.Sprintf("department rename %s -> %s", old, nd))
		default:
			if len(w.retired) == 0 {
				continue
			}
			t := w.retired[w.rng.IntN(len(w.retired))]
			n := 1 + w.rng.IntN(3)
			for range n {
				if act := w.active(); len(act) > 4 && w.rng.IntN(2) == 0 {
					i := act[w.rng.IntN(len(act))]
					w.people[i].Dept, w.people[i].Team = t.Dept, t.Name
				} else {
					w.addPerson(t)
				}
			}
			did = append(did, fmt.Sprintf("team %s/%s returns with %d", t.Dept, t.Name, n))
		}
		w.settle()
	}
	return did
}

// pick returns n distinct elements of xs.
func pick[T any](rng *rand.Rand, xs []T, n int) []T {
	xs = slices.Clone(xs)
	rng.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	return xs[:min(n, len(xs))]
}

// desired returns the skills the feed asks for under the current
// template: folded name → name and description.
func (w *world) desired() map[string][2]string {
	out := map[string][2]string{}
	for _, t := range w.activeTeams() {
		n := skillNameFor(w.tmpl, t)
		out[foldName(n)] = [2]string{n, skillDescFor(t)}
	}
	return out
}

// byEmail returns the feed's record of an e-mail address.
func (w *world) byEmail(email string) (soakPerson, bool) {
	for _, p := range w.people {
		if strings.EqualFold(p.Email, email) {
			return p, true
		}
	}
	return soakPerson{}, false
}

func (w *world) csv() []byte {
	var b bytes.Buffer
	b.WriteString("id,email,name,dept,team,status\r\n")
	for _, p := range w.people {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\r\n", p.ID, p.Email, p.Name, p.Dept, p.Team, p.Status)
	}
	return b.Bytes()
}

// seedConfig is what a seed draws once: the installation.
type seedConfig struct {
	auth           string
	batch          int
	deleteAfter    int
	policy         string
	assignments    bool
	keepUnmatched  bool
	maxChanges     int
	conflictStatus int
	createResponse string
	// binaryShare is the probability that a chaos run is the real binary
	// (0 in most seeds: the binary's start-up costs more than a run).
	binaryShare float64
	// restarts says that a run may restart PostgreSQL (the soak's own
	// cluster, when it has one).
	restarts bool
}

func drawConfig(rng *rand.Rand) seedConfig {
	c := seedConfig{
		auth:           authMethods[rng.IntN(len(authMethods))],
		batch:          2 + rng.IntN(8),
		deleteAfter:    1 + rng.IntN(3),
		policy:         "sync",
		assignments:    rng.Float64() < 0.7,
		keepUnmatched:  rng.Float64() < 0.7,
		maxChanges:     -1,
		conflictStatus: []int{409, 412}[rng.IntN(2)],
		createResponse: []string{lpsim.CreateResponseFull, lpsim.CreateResponseFull, lpsim.CreateResponseEmpty, lpsim.CreateResponseNoIDs}[rng.IntN(4)],
	}
	switch r := rng.Float64(); {
	case r < 0.08:
		c.policy = "upsert-only"
	case r < 0.16:
		c.policy = "create-only"
	}
	if rng.Float64() < 0.3 {
		c.maxChanges = 100
	}
	if rng.Float64() < 0.15 {
		c.binaryShare = 0.6
	}
	c.restarts = rng.Float64() < 0.1
	return c
}

func (c seedConfig) String() string {
	return fmt.Sprintf("auth %s, batch %d, delete_after_runs %d, policy %s, assignments %v (keep_unmatched %v, max_changes_percent %d), conflicts %d, create response %s, binary share %.1f, restarts %v",
		c.auth, c.batch, c.deleteAfter, c.policy, c.assignments, c.keepUnmatched, c.maxChanges, c.conflictStatus, c.createResponse, c.binaryShare, c.restarts)
}

// Kinds of hand edit a run may meet (someone working in LivePerson's UI,
// or HR onboarding an agent, while skillsync runs).
const (
	editCreateHand      = "create skill by hand"
	editCreateDesired   = "create by hand a skill HR asks for"
	editDriftOwned      = "edit an owned skill's description"
	editUnmanagedOwned  = "edit an owned skill's unmanaged field"
	editHandSkill       = "edit a hand-made skill"
	editUserNickname    = "edit a user's nickname"
	editUserGiveHand    = "give a user a hand-made skill"
	editOnboardUser     = "add a LivePerson user for an HR person"
	editTakeoverTrap    = "create by hand a skill whose create was lost"
	disruptKillInProc   = "kill (in-process)"
	disruptKillBinary   = "kill -9 (binary)"
	disruptLostLock     = "lost run lock"
	disruptPGRestart    = "PostgreSQL restart"
	disruptLostCreateLg = "lost create + lagging reads"
)

var editKinds = []string{editCreateHand, editCreateDesired, editDriftOwned, editUnmanagedOwned,
	editHandSkill, editUserNickname, editUserGiveHand, editOnboardUser}

// runPlan is what happens to one chaos run.
type runPlan struct {
	binary bool
	// fresh runs an in-process sync in a new process; otherwise the
	// seed's process runs it, as the daemon runs one sync after another.
	fresh  bool
	faults []lpsim.Fault
	// edits are hand edits made when the run sends its n-th request to
	// the Skills or Users API (before LivePerson handles it).
	edits map[int][]string
	// killAt kills the process at its n-th request, killAtWrite at its
	// n-th write; killApplied lets LivePerson handle that request first
	// (the answer is lost with the process).
	killAt      int
	killAtWrite int
	killApplied bool
	// trap: after a kill during a create LivePerson did not apply, a
	// skill of one of its names is made by hand before the next run.
	trap bool
	// lostLockAt terminates the run lock's database session right after
	// the run's n-th write, and starts a second sync at once.
	lostLockAt int
	// restartAt restarts PostgreSQL at the run's n-th request: at once
	// (the run blocked meanwhile) or, with restartLate, only once the run
	// has ended.
	restartAt   int
	restartLate bool
	// lostCreateLag loses the answer of the run's first create request
	// and makes the next two skill list reads lag behind it.
	lostCreateLag bool
}

func (p runPlan) String() string {
	var parts []string
	switch {
	case p.binary:
		parts = append(parts, "binary")
	case p.fresh:
		parts = append(parts, "in-process, new process")
	default:
		parts = append(parts, "in-process")
	}
	for _, f := range p.faults {
		parts = append(parts, fmt.Sprintf("fault %s on %s %s ×%d", f.Label(), cmpOr(f.Method, "any"), pathName(f.PathPrefix), max(f.Times, 1)))
	}
	var at []int
	for n := range p.edits {
		at = append(at, n)
	}
	slices.Sort(at)
	for _, n := range at {
		parts = append(parts, fmt.Sprintf("at request %d: %s", n, strings.Join(p.edits[n], ", ")))
	}
	if p.killAt > 0 {
		parts = append(parts, fmt.Sprintf("kill at request %d (applied %v, trap %v)", p.killAt, p.killApplied, p.trap))
	}
	if p.killAtWrite > 0 {
		parts = append(parts, fmt.Sprintf("kill at write %d (applied %v, trap %v)", p.killAtWrite, p.killApplied, p.trap))
	}
	if p.lostLockAt > 0 {
		parts = append(parts, fmt.Sprintf("lock lost after write %d, second sync at once", p.lostLockAt))
	}
	if p.restartAt > 0 {
		parts = append(parts, fmt.Sprintf("PostgreSQL restart at request %d (late %v)", p.restartAt, p.restartLate))
	}
	if p.lostCreateLag {
		parts = append(parts, "first create's answer lost, then lagging reads")
	}
	return strings.Join(parts, "; ")
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func pathName(prefix string) string {
	switch prefix {
	case skillsPath:
		return "skills"
	case usersPath:
		return "users"
	case "":
		return "any path"
	}
	return prefix
}

// drawRun draws one chaos run of a seed.
func drawRun(rng *rand.Rand, c seedConfig) runPlan {
	p := runPlan{edits: map[int][]string{}}
	p.binary = rng.Float64() < c.binaryShare
	p.fresh = rng.Float64() < 0.3
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
	writeMethods := []string{http.MethodPost, http.MethodPut, http.MethodDelete}
	postFault := false
	for range rng.IntN(4) {
		var f lpsim.Fault
		path := skillsPath
		if c.assignments && rng.IntN(3) == 0 {
			path = usersPath
		}
		switch k := rng.IntN(11); k {
		case 0, 1:
			f = lpsim.Fault{Method: methods[rng.IntN(4)], Status: []int{500, 502, 503}[rng.IntN(3)], Times: 1 + rng.IntN(3)}
		case 2:
			// Past the retry schedule (three retries).
			f = lpsim.Fault{Method: methods[rng.IntN(4)], Status: 503, Times: 4 + rng.IntN(3)}
		case 3:
			f = lpsim.Fault{Method: methods[rng.IntN(4)], Status: 429, RetryAfter: "1"}
		case 4:
			f = lpsim.Fault{Method: methods[rng.IntN(4)], Drop: true, Times: 1 + rng.IntN(2)}
		case 5, 6:
			f = lpsim.Fault{Method: writeMethods[rng.IntN(3)], LoseResponse: true}
		case 7:
			f = lpsim.Fault{Method: writeMethods[rng.IntN(3)], PartialApply: 1 + rng.IntN(max(c.batch-1, 1)), Status: 500}
		case 8:
			f = lpsim.Fault{Method: http.MethodGet, Lag: 1 + rng.IntN(3), Times: 1 + rng.IntN(3)}
		case 9:
			f = lpsim.Fault{Method: writeMethods[rng.IntN(3)], ConcurrentEdit: true}
		case 10:
			if c.auth == "oauth1" {
				continue // OAuth 1.0 signs each request: nothing expires
			}
			f = lpsim.Fault{Method: methods[rng.IntN(4)], ExpireToken: true}
		}
		if path == usersPath && (f.Method == http.MethodPost || f.Method == http.MethodDelete) {
			f.Method = http.MethodPut // skillsync only reads and updates users
		}
		f.PathPrefix = path
		if f.Method == http.MethodPost {
			postFault = true
		}
		p.faults = append(p.faults, f)
	}
	for range rng.IntN(3) {
		n := 1 + rng.IntN(6)
		p.edits[n] = append(p.edits[n], editKinds[rng.IntN(len(editKinds))])
	}
	switch r := rng.Float64(); {
	case r < 0.14:
		// Mostly mid-apply, where a kill leaves most behind.
		if rng.IntN(10) < 7 {
			p.killAtWrite = 1 + rng.IntN(3)
		} else {
			p.killAt = 1 + rng.IntN(4)
		}
		p.killApplied = rng.IntN(2) == 0
		p.trap = rng.Float64() < 0.6
	case r < 0.22:
		p.lostLockAt = 1 + rng.IntN(2)
	case r < 0.30 && !postFault:
		p.lostCreateLag = true
	case r < 0.60 && c.restarts:
		p.restartAt = 1 + rng.IntN(6)
		p.restartLate = rng.IntN(2) == 0
	}
	return p
}
