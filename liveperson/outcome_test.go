package liveperson_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// These tests pin down what a caller may conclude from each result of a
// write, and which revision the next write sends: a create must never
// look like a plain failure when something may exist, and no read or
// create may let a later PUT pass with bodies from an older read.

// readAll lists the skills and fails the test on error; it returns them
// and the revision they were read at.
func readAll(t *testing.T, e *env) ([]liveperson.Skill, string) {
	t.Helper()
	skills, rev, err := e.c.ListSkillsAt(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	return skills, rev
}

func named(skills []liveperson.Skill, name string) (liveperson.Skill, bool) {
	for _, s := range skills {
		if s.Name == name {
			return s, true
		}
	}
	return liveperson.Skill{}, false
}

// TestCreateAnswerWithoutIDs: LivePerson documents no body for a batch
// create. When the answer has no skills or no ids, the client says the
// outcome is unknown and reads nothing on its own: finding the skills by
// name (and proving they are the ones sent) is the caller's, the sync
// engine's applier. The revision it returns is the create's when that
// provably follows the one sent, as for any create.
func TestCreateAnswerWithoutIDs(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{lpsim.CreateResponseEmpty, lpsim.CreateResponseNoIDs} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.CreateResponse = mode }})
			e.sim.SeedSkills(map[string]any{"name": "Old"})
			_, rev := readAll(t, e)
			gets := e.sim.Count("GET", skillsAPI)
			created, next, err := e.c.CreateSkills(t.Context(), rev, []liveperson.Skill{{Name: "B"}, {Name: "A", Description: "d"}})
			if !errors.Is(err, liveperson.ErrOutcomeUnknown) || errors.Is(err, liveperson.ErrStateChanged) || created != nil {
				t.Fatalf("CreateSkills = %v, %v; want nil and ErrOutcomeUnknown", created, err)
			}
			if e.sim.Count("POST", skillsAPI) != 1 || countNamed(e.sim.Skills(true), "B") != 1 || countNamed(e.sim.Skills(true), "A") != 1 {
				t.Fatal("want exactly one POST and one skill of each name")
			}
			if n := e.sim.Count("GET", skillsAPI); n != gets {
				t.Fatalf("%d reads after the create: the client must not read back on its own", n-gets)
			}
			if next != fmt.Sprint(e.sim.Revision()) {
				t.Fatalf("revision %s, lpsim at %d: the create was the only change", next, e.sim.Revision())
			}
		})
	}
}

// TestCreateRevision: LivePerson documents no If-Match on create, so a
// create goes through whatever changed since the caller's read. Its answer's
// revision is the one CreateSkills returns for the next write only when it
// proves the create was the only change; otherwise the caller hears ErrStateChanged and a PUT from
// the old read conflicts instead of wiping the other change.
func TestCreateRevision(t *testing.T) {
	t.Parallel()
	t.Run("nothing else changed: chained", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{})
		e.sim.SeedSkills(map[string]any{"name": "Old"})
		before, rev := readAll(t, e)
		created, rev, err := e.c.CreateSkills(t.Context(), rev, []liveperson.Skill{{Name: "New"}, {Name: "Newer"}})
		if err != nil || len(created) != 2 {
			t.Fatalf("CreateSkills = %v, %v", created, err)
		}
		if rev != fmt.Sprint(e.sim.Revision()) {
			t.Fatalf("revision %s, lpsim at %d", rev, e.sim.Revision())
		}
		old, _ := named(before, "Old")
		old.Description = "updated"
		if _, _, err := e.c.UpdateSkills(t.Context(), rev, []liveperson.Skill{old}); err != nil {
			t.Fatalf("PUT after an unshared create: %v", err)
		}
	})
	t.Run("edited by hand before the create: ErrStateChanged, then a conflict", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{})
		ids := e.sim.SeedSkills(map[string]any{"name": "Old", "description": "as read"})
		before, read := readAll(t, e)
		e.sim.EditSkill(ids[0], func(m map[string]any) { m["description"] = "by hand"; m["skillOrder"] = 3 })
		created, rev, err := e.c.CreateSkills(t.Context(), read, []liveperson.Skill{{Name: "New"}})
		if !errors.Is(err, liveperson.ErrStateChanged) || !errors.Is(err, liveperson.ErrOutcomeUnknown) {
			t.Fatalf("error %v, want ErrStateChanged (matching ErrOutcomeUnknown too)", err)
		}
		if len(created) != 1 || created[0].ID == 0 || created[0].Name != "New" || countNamed(e.sim.Skills(true), "New") != 1 {
			t.Fatalf("created %+v: want the skill with its id", created)
		}
		if rev != read {
			t.Fatalf("revision %s, want %s: the next write must still send the read's", rev, read)
		}
		old, _ := named(before, "Old")
		old.Description = "from the old read"
		if _, _, err := e.c.UpdateSkills(t.Context(), rev, []liveperson.Skill{old}); !errors.Is(err, liveperson.ErrConflict) {
			t.Fatalf("PUT with a body from before the hand edit: %v, want ErrConflict", err)
		}
		if got := e.sim.Skills(false)[0]; got["description"] != "by hand" {
			t.Fatalf("hand edit overwritten: %v", got)
		}
		// Further creates before a re-read say the same.
		if _, _, err := e.c.CreateSkills(t.Context(), rev, []liveperson.Skill{{Name: "Third"}}); !errors.Is(err, liveperson.ErrStateChanged) {
			t.Fatalf("second create: %v, want ErrStateChanged", err)
		}
		// A re-read makes writes possible again.
		after, rev := readAll(t, e)
		old, _ = named(after, "Old")
		old.Description = "re-planned"
		if _, _, err := e.c.UpdateSkills(t.Context(), rev, []liveperson.Skill{old}); err != nil {
			t.Fatalf("PUT after a re-read: %v", err)
		}
	})
	t.Run("server checking If-Match on create: conflict, nothing created", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.EnforceIfMatchOnCreate = true }})
		ids := e.sim.SeedSkills(map[string]any{"name": "Old"})
		_, rev := readAll(t, e)
		e.sim.EditSkill(ids[0], func(m map[string]any) { m["description"] = "by hand" })
		_, _, err := e.c.CreateSkills(t.Context(), rev, []liveperson.Skill{{Name: "New"}, {Name: "Newer"}})
		if !errors.Is(err, liveperson.ErrConflict) || errors.Is(err, liveperson.ErrOutcomeUnknown) {
			t.Fatalf("error %v, want ErrConflict only", err)
		}
		if countNamed(e.sim.Skills(true), "New") != 0 {
			t.Fatal("refused create applied")
		}
	})
}

