package sync

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/store"
)

// watchText picks, of a read, the buffer the records' origins are cut
// from (one for the whole read) and the line of the feed the record with
// id skippedID was cut from (weakSource).
func watchText(skippedID string) func(*hrsource.Snapshot) map[string]func() bool {
	return func(snap *hrsource.Snapshot) map[string]func() bool {
		out := map[string]func() bool{}
		for i := range snap.Records {
			r := &snap.Records[i]
			if i == 0 {
				out["origins"] = weakly(unsafe.StringData(r.Origin))
			}
			if r.ID == skippedID {
				out["line"] = weakly(unsafe.StringData(r.ID))
			}
		}
		return out
	}
}

// TestRunReleasesTextOfSkippedRecords: a record a rule skips (here: an
// empty department) is a problem of the run, which the run keeps to the
// end and puts in its plan. The problem must hold a copy of the record's
// id and origin, not the origin cut from the buffer of every record's
// origin (at 1,000,000 records, about 15 MB) nor the id cut from the
// record's line of the feed: one bad record would keep them all alive
// while the users are read, and for as long as the plan lives.
func TestRunReleasesTextOfSkippedRecords(t *testing.T) {
	t.Parallel()
	cfg := assignConfig()
	hr := baseHR + "6,fay@example.com,Fay,,Agent,active,\r\n"
	e := setup(t, hr, cfg)
	seedUsers(e, "ann@example.com", "bob@example.com", "fay@example.com")
	r := e.runner(cfg)
	src := &weakSource{src: r.deps.Source, watch: watchText("6")}
	users := &gcUsers{UsersAPI: r.deps.Users, src: src}
	r.deps.Source, r.deps.Users = src, users

	for _, mode := range []store.Mode{store.ModePlan, store.ModeApply} {
		before := users.reads
		res := e.run(r, mode)
		if users.reads == before {
			t.Fatalf("%s run: users not read", mode)
		}
		if res.Plan == nil || len(res.Plan.Problems) == 0 || res.Plan.Problems[0].RecordID != "6" || res.Plan.Problems[0].Origin == "" {
			t.Fatalf("%s run: want the problem of record 6 in the plan, got %+v", mode, res.Plan)
		}
		if users.held["origins"] > 0 {
			t.Errorf("%s run: the origins of every HR record were still held when the users were read", mode)
		}
		if users.held["line"] > 0 {
			t.Errorf("%s run: the line of the skipped record was still held when the users were read", mode)
		}
	}
}

// TestRunReleasesTextOfUndatedRecords: a record whose dates could not be
// read is a problem of every rule, which the run keeps to the end; it
// must hold a copy of the record's id and origin, not its line of the
// feed and the buffer of every record's origin.
func TestRunReleasesTextOfUndatedRecords(t *testing.T) {
	t.Parallel()
	e := setup(t, datedTeam+"9,ivy@example.com,Sales,active,2026-13-45,\n", Config{})
	seedUsers(e, "ann@example.com", "ivy@example.com")
	now := day("2026-12-07")
	r := e.datedRunner(datedConfig(func(c *Config) {
		c.Assignments = AssignmentsConfig{Enabled: true, Match: "email", MaxChangesPercent: 100}
	}), &now)
	src := &weakSource{src: r.deps.Source, watch: watchText("9")}
	users := &gcUsers{UsersAPI: r.deps.Users, src: src}
	r.deps.Source, r.deps.Users = src, users

	res := e.run(r, store.ModePlan)
	if users.reads == 0 {
		t.Fatal("users not read")
	}
	if res.Plan == nil || !slices.ContainsFunc(res.Plan.Problems, func(p RecordProblem) bool { return p.RecordID == "9" && p.Origin != "" }) {
		t.Fatalf("want the problem of record 9 in the plan, got %+v", res.Plan)
	}
	if users.held["origins"] > 0 {
		t.Error("the origins of every HR record were still held when the users were read")
	}
	if users.held["line"] > 0 {
		t.Error("the line of the record whose dates could not be read was still held when the users were read")
	}
}
