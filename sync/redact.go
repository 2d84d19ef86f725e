package sync

import (
	"context"
	"fmt"
	"log/slog"
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

// Redacted is the text RedactHandler writes in place of an attribute
// whose key names a secret.
const Redacted = "[redacted]"

// RedactHandler returns a slog.Handler that applies redact to the message
// and to every value of every line before inner sees it: strings, the
// members of groups, the attributes given to WithAttrs, and values of any
// other kind by the text they print as (errors, URLs, structs). An error
// whose text changes stays an error: errors.Is and errors.As still see
// the original through it. When hideKey is not nil, an attribute (or a
// whole group) whose key it names is written as Redacted whatever its
// value, except an empty string, which is kept: it shows that the setting
// is unset and holds nothing to hide.
//
// The runner uses it with Deps.Redact, the command's logger with the
// configuration's secrets and a test for secret-like keys: one guard for
// both, so that a fix to either reaches every line.
func RedactHandler(inner slog.Handler, redact func(string) string, hideKey func(key string) bool) slog.Handler {
	return &redactHandler{inner: inner, redact: redact, hideKey: hideKey}
}

type redactHandler struct {
	inner   slog.Handler
	redact  func(string) string
	hideKey func(string) bool // nil: no key is hidden
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return &redactHandler{inner: h.inner.WithAttrs(clean), redact: h.redact, hideKey: h.hideKey}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(name), redact: h.redact, hideKey: h.hideKey}
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if h.hideKey != nil && h.hideKey(a.Key) && !(v.Kind() == slog.KindString && v.String() == "") {
		return slog.String(a.Key, Redacted)
	}
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = h.attr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		// Errors, URLs, structs: judge them by the text they print as.
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprint(x)
		}
		if clean := h.redact(s); clean != s {
			if err, ok := v.Any().(error); ok {
				return slog.Any(a.Key, &redactedError{msg: clean, err: err})
			}
			return slog.String(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactedError is an error whose text was redacted; Unwrap keeps
// errors.Is and errors.As working on the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