// TestCreateRefusals: which refusals of a create leave its outcome
// unknown. Batches are not documented as atomic, so any refusal of several
// items that is not about the request as a whole may follow a partial
// create.
func TestCreateRefusals(t *testing.T) {
	t.Parallel()
	three := []liveperson.Skill{{Name: "N1"}, {Name: "N2"}, {Name: "N3"}}
	tests := []struct {
		name        string
		fault       *lpsim.Fault
		skills      []liveperson.Skill
		wantStatus  int
		wantUnknown bool
		wantCreated int // skills named N* afterwards
	}{
		{"batch applied in part, then 500", &lpsim.Fault{Method: "POST", PartialApply: 2}, three, 500, true, 2},
		{"batch applied in part, then 400", &lpsim.Fault{Method: "POST", PartialApply: 1, Status: 400}, three, 400, true, 1},
		{"batch refused whole with 400", nil, append([]liveperson.Skill{{Name: "Old"}}, three...), 400, true, 0},
		{"one item refused with 400", nil, []liveperson.Skill{{Name: "old"}}, 400, false, 0},
		{"batch refused 403", &lpsim.Fault{Method: "POST", Status: 403}, three, 403, false, 0},
		{"batch refused 429 beyond the retries", &lpsim.Fault{Method: "POST", Status: 429, Times: 10}, three, 429, false, 0},
		{"one item, 502", &lpsim.Fault{Method: "POST", Status: 502}, three[:1], 502, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			e.sim.SeedSkills(map[string]any{"name": "Old"})
			_, rev := readAll(t, e)
			if tt.fault != nil {
				f := *tt.fault
				f.PathPrefix = skillsAPI
				e.sim.InjectFault(f)
			}
			created, _, err := e.c.CreateSkills(t.Context(), rev, tt.skills)
			var apiErr *liveperson.APIError
			if created != nil || !errors.As(err, &apiErr) || apiErr.Status != tt.wantStatus {
				t.Fatalf("CreateSkills = %v, %v; want HTTP %d", created, err, tt.wantStatus)
			}
			if errors.Is(err, liveperson.ErrOutcomeUnknown) != tt.wantUnknown {
				t.Fatalf("errors.Is(%v, ErrOutcomeUnknown) = %v, want %v", err, !tt.wantUnknown, tt.wantUnknown)
			}
			n := 0
			for _, s := range e.sim.Skills(true) {
				if s["name"] != "Old" {
					n++
				}
			}
			if n != tt.wantCreated {
				t.Fatalf("%d skills created, want %d", n, tt.wantCreated)
			}
			if tt.wantStatus != 429 && e.sim.Count("POST", skillsAPI) != 1 {
				t.Fatalf("%d POSTs, want 1", e.sim.Count("POST", skillsAPI))
			}
		})
	}
}

