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

// readAll lists the skills and fails the test on error.
func readAll(t *testing.T, e *env) []liveperson.Skill {
	t.Helper()
	skills, err := e.c.ListSkills(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	return skills
}

func named(skills []liveperson.Skill, name string) (liveperson.Skill, bool) {
	for _, s := range skills {
		if s.Name == name {
			return s, true
		}
	}
	return liveperson.Skill{}, false
}

// TestCreateFallback: LivePerson documents no body for a batch create.
// When the answer has no skills or no ids, the client finds them by name
// in a list that does not move the write base.
func TestCreateFallback(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{lpsim.CreateResponseEmpty, lpsim.CreateResponseNoIDs} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			t.Run("found by name", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.CreateResponse = mode }})
				e.sim.SeedSkills(map[string]any{"name": "Old"})
				readAll(t, e)
				created, err := e.c.CreateSkills(t.Context(), []liveperson.Skill{{Name: "B"}, {Name: "A", Description: "d"}})
				if err != nil {
					t.Fatalf("CreateSkills: %v", err)
				}
				stored := e.sim.Skills(false)
				if len(created) != 2 || created[0].Name != "B" || created[1].Name != "A" || created[1].Description != "d" ||
					created[0].ID != stored[1]["id"] || created[1].ID != stored[2]["id"] {
					t.Fatalf("created %+v; lpsim holds %v", created, stored)
				}
				if e.sim.Count("POST", skillsAPI) != 1 {
					t.Fatal("create re-sent")
				}
				if got := e.c.Revision(); got != fmt.Sprint(e.sim.Revision()) {
					t.Fatalf("Revision %s, lpsim at %d", got, e.sim.Revision())
				}
			})
			t.Run("read back after another edit does not move the write base", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.CreateResponse = mode }})
				e.sim.SeedSkills(map[string]any{"name": "Old", "description": "as read"})
				before := readAll(t, e)
				// Someone edits the account between the create and the
				// client's read-back.
				e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: skillsAPI, ConcurrentEdit: true})
				if _, err := e.c.CreateSkills(t.Context(), []liveperson.Skill{{Name: "New"}}); err != nil {
					t.Fatalf("CreateSkills: %v", err)
				}
				if got, want := e.c.Revision(), fmt.Sprint(e.sim.Revision()-1); got != want {
					t.Fatalf("Revision %s, want %s (the create's, not the read-back's)", got, want)
				}
				old, _ := named(before, "Old")
				old.Description = "from the old read"
				if _, err := e.c.UpdateSkills(t.Context(), []liveperson.Skill{old}); !errors.Is(err, liveperson.ErrConflict) {
					t.Fatalf("PUT with a body from before the edit: %v, want ErrConflict", err)
				}
			})
			t.Run("read back fails: outcome unknown, no re-send", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.CreateResponse = mode }})
				readAll(t, e)
				e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: skillsAPI, Status: 500, Times: 10})
				created, err := e.c.CreateSkills(t.Context(), []liveperson.Skill{{Name: "New"}})
				if !errors.Is(err, liveperson.ErrOutcomeUnknown) || errors.Is(err, liveperson.ErrStateChanged) || created != nil {
					t.Fatalf("CreateSkills = %v, %v; want nil and ErrOutcomeUnknown", created, err)
				}
				if e.sim.Count("POST", skillsAPI) != 1 || countNamed(e.sim.Skills(true), "New") != 1 {
					t.Fatal("want exactly one POST and one skill")
				}
			})
			t.Run("skill gone before the read back: outcome unknown", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.CreateResponse = mode }})
				readAll(t, e)
				// Renamed by hand right after its creation: the name is
				// not found, so the client cannot say what was created.
				e.srv.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
					next.ServeHTTP(w, r)
					if r.Method == "POST" {
						e.sim.EditSkill(e.sim.Skills(false)[0]["id"].(int64), func(m map[string]any) { m["name"] = "Renamed" })
					}
				})
				created, err := e.c.CreateSkills(t.Context(), []liveperson.Skill{{Name: "New"}})
				if !errors.Is(err, liveperson.ErrOutcomeUnknown) || created != nil {
					t.Fatalf("CreateSkills = %v, %v; want nil and ErrOutcomeUnknown", created, err)
				}
			})
		})
	}
}

