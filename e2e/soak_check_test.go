package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// This file holds what the soak expects of LivePerson (the skills made by
// hand, the users as HR and people left them) and checks the invariants
// after each seed.

// snapshot is how a skill is compared: every field, as stored.
func snapshot(s map[string]any) string { return fmt.Sprint(s) }

// idsOf reads a list of ids (skillIds).
func idsOf(v any) []int64 {
	arr, _ := v.([]any)
	out := make([]int64, 0, len(arr))
	for _, x := range arr {
		if n, err := strconv.ParseInt(fmt.Sprint(x), 10, 64); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// skillByID returns the stored skill id (nil: none).
func (s *seedRun) skillByID(id int64) map[string]any {
	for _, sk := range s.f.sim.Skills(true) {
		if sk["id"].(int64) == id {
			return sk
		}
	}
	return nil
}

// nameTaken says whether a skill, deleted ones included, holds name by
// LivePerson's rule: a name made by hand must not break it.
func (s *seedRun) nameTaken(name string) bool {
	for _, sk := range s.f.sim.Skills(true) {
		if n, _ := sk["name"].(string); foldName(n) == foldName(name) {
			return true
		}
	}
	return false
}

// createHandSkill makes a skill by hand (unless the name is taken) and
// remembers it as it is stored. Callers hold s.mu.
func (s *seedRun) createHandSkill(name string) bool {
	if s.nameTaken(name) {
		return false
	}
	ids := s.f.sim.SeedSkills(map[string]any{"name": name, "description": "made by hand", "maxWaitTime": 42, "skillOrder": 7})
	s.hand[ids[0]] = snapshot(s.skillByID(ids[0]))
	return true
}

// ownedNow says whether skillsync's registry owns skill id (an error
// counts as no).
func (s *seedRun) ownedNow(id int64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var owned bool
	err := s.admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM owned_skills WHERE skill_id = $1 AND released_at IS NULL)`, id).Scan(&owned)
	return err == nil && owned
}

// liveNotHand are the live skills not made by hand: skillsync's (owned,
// or created without a confirmation yet). Callers hold s.mu.
func (s *seedRun) liveNotHand() []map[string]any {
	var out []map[string]any
	for _, sk := range s.f.sim.Skills(false) {
		if _, ok := s.hand[sk["id"].(int64)]; !ok {
			out = append(out, sk)
		}
	}
	return out
}

func (s *seedRun) liveHand() []int64 {
	var out []int64
	for _, sk := range s.f.sim.Skills(false) {
		if _, ok := s.hand[sk["id"].(int64)]; ok {
			out = append(out, sk["id"].(int64))
		}
	}
	return out
}

// handEdit makes one edit in LivePerson as a person would, while
// skillsync may be running, and updates what the soak expects.
func (s *seedRun) handEdit(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rng := s.editRng
	done := false
	switch kind {
	case editCreateHand:
		s.handSeq++
		done = s.createHandSkill(fmt.Sprintf("Hand made %d", s.handSeq))
	case editCreateDesired:
		var free []string
		for _, d := range sortedDesired(s.world.desired()) {
			if !s.nameTaken(d[0]) {
				free = append(free, d[0])
			}
		}
		if len(free) > 0 {
			done = s.createHandSkill(free[rng.IntN(len(free))])
		}
	case editDriftOwned, editUnmanagedOwned:
		cands := s.liveNotHand()
		if len(cands) == 0 {
			break
		}
		id := cands[rng.IntN(len(cands))]["id"].(int64)
		if !s.ownedNow(id) {
			// skillsync made it but has not confirmed it yet (its
			// create's answer was lost): edited now, nothing proves it
			// is skillsync's, and leaving it to its editor is right.
			s.touched[id] = true
			s.storyLocked("  (skill %d, edited by hand before skillsync confirmed its create)", id)
		}
		if kind == editDriftOwned {
			s.f.sim.EditSkill(id, func(m map[string]any) { m["description"] = "edited by hand" })
		} else {
			v := json.Number(strconv.Itoa(200 + rng.IntN(100)))
			s.f.sim.EditSkill(id, func(m map[string]any) { m["maxWaitTime"] = v })
			if s.ownedFields[id] == nil {
				s.ownedFields[id] = map[string]any{}
			}
			s.ownedFields[id]["maxWaitTime"] = v
		}
		done = true
	case editHandSkill:
		ids := s.liveHand()
		if len(ids) == 0 {
			break
		}
		id := ids[rng.IntN(len(ids))]
		s.f.sim.EditSkill(id, func(m map[string]any) { m["description"] = fmt.Sprint(m["description"], " (edited)") })
		s.hand[id] = snapshot(s.skillByID(id))
		done = true
	case editUserNickname, editUserGiveHand:
		ids := slices.Sorted(maps.Keys(s.users))
		if len(ids) == 0 {
			break
		}
		uid := ids[rng.IntN(len(ids))]
		if kind == editUserNickname {
			nick := fmt.Sprintf("Nick %d", rng.IntN(1000))
			s.f.sim.EditUser(uid, func(m map[string]any) { m["nickname"] = nick })
			s.users[uid]["nickname"] = nick
			done = true
			break
		}
		hand := s.liveHand()
		var give []int64
		for _, h := range hand {
			if !s.userHand[uid][h] {
				give = append(give, h)
			}
		}
		if len(give) == 0 {
			break
		}
		h := give[rng.IntN(len(give))]
		s.f.sim.EditUser(uid, func(m map[string]any) {
			ids, _ := m["skillIds"].([]any)
			m["skillIds"] = append(ids, json.Number(strconv.FormatInt(h, 10)))
		})
		s.userHand[uid][h] = true
		done = true
	case editOnboardUser:
		var missing []soakPerson
		for _, p := range s.world.people {
			if p.Status == "active" && !s.hasUser(p.Email) {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			s.addUser(agentOf(missing[rng.IntN(len(missing))], rng.IntN(10) < 6), nil)
			done = true
		}
	}
	if done {
		s.counts["edit: "+kind]++
		s.storyLocked("  hand edit: %s", kind)
	}
}

func sortedDesired(d map[string][2]string) [][2]string {
	keys := slices.Sorted(maps.Keys(d))
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = d[k]
	}
	return out
}

// agentOf is the LivePerson user of an HR person: matched by e-mail, with
// the fields LivePerson masks on read (fullName always, employeeId when
// withEmployeeID) and others skillsync must leave alone.
func agentOf(p soakPerson, withEmployeeID bool) map[string]any {
	u := map[string]any{"loginName": "agent" + p.ID, "email": p.Email, "nickname": "Agent " + p.ID,
		"fullName": p.Name, "profileIds": []any{1}, "maxChats": 3, "skillIds": []any{}}
	if withEmployeeID {
		u["employeeId"] = p.ID
	}
	return u
}

// hasUser says whether a LivePerson user has email. Callers hold s.mu.
func (s *seedRun) hasUser(email string) bool {
	for _, u := range s.users {
		if strings.EqualFold(fmt.Sprint(u["email"]), email) {
			return true
		}
	}
	return false
}

// addUser seeds a user holding the hand-made skills hand, and remembers
// it as stored. Callers hold s.mu.
func (s *seedRun) addUser(u map[string]any, hand []int64) {
	ids := make([]any, len(hand))
	for i, h := range hand {
		ids[i] = h
	}
	u["skillIds"] = ids
	id := s.f.sim.SeedUsers(u)[0]
	for _, su := range s.f.sim.Users() {
		if su["id"].(int64) == id {
			delete(su, "skillIds")
			s.users[id] = su
		}
	}
	s.userHand[id] = map[int64]bool{}
	for _, h := range hand {
		s.userHand[id][h] = true
	}
}

// canon is a JSON value as text, for comparing.
func canon(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// check runs the final clean syncs and checks every invariant.
func (s *seedRun) check(ctx context.Context) {
	s.f.sim.ClearFaults()
	s.f.lp.Sim.SetLatency(0)
	// The account converges within delete_after_runs + 1 clean runs; the
	// next one must find nothing to do.
	clean := s.cfg.deleteAfter + 2
	var outcomes []string
	var last *invocation
	for range clean {
		s.waitLockFree()
		inv := s.startInProcess(runPlan{}, false)
		<-inv.done
		s.wg.Wait()
		last = inv
		if inv.res != nil {
			c := inv.res.Run.Counts
			outcomes = append(outcomes, fmt.Sprintf("%s(+%d ~%d -%d a%d u%d f%d)", inv.res.Run.Outcome, c.Create, c.Update, c.Delete, c.Assign, c.Unassign, c.Failed))
		} else {
			outcomes = append(outcomes, fmt.Sprintf("error(%v)", inv.err))
		}
	}
	s.finalRuns = clean
	if res := last.res; res == nil {
		s.violate("converges", "the last clean sync failed: %v (clean syncs: %s)", last.err, strings.Join(outcomes, ", "))
	} else {
		c := res.Run.Counts
		if (res.Run.Outcome != store.OutcomeNoChanges && res.Run.Outcome != store.OutcomeApplied) ||
			c.Create+c.Update+c.Delete+c.Assign+c.Unassign+c.Failed > 0 {
			s.violate("converges", "not converged after %d clean syncs (delete_after_runs %d): %s; last error %q",
				clean, s.cfg.deleteAfter, strings.Join(outcomes, ", "), res.Run.Error)
		}
	}
	s.story("final clean syncs: %s", strings.Join(outcomes, ", "))
	// Skills pending deletion in the last plan: their members keep them
	// until they are deleted (design §7.7), which waits while anything
	// skillsync does not manage holds them (keep_unmatched users).
	pending := map[int64]bool{}
	if last.res != nil && last.res.Plan != nil {
		for _, c := range last.res.Plan.Changes {
			if c.Action == sync.ActionPendingDelete {
				pending[c.SkillID] = true
			}
		}
	}

	st, err := s.openStore(ctx)
	if err != nil {
		s.violate("harness", "open the store: %v", err)
		return
	}
	defer st.Close()
	registry, err := st.OwnedSkills(ctx)
	if err != nil {
		s.violate("harness", "read the registry: %v", err)
		return
	}
	owned := map[int64]bool{}
	for _, r := range registry {
		if r.ReleasedAt == nil {
			owned[r.SkillID] = true
		}
	}
	// The owned skills registered for each team, by its rule key.
	teamSkills := map[string][]int64{}
	for _, r := range registry {
		if r.ReleasedAt == nil {
			teamSkills[teamKey(r.RuleKey)] = append(teamSkills[teamKey(r.RuleKey)], r.SkillID)
		}
	}
	s.checkSkills(owned)
	s.checkUsers(owned, pending, teamSkills)
	s.checkRuns(ctx, st)
	s.checkWrites(ctx, st)
}

// checkSkills: no duplicate names; hand-made skills unchanged, unwritten
// and not owned; every desired skill once; no skill nobody owns; hand
// values of unmanaged fields kept.
func (s *seedRun) checkSkills(owned map[int64]bool) {
	all := s.f.sim.Skills(true)
	byName := map[string][]map[string]any{}
	for _, sk := range all {
		n, _ := sk["name"].(string)
		byName[foldName(n)] = append(byName[foldName(n)], sk)
	}
	// Live skills only: whether a deleted skill's name may be used again
	// is LivePerson's to say (open question 3), two live ones never.
	for _, k := range slices.Sorted(maps.Keys(byName)) {
		var ids []string
		for _, sk := range byName[k] {
			if d, _ := sk["deleted"].(bool); !d {
				ids = append(ids, fmt.Sprintf("%d %q", sk["id"], sk["name"]))
			}
		}
		if len(ids) > 1 {
			s.violate("no duplicate names", "%d live skills named %q: %s", len(ids), k, strings.Join(ids, "; "))
		}
	}
	byID := map[int64]map[string]any{}
	for _, sk := range all {
		byID[sk["id"].(int64)] = sk
	}
	for _, id := range slices.Sorted(maps.Keys(s.hand)) {
		if now := snapshot(byID[id]); now != s.hand[id] {
			s.violate("hand-made untouched", "skill %d made by hand changed:\n  was %s\n  now %s", id, s.hand[id], now)
		}
		if owned[id] {
			s.violate("hand-made untouched", "skill %d %q made by hand is owned by skillsync", id, byID[id]["name"])
		}
	}
	written := map[int64]bool{}
	for _, r := range s.f.sim.Requests() {
		if r.Method == "GET" || !strings.HasPrefix(r.Path, skillsPath) {
			continue
		}
		for _, id := range r.IDs {
			if _, ok := s.hand[id]; ok && !written[id] {
				written[id] = true
				s.violate("hand-made untouched", "skillsync wrote to skill %d %q made by hand: %s %s", id, byID[id]["name"], r.Method, r.Path)
			}
		}
	}
	desired := s.world.desired()
	for _, k := range slices.Sorted(maps.Keys(desired)) {
		want := desired[k]
		var live []map[string]any
		for _, sk := range byName[k] {
			if d, _ := sk["deleted"].(bool); !d {
				live = append(live, sk)
			}
		}
		if len(live) == 0 {
			why := "no skill of that name"
			if len(byName[k]) > 0 {
				why = fmt.Sprintf("only a deleted skill %v holds the name", byName[k][0]["id"])
			}
			s.violate("desired exists once", "skill %q, which HR asks for, is missing: %s", want[0], why)
			continue
		}
		sk := live[0]
		id := sk["id"].(int64)
		if _, ok := s.hand[id]; ok {
			continue // someone's own skill of that name: an unmanaged conflict
		}
		if !owned[id] {
			continue // reported below, with every skill nobody owns
		}
		if s.cfg.policy == "create-only" {
			continue // no updates: renames and repairs wait
		}
		if sk["name"] != want[0] || sk["description"] != want[1] {
			s.violate("desired exists once", "skill %d is %q (%q), HR asks for %q (%q)", id, sk["name"], sk["description"], want[0], want[1])
		}
	}
	for _, sk := range all {
		id := sk["id"].(int64)
		_, hand := s.hand[id]
		if d, _ := sk["deleted"].(bool); d || hand || owned[id] || s.touched[id] {
			continue
		}
		s.violate("no orphan", "skill %d %q exists, was not made by hand, and skillsync does not own it", id, sk["name"])
	}
	for _, id := range slices.Sorted(maps.Keys(s.ownedFields)) {
		sk := byID[id]
		if d, _ := sk["deleted"].(bool); d || !owned[id] {
			continue
		}
		for f, v := range s.ownedFields[id] {
			if canon(sk[f]) != canon(v) {
				s.violate("unmanaged fields kept", "skill %d %q: %s set by hand to %v, now %v", id, sk["name"], f, v, sk[f])
			}
		}
	}
}

// checkUsers: no user lost a field skillsync does not manage, nor a
// hand-made skill; matched agents hold the skill of their team, and
// besides it only skills pending deletion (kept until they are deleted).
//
// When someone made by hand a skill under the name HR asks for a team
// (after a change of the name template, say), skillsync's own skill of the
// team cannot take that name (an unmanaged conflict): it keeps its old name
// and stays the team's skill, registered under the team's key: its members
// may keep it (nobody is given it while the conflict lasts).
func (s *seedRun) checkUsers(owned, pending map[int64]bool, teamSkills map[string][]int64) {
	liveByName := map[string]int64{}
	for _, sk := range s.f.sim.Skills(false) {
		liveByName[foldName(sk["name"].(string))] = sk["id"].(int64)
	}
	for _, u := range s.f.sim.Users() {
		id := u["id"].(int64)
		want, ok := s.users[id]
		if !ok {
			s.violate("harness", "user %d was not made by the soak", id)
			continue
		}
		var diffs []string
		keys := map[string]bool{}
		for k := range u {
			keys[k] = true
		}
		for k := range want {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if k == "skillIds" {
				continue
			}
			if canon(u[k]) != canon(want[k]) {
				diffs = append(diffs, fmt.Sprintf("%s %s → %s", k, canon(want[k]), canon(u[k])))
			}
		}
		if len(diffs) > 0 {
			s.violate("users keep unmanaged fields", "user %d (%v): %s", id, u["email"], strings.Join(diffs, ", "))
		}
		var handNow, ownedNow []int64
		for _, sid := range idsOf(u["skillIds"]) {
			if _, ok := s.hand[sid]; ok {
				handNow = append(handNow, sid)
			} else {
				ownedNow = append(ownedNow, sid)
			}
		}
		handWant := slices.Sorted(maps.Keys(s.userHand[id]))
		if !slices.Equal(handNow, handWant) {
			s.violate("users keep unmanaged fields", "user %d (%v) holds hand-made skills %v, want %v", id, u["email"], handNow, handWant)
		}
		if !s.cfg.assignments || s.cfg.policy != "sync" {
			continue
		}
		if _, has := want["employeeId"]; has && !s.employeeIDMapped {
			// A fixed skillsync may leave such a user alone: HR cannot
			// give the masked field back. Its fields are checked above.
			continue
		}
		rec, matched := s.world.byEmail(fmt.Sprint(u["email"]))
		if !matched {
			// Left alone (keep_unmatched), or to lose skillsync's skills,
			// which a fixed skillsync may not write: HR has no record to
			// give the masked fields back from.
			continue
		}
		var ownedWant []int64
		if rec.Status == "active" {
			sid, ok := liveByName[foldName(skillNameFor(s.world.tmpl, team{rec.Dept, rec.Team}))]
			if _, hand := s.hand[sid]; ok && owned[sid] && !hand {
				ownedWant = []int64{sid}
			} else if ok && hand {
				ownedWant = slices.Sorted(slices.Values(teamSkills[teamKey("team|"+rec.Dept+"|"+rec.Team)]))
				if len(ownedWant) > 1 {
					s.violate("assignments", "team %s/%s has %d skills of skillsync's: %v", rec.Dept, rec.Team, len(ownedWant), ownedWant)
				}
				ownedNow = slices.DeleteFunc(ownedNow, func(sid int64) bool { return slices.Contains(ownedWant, sid) })
				ownedWant = nil
			}
		}
		ownedNow = slices.DeleteFunc(ownedNow, func(sid int64) bool { return pending[sid] && !slices.Contains(ownedWant, sid) })
		if !slices.Equal(ownedNow, ownedWant) {
			s.violate("assignments", "user %d (%v, HR: %+v) holds skills %v of skillsync's, want %v", id, u["email"], rec, ownedNow, ownedWant)
		}
	}
}

// teamKey is a team rule's registry key ("team|" and the values its name
// template reads, in the template's order) without that order or case.
func teamKey(ruleKey string) string {
	parts := strings.Split(strings.ToLower(ruleKey), "|")
	slices.Sort(parts)
	return strings.Join(parts, "|")
}

// checkRuns: after a clean sync no run is left running.
func (s *seedRun) checkRuns(ctx context.Context, st *store.Store) {
	runs, err := st.ListRuns(ctx, 100000)
	if err != nil {
		s.violate("harness", "list runs: %v", err)
		return
	}
	for _, r := range runs {
		if r.Outcome == store.OutcomeRunning {
			s.violate("no run left running", "run %d (started %s) is still running after the clean syncs", r.ID, r.StartedAt.Format(time.StampMicro))
		}
	}
}

// hold is a process's hold on the run lock.
type hold struct {
	inv        *invocation
	start, end time.Time
}

// checkWrites: every write LivePerson received, and every journaled
// write, falls inside the hold of exactly one process on the run lock:
// its own.
func (s *seedRun) checkWrites(ctx context.Context, st *store.Store) {
	var holds []hold
	byRun := map[int64]*invocation{}
	for _, inv := range s.invs {
		st, en := inv.held()
		if !st.IsZero() {
			holds = append(holds, hold{inv, st, en})
		}
		inv.mu.Lock()
		if inv.runID != 0 {
			byRun[inv.runID] = inv
		}
		inv.mu.Unlock()
	}
	holders := func(t time.Time) []string {
		var out []string
		for _, h := range holds {
			if !t.Before(h.start) && !t.After(h.end) {
				out = append(out, h.inv.name)
			}
		}
		return out
	}
	describe := func(inv *invocation) string {
		st, en := inv.held()
		inv.mu.Lock()
		defer inv.mu.Unlock()
		d := fmt.Sprintf("%s (run %d, held %s–%s", inv.name, inv.runID, st.Format(time.StampMicro), en.Format(time.StampMicro))
		if inv.lockLost != "" {
			d += ", lost: " + inv.lockLost
		}
		return d + ")"
	}
	reported := map[*invocation]int{}
	for _, w := range s.writes {
		h := holders(w.at)
		st, _ := w.inv.held()
		if st.IsZero() || !slices.Contains(h, w.inv.name) || len(h) != 1 {
			reported[w.inv]++
			if reported[w.inv] <= 3 {
				s.violate("writes under the lock", "%s %s at %s by %s; processes holding the lock then: %v",
					w.method, pathName(pathBase(w.path)), w.at.Format(time.StampMicro), describe(w.inv), h)
			}
		}
	}
	for inv, n := range reported {
		if n > 3 {
			s.violate("writes under the lock", "… and %d more writes by %s outside its hold", n-3, inv.name)
		}
	}
	runs, err := st.ListRuns(ctx, 100000)
	if err != nil {
		s.violate("harness", "list runs: %v", err)
		return
	}
	for _, r := range runs {
		if r.Mode != store.ModeApply {
			continue
		}
		_, ops, err := st.GetRun(ctx, r.ID)
		if err != nil {
			s.violate("harness", "read run %d: %v", r.ID, err)
			continue
		}
		inv := byRun[r.ID]
		bad := 0
		for _, op := range ops {
			// A row LivePerson answered (done, or failed with its
			// status) was sent: it was journaled (created_at) while its
			// run held the lock. Rows still intended or sent, settled by
			// a later run (resolved) or failed without an answer may
			// never have been sent; the writes LivePerson received are
			// checked above, whatever their rows say.
			if op.State != store.OpDone && (op.State != store.OpFailed || op.HTTPStatus == nil) {
				continue
			}
			at := op.CreatedAt
			h := holders(at)
			if inv == nil || len(h) != 1 || h[0] != inv.name {
				bad++
				if bad <= 3 {
					by := "no process of the soak"
					if inv != nil {
						by = describe(inv)
					}
					s.violate("writes under the lock", "run %d's journal: %s %q (%s) at %s by %s; processes holding the lock then: %v",
						r.ID, op.Action, op.SkillName, op.State, at.Format(time.StampMicro), by, h)
				}
			}
		}
		if bad > 3 {
			s.violate("writes under the lock", "… and %d more journaled writes of run %d outside its hold", bad-3, r.ID)
		}
	}
}

// pathBase is the API a path belongs to.
func pathBase(p string) string {
	if strings.HasPrefix(p, usersPath) {
		return usersPath
	}
	return skillsPath
}