// TestUpdateAppliedInPart: a PUT batch applied in part and answered 500 is
// replayed with the same If-Match, which the part applied made stale: the
// caller gets a conflict and re-reads, never a silent success.
func TestUpdateAppliedInPart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.sim.SeedSkills(map[string]any{"name": "A"}, map[string]any{"name": "B"})
	skills, rev := readAll(t, e)
	for i := range skills {
		skills[i].Description = "new"
	}
	e.sim.InjectFault(lpsim.Fault{Method: "PUT", PathPrefix: skillsAPI, PartialApply: 1})
	if _, _, err := e.c.UpdateSkills(t.Context(), rev, skills); !errors.Is(err, liveperson.ErrConflict) {
		t.Fatalf("error %v, want ErrConflict", err)
	}
	got := e.sim.Skills(false)
	if got[0]["description"] != "new" || got[1]["description"] == "new" {
		t.Fatalf("lpsim holds %v: want only the first item applied", got)
	}
}

// TestListAt: each list says the revision it was read at, so a caller
// reading skills and users can tell whether both show the same moment.
func TestListAt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := t.Context()
	ids := e.sim.SeedSkills(map[string]any{"name": "A"})
	e.sim.SeedUsers(map[string]any{"loginName": "ann", "email": "ann@example.com", "profileIds": []any{1}})
	_, r1, err := e.c.ListSkillsAt(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	_, r2, err := e.c.ListUsersAt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r1 != r2 || r1 != fmt.Sprint(e.sim.Revision()) {
		t.Fatalf("revisions %s, %s; lpsim at %d", r1, r2, e.sim.Revision())
	}
	// A hand edit between the two reads shows as different revisions.
	_, r1, _ = e.c.ListSkillsAt(ctx, true)
	e.sim.EditSkill(ids[0], func(m map[string]any) { m["description"] = "by hand" })
	_, r2, _ = e.c.ListUsersAt(ctx)
	if r1 == r2 || r2 != fmt.Sprint(e.sim.Revision()) {
		t.Fatalf("revisions %s and %s around an edit; lpsim at %d", r1, r2, e.sim.Revision())
	}
	// Re-reading the skills gets them at the users' revision (a 304 from
	// the cache when nothing changed, still with its revision).
	skills, r3, err := e.c.ListSkillsAt(ctx, true)
	if err != nil || r3 != r2 || skills[0].Description != "by hand" {
		t.Fatalf("re-read at %s (users at %s): %+v, %v", r3, r2, skills, err)
	}
	_, r4, err := e.c.ListSkillsAt(ctx, true)
	if last := lastRequest(e.sim, "GET", skillsAPI); err != nil || r4 != r2 || last.Status != http.StatusNotModified {
		t.Fatalf("cached re-read at %s, status %d, %v", r4, last.Status, err)
	}
}

// TestCreateCancelledWhileWaiting: a caller that stops waiting for a
// create's answer still hears that the create may have been applied.
func TestCreateCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	_, rev := readAll(t, e)
	ctx, cancel := context.WithCancel(t.Context())
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method != "POST" || r.URL.Path != skillsAPI {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(httptest.NewRecorder(), r) // applied
		cancel()
		<-r.Context().Done()
	})
	_, _, err := e.c.CreateSkills(ctx, rev, []liveperson.Skill{{Name: "New"}})
	if !errors.Is(err, liveperson.ErrOutcomeUnknown) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want ErrOutcomeUnknown and context.Canceled", err)
	}
	if countNamed(e.sim.Skills(true), "New") != 1 {
		t.Fatal("create not applied")
	}
}

// TestGetSkillKeepsWriteBase: a single skill read (from ReadWrite), e.g.
// to check a skill is gone, is not a read the caller's other bodies come
// from: a write after it still sends the list's revision, and a hand edit
// since that list conflicts.
func TestGetSkillKeepsWriteBase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ids := e.sim.SeedSkills(map[string]any{"name": "A"}, map[string]any{"name": "B"})
	before, read := readAll(t, e)
	e.sim.EditSkill(ids[1], func(m map[string]any) { m["description"] = "by hand" })
	if _, err := e.c.GetSkill(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	b, _ := named(before, "B")
	b.Description = "from the old read"
	if _, _, err := e.c.UpdateSkills(t.Context(), read, []liveperson.Skill{b}); !errors.Is(err, liveperson.ErrConflict) {
		t.Fatalf("PUT after GetSkill: %v, want ErrConflict", err)
	}
	if got := lastRequest(e.sim, "PUT", skillsAPI); got.IfMatch != read {
		t.Fatalf("PUT sent If-Match %q, want the list's %s", got.IfMatch, read)
	}
}