// TestCreateRevision: LivePerson documents no If-Match on create, so a
// create goes through whatever changed since the caller's read. Its answer's
// revision becomes the write base only when it proves the create was the
// only change; otherwise the caller hears ErrStateChanged and a PUT from
// the old read conflicts instead of wiping the other change.
func TestCreateRevision(t *testing.T) {
	t.Parallel()
	t.Run("nothing else changed: chained", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{})
		e.sim.SeedSkills(map[string]any{"name": "Old"})
		before := readAll(t, e)
		created, err := e.c.CreateSkills(t.Context(), []liveperson.Skill{{Name: "New"}, {Name: "Newer"}})
		if err != nil || len(created) != 2 {
			t.Fatalf("CreateSkills = %v, %v", created, err)
		}
		if got := e.c.Revision(); got != fmt.Sprint(e.sim.Revision()) {
			t.Fatalf("Revision %s, lpsim at %d", got, e.sim.Revision())
		}
		old, _ := named(before, "Old")
		old.Description = "updated"
		if _, err := e.c.UpdateSkills(t.Context(), []liveperson.Skill{old}); err != nil {
			t.Fatalf("PUT after an unshared create: %v", err)
		}
	})
	t.Run("edited by hand before the create: ErrStateChanged, then a conflict", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{})
		ids := e.sim.SeedSkills(map[string]any{"name": "Old", "description": "as read"})
		before := readAll(t, e)
		read := e.c.Revision()
		e.sim.EditSkill(ids[0], func(m map[string]any) { m["description"] = "by hand"; m["skillOrder"] = 3 })
		created, err := e.c.CreateSkills(t.Context(), []liveperson.Skill{{Name: "New"}})
		if !errors.Is(err, liveperson.ErrStateChanged) || !errors.Is(err, liveperson.ErrOutcomeUnknown) {
			t.Fatalf("error %v, want ErrStateChanged (matching ErrOutcomeUnknown too)", err)
		}
		if len(created) != 1 || created[0].ID == 0 || created[0].Name != "New" || countNamed(e.sim.Skills(true), "New") != 1 {
			t.Fatalf("created %+v: want the skill with its id", created)
		}
		if e.c.Revision() != read {
			t.Fatalf("Revision %s, want %s: the write base must stay at the read", e.c.Revision(), read)
		}
		old, _ := named(before, "Old")
		old.Description = "from the old read"
		if _, err := e.c.UpdateSkills(t.Context(), []liveperson.Skill{old}); !errors.Is(err, liveperson.ErrConflict) {
			t.Fatalf("PUT with a body from before the hand edit: %v, want ErrConflict", err)
		}
		if got := e.sim.Skills(false)[0]; got["description"] != "by hand" {
			t.Fatalf("hand edit overwritten: %v", got)
		}
		// Further creates before a re-read say the same.
		if _, err := e.c.CreateSkills(t.Context(), []liveperson.Skill{{Name: "Third"}}); !errors.Is(err, liveperson.ErrStateChanged) {
			t.Fatalf("second create: %v, want ErrStateChanged", err)
		}
		// A re-read makes writes possible again.
		after := readAll(t, e)
		old, _ = named(after, "Old")
		old.Description = "re-planned"
		if _, err := e.c.UpdateSkills(t.Context(), []liveperson.Skill{old}); err != nil {
			t.Fatalf("PUT after a re-read: %v", err)
		}
	})
	t.Run("server checking If-Match on create: conflict, nothing created", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{sim: func(o *lpsim.Options) { o.EnforceIfMatchOnCreate = true }})
		ids := e.sim.SeedSkills(map[string]any{"name": "Old"})
		readAll(t, e)
		e.sim.EditSkill(ids[0], func(m map[string]any) { m["description"] = "by hand" })
		_, err := e.c.CreateSkills(t.Context(), []liveperson.Skill{{Name: "New"}, {Name: "Newer"}})
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
			readAll(t, e)
			if tt.fault != nil {
				f := *tt.fault
				f.PathPrefix = skillsAPI
				e.sim.InjectFault(f)
			}
			created, err := e.c.CreateSkills(t.Context(), tt.skills)
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
	skills := readAll(t, e)
	for i := range skills {
		skills[i].Description = "new"
	}
	e.sim.InjectFault(lpsim.Fault{Method: "PUT", PathPrefix: skillsAPI, PartialApply: 1})
	if _, err := e.c.UpdateSkills(t.Context(), skills); !errors.Is(err, liveperson.ErrConflict) {
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
	if r1 != r2 || r1 != fmt.Sprint(e.sim.Revision()) || e.c.Revision() != r1 {
		t.Fatalf("revisions %s, %s, client %s; lpsim at %d", r1, r2, e.c.Revision(), e.sim.Revision())
	}
	// A hand edit between the two reads shows as different revisions.
	_, r1, _ = e.c.ListSkillsAt(ctx, true)
	e.sim.EditSkill(ids[0], func(m map[string]any) { m["description"] = "by hand" })
	_, r2, _ = e.c.ListUsersAt(ctx)
	if r1 == r2 || e.c.Revision() != r2 {
		t.Fatalf("revisions %s and %s around an edit; client %s", r1, r2, e.c.Revision())
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
	readAll(t, e)
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
	_, err := e.c.CreateSkills(ctx, []liveperson.Skill{{Name: "New"}})
	if !errors.Is(err, liveperson.ErrOutcomeUnknown) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want ErrOutcomeUnknown and context.Canceled", err)
	}
	if countNamed(e.sim.Skills(true), "New") != 1 {
		t.Fatal("create not applied")
	}
}

// TestGetSkillKeepsWriteBase: a single skill read (from ReadWrite), e.g.
// to check a skill is gone, is not a read the caller's other bodies come
// from, so it leaves the write base alone.
func TestGetSkillKeepsWriteBase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ids := e.sim.SeedSkills(map[string]any{"name": "A"}, map[string]any{"name": "B"})
	before := readAll(t, e)
	read := e.c.Revision()
	e.sim.EditSkill(ids[1], func(m map[string]any) { m["description"] = "by hand" })
	if _, err := e.c.GetSkill(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	if e.c.Revision() != read {
		t.Fatalf("Revision %s after GetSkill, want %s", e.c.Revision(), read)
	}
	b, _ := named(before, "B")
	b.Description = "from the old read"
	if _, err := e.c.UpdateSkills(t.Context(), []liveperson.Skill{b}); !errors.Is(err, liveperson.ErrConflict) {
		t.Fatalf("PUT after GetSkill: %v, want ErrConflict", err)
	}
}
