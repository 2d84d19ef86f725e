package lpsim

import "context"

// maxLag is how many account changes lpsim remembers for lagging reads
// (Fault.Lag); a larger Lag answers as of the oldest one remembered.
const maxLag = 64

// change is one remembered account change: what a write (one request, or a
// seed or edit by the test) replaced, so that a lagging read can answer as
// the account stood before it.
type change struct {
	// rev is the revision before the change.
	rev int64
	// skills and users hold the records the change replaced, by id; nil
	// means the id did not exist before it.
	skills map[int64]*record
	users  map[int64]*record
}

// noteSkillLocked remembers the record skill id has before a change
// replaces it. Callers hold s.mu.
func (s *Sim) noteSkillLocked(id int64) {
	c := s.openChangeLocked()
	if _, ok := c.skills[id]; !ok {
		c.skills[id] = s.skills[id]
	}
}

// noteUserLocked is noteSkillLocked for users.
func (s *Sim) noteUserLocked(id int64) {
	c := s.openChangeLocked()
	if _, ok := c.users[id]; !ok {
		c.users[id] = s.users[id]
	}
}

func (s *Sim) openChangeLocked() *change {
	if s.pending == nil {
		s.pending = &change{rev: s.revision, skills: map[int64]*record{}, users: map[int64]*record{}}
	}
	return s.pending
}

// bumpRevisionLocked ends a change: the revision moves on and what the
// change replaced is remembered. A change that replaced nothing (a
// concurrent edit fault) is remembered too, so that a lagging read still
// carries the revision before it. Callers hold s.mu.
func (s *Sim) bumpRevisionLocked() {
	c := s.openChangeLocked()
	s.pending = nil
	if len(s.history) == maxLag {
		s.history = append(s.history[:0:0], s.history[1:]...)
	}
	s.history = append(s.history, c)
	s.revision++
}

// lagKey is the context key of the lag (Fault.Lag) a request is answered
// with.
type lagKey struct{}

func lagOf(ctx context.Context) int {
	n, _ := ctx.Value(lagKey{}).(int)
	return n
}

// accountView is the account as a read sees it: now, or as it stood a
// number of changes ago.
type accountView struct {
	rev    int64
	skills map[int64]*record // records the view replaces; nil: did not exist
	users  map[int64]*record
}

// viewLocked returns the account as it stood lag changes ago (0: now).
// Callers hold s.mu.
func (s *Sim) viewLocked(lag int) accountView {
	v := accountView{rev: s.revision}
	if lag <= 0 || len(s.history) == 0 {
		return v
	}
	v.skills, v.users = map[int64]*record{}, map[int64]*record{}
	// Undo the newest changes first; an older change's record wins for an
	// id both touched, being the earlier state.
	for i := len(s.history) - 1; i >= 0 && i >= len(s.history)-lag; i-- {
		c := s.history[i]
		for id, rec := range c.skills {
			v.skills[id] = rec
		}
		for id, rec := range c.users {
			v.users[id] = rec
		}
		v.rev = c.rev
	}
	return v
}

// skill returns skill id as the view sees it (nil: it did not exist).
// Callers hold s.mu.
func (v accountView) skill(s *Sim, id int64) *record {
	if rec, ok := v.skills[id]; ok {
		return rec
	}
	return s.skills[id]
}

// user returns user id as the view sees it (nil: it did not exist).
// Callers hold s.mu.
func (v accountView) user(s *Sim, id int64) *record {
	if rec, ok := v.users[id]; ok {
		return rec
	}
	return s.users[id]
}
