package sync

import (
	"context"
	"slices"

	"github.com/skillsync/skillsync/store"
)

// The texts a run stores come partly from elsewhere: an adapter's error
// may quote what a server answered, and a server may repeat the
// credentials it was sent. Deps.Redact is applied to each such text before
// it is stored or logged: the run's error, the journal's errors, the
// refusal, the plan's problems, warnings, notes and reasons.

// redactStore applies a redaction to every text the runner writes to the
// run store, whichever part of a run wrote it.
type redactStore struct {
	RunStore
	redact func(string) string
}

func (s redactStore) FinishRun(ctx context.Context, run store.Run) error {
	run.Error = s.redact(run.Error)
	return s.RunStore.FinishRun(ctx, run)
}

func (s redactStore) JournalAdd(ctx context.Context, runID int64, ops []store.Operation) ([]int64, error) {
	clean := slices.Clone(ops)
	for i := range clean {
		clean[i].Request, clean[i].Error = s.redact(clean[i].Request), s.redact(clean[i].Error)
	}
	return s.RunStore.JournalAdd(ctx, runID, clean)
}

func (s redactStore) JournalSet(ctx context.Context, updates []store.OpUpdate) error {
	return s.RunStore.JournalSet(ctx, s.updates(updates))
}

func (s redactStore) TakeOverSkills(ctx context.Context, skills []store.OwnedSkill, settled []store.OpUpdate) error {
	return s.RunStore.TakeOverSkills(ctx, skills, s.updates(settled))
}

func (s redactStore) RecordSnapshot(ctx context.Context, snap store.Snapshot) (int64, error) {
	snap.Reason = s.redact(snap.Reason)
	return s.RunStore.RecordSnapshot(ctx, snap)
}

func (s redactStore) updates(ups []store.OpUpdate) []store.OpUpdate {
	clean := slices.Clone(ups)
	for i := range clean {
		clean[i].Error = s.redact(clean[i].Error)
	}
	return clean
}

// redacted returns a copy of p whose free texts (problems, warnings,
// notes, reasons) went through redact; p is not changed.
func (p *Plan) redacted(redact func(string) string) *Plan {
	out := *p
	out.Problems = slices.Clone(p.Problems)
	for i := range out.Problems {
		out.Problems[i].Msg = redact(out.Problems[i].Msg)
		out.Problems[i].Origin = redact(out.Problems[i].Origin)
	}
	out.Warnings = slices.Clone(p.Warnings)
	for i := range out.Warnings {
		out.Warnings[i] = redact(out.Warnings[i])
	}
	out.Changes = slices.Clone(p.Changes)
	for i := range out.Changes {
		out.Changes[i].Reason = redact(out.Changes[i].Reason)
	}
	out.Unconfirmed = slices.Clone(p.Unconfirmed)
	for i := range out.Unconfirmed {
		out.Unconfirmed[i].Note = redact(out.Unconfirmed[i].Note)
	}
	if p.Assignments != nil {
		a := *p.Assignments
		a.Notes = slices.Clone(a.Notes)
		for i := range a.Notes {
			a.Notes[i] = redact(a.Notes[i])
		}
		out.Assignments = &a
	}
	return &out
}
