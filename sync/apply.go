package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// errReplan reports a revision conflict: someone else changed the account
// while we applied, so what is left must be planned again from a fresh read.
var errReplan = errors.New("revision conflict")

// errStale reports that the applier re-read the account (to find out what
// a create did): the rest of the plan rests on an older read, so it is
// planned again from a fresh one before anything else is written.
var errStale = errors.New("the account was re-read while applying")

// applyCounts are what an apply actually did.
type applyCounts struct {
	Created, Updated, Deleted int
	Assigned, Unassigned      int
	Failed                    int
	// TakenOver counts skills of earlier runs' lost creates registered.
	TakenOver int
	// Adopted counts adoptions without field changes: registered, not
	// written to LivePerson (adoptions with changes count as Updated).
	Adopted int
	// FailedDeletes are owned skills whose delete LivePerson refused; they
	// stay pending and are tried again next run.
	FailedDeletes []int64
}

// applier writes one plan to LivePerson, journaling every item and keeping
// the ownership registry in step with each write.
type applier struct {
	skills SkillsAPI
	store  RunStore
	log    *slog.Logger
	runID  int64
	batch  int

	registry map[int64]store.OwnedSkill // by skill id, kept current
	idByName map[string]int64           // NameKey of a live name → id
	counts   *applyCounts

	// assign runs the assignments phase between updates and deletes.
	assign func(ctx context.Context) error
	// lock is the run lock, confirmed before every write batch (nil: not
	// checked, for tests of the applier alone).
	lock lockChecker

	// rev is the revision the next write sends as If-Match: the plan's,
	// then whatever each write (or the applier's own re-read) returns.
	rev string
	// stale is set when the applier re-read the account.
	stale bool
	// failedCreates are the NameKeys of creates that failed in
	// this run: a re-plan does not try them again (the next run does).
	failedCreates map[string]bool
	// unfreed are skills whose rename freeing their name before their
	// delete failed: their delete waits (LivePerson keeps the names of
	// deleted skills, and the rules could not create the name again).
	unfreed map[int64]bool
	// absent are the settlements of earlier runs' creates the plan found
	// absent from its list, read at absentRev, kept until a write proves
	// that list current (absentproof.go).
	absent    []store.OpUpdate
	absentRev string
}

func newApplier(skills SkillsAPI, st RunStore, log *slog.Logger, runID int64, batch int, counts *applyCounts) *applier {
	return &applier{skills: skills, store: st, log: log, runID: runID, batch: max(batch, 1), counts: counts,
		registry: map[int64]store.OwnedSkill{}, idByName: map[string]int64{}, failedCreates: map[string]bool{}}
}

// dropFailedCreates takes the creates that already failed in this run out
// of a re-plan, saying so: they are tried again by the next run.
func (a *applier) dropFailedCreates(p *Plan) {
	if len(a.failedCreates) == 0 {
		return
	}
	p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool {
		if c.Action != ActionCreate || !a.failedCreates[nameKey(c.Skill)] {
			return false
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("create of %q failed earlier in this run; the next run tries again", c.Skill))
		return true
	})
}

// reset points the applier at a fresh read of the account, made at
// revision rev.
func (a *applier) reset(rev string, current []liveperson.Skill, registry []store.OwnedSkill) {
	a.rev = rev
	clear(a.registry)
	clear(a.idByName)
	for _, r := range registry {
		if r.ReleasedAt == nil {
			a.registry[r.SkillID] = r
		}
	}
	for _, s := range current {
		if !s.Deleted {
			a.idByName[nameKey(s.Name)] = s.ID
		}
	}
}

// advance takes the revision a write or a re-read returned as the one
// the next write sends ("" from a write that learned none: unchanged).
func (a *applier) advance(rev string) {
	if rev != "" {
		a.rev = rev
	}
}

// apply runs the phases in order: registry bookkeeping, creates, updates,
// assignments, deletes. It stops between batches when ctx is cancelled
// (returning ctx.Err()) and returns errReplan on a revision conflict.
// Batches themselves run to completion: a request half sent is worse than a
// shutdown a few seconds late.
func (a *applier) apply(ctx context.Context, p *Plan) error {
	wctx := context.WithoutCancel(ctx)
	// Not even skillsync's own bookkeeping is written without the lock:
	// another replica may be writing the same rows.
	if err := a.holdsLock(wctx); err != nil {
		return err
	}
	if len(p.Forget) > 0 {
		if err := a.store.DeleteOwnedSkills(wctx, p.Forget); err != nil {
			return fmt.Errorf("forget vanished skills: %w", err)
		}
		for _, id := range p.Forget {
			delete(a.registry, id)
		}
	}
	if err := a.takeOver(wctx, p); err != nil {
		return err
	}
	if len(p.RegistryFixes) > 0 {
		if err := a.store.UpsertOwnedSkills(wctx, p.RegistryFixes); err != nil {
			return fmt.Errorf("update ownership registry: %w", err)
		}
	}
	forget := maps.Clone(p.StateFixes)
	for _, id := range p.Forget {
		if forget == nil {
			forget = map[int64]SkillState{}
		}
		forget[id] = nil
	}
	if err := a.saveStates(wctx, forget); err != nil {
		return err
	}
	var creates, lateCreates, updates, deletes []Change
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate:
			if c.afterRenames {
				lateCreates = append(lateCreates, c)
			} else {
				creates = append(creates, c)
			}
		case ActionUpdate:
			updates = append(updates, c)
		case ActionDelete:
			deletes = append(deletes, c)
		}
	}
	// transfer_to names skills as they are named after the run: a skill
	// this run renames answers to its new name from the first write on.
	for _, c := range updates {
		if c.After == nil || c.Before == nil || c.SkillID == 0 || nameKey(c.Before.Name) == nameKey(c.After.Name) {
			continue
		}
		if a.idByName[nameKey(c.Before.Name)] == c.SkillID {
			delete(a.idByName, nameKey(c.Before.Name))
		}
		a.idByName[nameKey(c.After.Name)] = c.SkillID
	}
	fixups, err := a.createPhase(ctx, creates)
	if err != nil {
		return err
	}
	if err := a.updatePhase(ctx, append(updates, fixups...)); err != nil {
		return err
	}
	if len(lateCreates) > 0 {
		// Names the updates just gave up (groups swapping names).
		if fixups, err = a.createPhase(ctx, lateCreates); err != nil {
			return err
		}
		if err := a.updatePhase(ctx, fixups); err != nil {
			return err
		}
	}
	if a.assign != nil {
		if err := a.assign(ctx); err != nil {
			return err
		}
	}
	return a.deletePhase(ctx, deletes)
}

// takeOver registers the skills earlier runs created without learning it
// and settles the journal rows of those runs' unanswered creates, in one
// transaction: none is taken up again (a later release must not be undone
// by an old row), and none is settled without its skill registered.
func (a *applier) takeOver(ctx context.Context, p *Plan) error {
	if len(p.Takeovers)+len(p.Unconfirmed) == 0 {
		return nil
	}
	settled := make([]store.OpUpdate, 0, len(p.Unconfirmed))
	for _, r := range p.Unconfirmed {
		if r.Resolution == ResolutionUnseen {
			// Not settled: a later run looks again, at a later revision.
			continue
		}
		u := store.OpUpdate{ID: r.OpID, State: store.OpResolved,
			Error: fmt.Sprintf("outcome unknown; resolved by run %d: %s", a.runID, r.Note)}
		if r.Resolution == ResolutionTakenOver {
			u.SkillID = ptrTo(r.SkillID)
		}
		if r.proof != "" {
			a.deferAbsent(r, u)
			continue
		}
		settled = append(settled, u)
	}
	if err := a.store.TakeOverSkills(ctx, p.Takeovers, settled); err != nil {
		return fmt.Errorf("take over skills created by earlier runs: %w", err)
	}
	for _, t := range p.Takeovers {
		a.registry[t.SkillID] = t
		a.log.Info("skill taken over: created by an earlier run that never got the answer",
			"skill", t.Name, "skill_id", t.SkillID, "created_by_run", *t.CreatedByRun, "rule", t.RuleID)
	}
	a.counts.TakenOver += len(p.Takeovers)
	return nil
}

// holdsLock confirms that the run still holds the run lock; it is asked
// before every write batch, before the batch is journaled. Its error
// (unconfirmedLock) ends the run: nothing more is written.
func (a *applier) holdsLock(ctx context.Context) error {
	if a.lock == nil {
		return nil
	}
	if err := a.lock.Check(ctx); err != nil {
		return notSent(err)
	}
	return nil
}

// unsent marks journaled items that were not sent because the run lock
// could not be confirmed, and returns err: the run stops.
func (a *applier) unsent(ctx context.Context, jids []int64, err error) error {
	a.log.Warn("write not sent: the run lock could not be confirmed", "items", len(jids), "error", err)
	if e := a.mark(ctx, jids, store.OpFailed, fmt.Errorf("not sent: %w", err), nil); e != nil {
		return errors.Join(err, e)
	}
	return err
}

// saveStates remembers what was written to owned skills, so that the next
// run can tell a hand edit from a change of the config.
func (a *applier) saveStates(ctx context.Context, states map[int64]SkillState) error {
	if len(states) == 0 {
		return nil
	}
	if err := a.store.SetSkillStates(ctx, states); err != nil {
		return fmt.Errorf("store written skill state: %w", err)
	}
	return nil
}

// resolveTransfers maps transfer_to names to ids as known now; it reports
// whether every name resolved.
func (a *applier) resolveTransfers(names []string) ([]int64, bool) {
	out := []int64{}
	complete := true
	for _, n := range names {
		if id, ok := a.idByName[nameKey(n)]; ok {
			out = append(out, id)
		} else {
			complete = false
		}
	}
	return sortedIDs(out), complete
}

// journal records items as sent and returns their journal ids: the
// caller sends them next, and the row is on disk before it does (the
// store commits a write of sent rows durably). Nothing happens between
// journaling and sending, so the rows are born sent rather than intended,
// then moved: one statement and one commit per batch fewer. A process
// that dies before the call leaves them sent, as one dying during it, and
// the next run settles them the same way. For creates, bodies are what
// will be sent.
func (a *applier) journal(ctx context.Context, action string, items []Change, request func(Change) string, bodies []liveperson.Skill) ([]int64, error) {
	ops := make([]store.Operation, len(items))
	for i, c := range items {
		ops[i] = store.Operation{RunID: a.runID, Action: action, SkillName: c.Skill, Request: request(c), State: store.OpSent}
		if c.Action == ActionCreate {
			// Should the answer be lost with the process, a later run
			// takes the skill over under this rule and key, provided it
			// has every field sent (madeBy).
			ops[i].RuleID, ops[i].RuleKey = c.Rule, c.Key
			if bodies != nil {
				ops[i].Sent = sentState(&bodies[i], c.managed)
			}
			// The If-Match the create is sent under: a later run settles
			// it as not made only from a list read after it.
			ops[i].Revision = a.rev
		}
		if c.SkillID != 0 {
			ops[i].SkillID = ptrTo(c.SkillID)
		}
	}
	ids, err := a.store.JournalAdd(ctx, a.runID, ops)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", action, err)
	}
	return ids, nil
}

func (a *applier) mark(ctx context.Context, ids []int64, state store.OpState, err error, skillIDs []int64) error {
	ups := make([]store.OpUpdate, len(ids))
	status, msg := errorDetail(err)
	for i, id := range ids {
		ups[i] = store.OpUpdate{ID: id, State: state, HTTPStatus: status, Error: msg}
		if skillIDs != nil && skillIDs[i] != 0 {
			ups[i].SkillID = ptrTo(skillIDs[i])
		}
	}
	if e := a.store.JournalSet(ctx, ups); e != nil {
		return fmt.Errorf("journal: %w", e)
	}
	return nil
}

// skillNames names the skills of a batch, for its log line: at info level
// one line per batch of writes (the journal keeps every item, and debug
// level logs them one by one).
func skillNames(batch []Change) []string {
	names := make([]string, len(batch))
	for i, c := range batch {
		names[i] = c.Skill
	}
	return names
}

// errorDetail extracts the HTTP status and a message for the journal.
func errorDetail(err error) (*int, string) {
	if err == nil {
		return nil, ""
	}
	var apiErr *liveperson.APIError
	if errors.As(err, &apiErr) && apiErr.Status != 0 {
		return ptrTo(apiErr.Status), err.Error()
	}
	return nil, err.Error()
}

func chunks[T any](items []T, n int) [][]T {
	var out [][]T
	for len(items) > 0 {
		k := min(n, len(items))
		out = append(out, items[:k])
		items = items[k:]
	}
	return out
}

func requestText(verb string) func(Change) string {
	return func(c Change) string {
		s := verb + " " + c.Skill
		if len(c.Fields) > 0 {
			s += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		return s
	}
}

// createPhase creates skills in batches. It returns the follow-up updates
// of created skills whose transfer targets were created in the same run.
func (a *applier) createPhase(ctx context.Context, creates []Change) ([]Change, error) {
	wctx := context.WithoutCancel(ctx)
	var fixups []Change
	for _, batch := range chunks(creates, a.batch) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := a.holdsLock(wctx); err != nil {
			return nil, err
		}
		bodies := make([]liveperson.Skill, len(batch))
		incomplete := make([]bool, len(batch))
		for i, c := range batch {
			bodies[i] = *c.After
			if c.TransferTo != nil {
				var complete bool
				bodies[i].SkillTransferList, complete = a.resolveTransfers(c.TransferTo)
				incomplete[i] = !complete
			}
		}
		jids, err := a.journal(wctx, "create", batch, requestText("POST skills"), bodies)
		if err != nil {
			return nil, err
		}
		created, err := a.createItems(ctx, batch, bodies, jids)
		if err != nil {
			return nil, err
		}
		for i, s := range created {
			if s != nil && incomplete[i] {
				if ids, _ := a.resolveTransfers(batch[i].TransferTo); !sameIDs(ids, s.SkillTransferList) {
					after := *s
					after.SkillTransferList = ids
					fixups = append(fixups, Change{Action: ActionUpdate, Skill: s.Name, SkillID: s.ID, Before: s, After: &after,
						Rule: batch[i].Rule, Key: batch[i].Key, Fields: []string{"transfer_to"}, TransferTo: batch[i].TransferTo,
						Diff:    []FieldDiff{{Field: "transfer_to", Before: s.SkillTransferList, After: ids}},
						managed: batch[i].managed}) // the written state then has the full list
				}
			}
		}
	}
	if a.stale {
		// What follows (updates, assignments, deletes, and these
		// fixups) was planned from the read before: plan it again.
		a.stale = false
		return nil, errStale
	}
	return fixups, nil
}

// createItems sends one create batch. When the batch fails it never
// re-sends it blindly: LivePerson does not document whether a batch is
// all-or-nothing, so the items it did create are found by re-reading the
// account and matching by name, and only the missing ones are sent again,
// one by one. The result holds the created skill of each item (nil when it
// failed).
func (a *applier) createItems(ctx context.Context, batch []Change, bodies []liveperson.Skill, jids []int64) ([]*liveperson.Skill, error) {
	wctx := context.WithoutCancel(ctx)
	out := make([]*liveperson.Skill, len(batch))
	// The rows are sent already (journal), under a.rev.
	sent := a.rev
	created, rev, err := a.skills.CreateSkills(wctx, sent, bodies)
	a.advance(rev)
	if unconfirmedLock(err) {
		return nil, a.unsent(wctx, jids, err)
	}
	if err == nil && rev != sent {
		// The create's revision follows sent: the account was at sent.
		if err := a.proven(wctx, sent); err != nil {
			return nil, err
		}
	}
	if errors.Is(err, liveperson.ErrStateChanged) && len(created) == len(bodies) {
		// All created, but the account may have changed otherwise too:
		// register them, and plan the rest again from a fresh read.
		a.log.Info("skills created, but the account changed meanwhile; re-planning after the creates", "items", len(bodies), "error", err)
		a.stale, err = true, nil
	}
	if err == nil {
		byName := map[string]*liveperson.Skill{}
		for i := range created {
			byName[nameKey(created[i].Name)] = &created[i]
		}
		for i, b := range bodies {
			if s := byName[nameKey(b.Name)]; s != nil {
				out[i] = s
			} else if i < len(created) {
				out[i] = &created[i]
			}
		}
		if slices.Contains(out, nil) {
			// The API answered but did not echo every skill under its
			// name: find them.
			return a.resolveUnknownCreates(ctx, batch, bodies, jids, out, errors.New("create response lacks some skills"))
		}
		return out, a.created(wctx, batch, out, jids, bodies)
	}
	if errors.Is(err, liveperson.ErrConflict) {
		// Refused on the revision before anything was applied.
		return nil, a.conflict(wctx, jids, err)
	}
	// Lost answer, an answer that says the skills exist but not which
	// (the client does not look them up: that is done here, once), or a
	// refusal of a batch that may have applied its first items: find out
	// what exists.
	return a.resolveUnknownCreates(ctx, batch, bodies, jids, out, err)
}

// resolveUnknownCreates handles creates whose outcome is unknown (the
// response was lost, or the batch failed and may have applied part of
// itself): it re-reads the account (deleted skills included), matches by
// name and registers what the batch provably created (madeBy). A create is
// never blindly repeated: when the answer was lost (a dropped connection,
// a 5xx, a 2xx that did not name every skill), what the re-read does not
// show may still have been made (a list can lag behind a create) and a
// second POST would be refused as a duplicate, orphaning the skill; those
// rows stay sent for the next run to settle from the journal. Only when
// LivePerson answered the batch with a refusal (a bad item refuses the
// batch, whose first items may have been applied) are the missing items
// sent again one by one, so that one bad item cannot poison the others
// (one such resend refused in turn, with no skill of its name in the
// re-read to explain it, stays sent as well: the batch may have made it and
// the re-read lag behind); a single create refused outright is not sent
// again. The re-read marks the
// applier stale: the rest of the plan is planned again after the creates.
func (a *applier) resolveUnknownCreates(ctx context.Context, batch []Change, bodies []liveperson.Skill, jids []int64, out []*liveperson.Skill, cause error) ([]*liveperson.Skill, error) {
	wctx := context.WithoutCancel(ctx)
	a.log.Warn("create outcome unknown; re-reading skills to match by name", "items", len(batch), "error", cause)
	current, rev, err := a.skills.ListSkillsAt(wctx, true)
	if err != nil {
		return nil, fmt.Errorf("re-read skills after a create whose outcome is unknown: %w", err)
	}
	a.stale = true
	a.advance(rev)
	var apiErr *liveperson.APIError
	answered := errors.As(cause, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500
	// A single create LivePerson refused with an answer (a 4xx) did not
	// happen and would be refused again.
	refused := len(batch) == 1 && answered && !errors.Is(cause, liveperson.ErrOutcomeUnknown)
	live := map[string]*liveperson.Skill{}
	for i := range current {
		if !current[i].Deleted {
			live[nameKey(current[i].Name)] = &current[i]
		}
	}
	var found []int
	var missing []int
	notOurs := make([]string, len(bodies)) // why the skill under the name is not provably ours
	for i, b := range bodies {
		if out[i] != nil {
			found = append(found, i)
			continue
		}
		if s := live[nameKey(b.Name)]; s != nil {
			if notOurs[i] = madeBy(s, sentState(&bodies[i], batch[i].managed)); notOurs[i] == "" {
				out[i] = s
				found = append(found, i)
				continue
			}
		}
		missing = append(missing, i)
	}
	if len(found) > 0 {
		// The re-read may have outlasted the run lock: another replica
		// may hold it now and settle these rows from the journal, so
		// nothing is registered without it (the rows stay sent).
		if err := a.holdsLock(wctx); err != nil {
			return nil, err
		}
		var fb []Change
		var fo []*liveperson.Skill
		var fj []int64
		for _, i := range found {
			fb, fo, fj = append(fb, batch[i]), append(fo, out[i]), append(fj, jids[i])
		}
		if err := a.created(wctx, fb, fo, fj, nil); err != nil {
			return nil, err
		}
	}
	if refused && len(missing) == 1 {
		return out, a.failedCreate(wctx, batch, jids, cause)
	}
	if !answered {
		for _, i := range missing {
			what := "not found by name after it"
			if notOurs[i] != "" {
				what = "the skill under its name is not provably the one sent (" + notOurs[i] + ")"
			}
			if err := a.unknownCreate(wctx, batch[i], jids[i], fmt.Errorf("%w; %s; not sent again, the next run settles it", cause, what)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return a.resendMissing(ctx, batch, bodies, jids, out, missing, notOurs, cause)
}

// resendMissing sends the items of a create batch LivePerson refused
// (cause) that the re-read did not show, one by one (resolveUnknownCreates);
// notOurs says, per item, why a skill under its name is not provably the
// one sent. Anything whose outcome is again unknown stays sent for the next
// run to settle.
func (a *applier) resendMissing(ctx context.Context, batch []Change, bodies []liveperson.Skill, jids []int64, out []*liveperson.Skill, missing []int, notOurs []string, cause error) ([]*liveperson.Skill, error) {
	wctx := context.WithoutCancel(ctx)
	for k, i := range missing {
		if err := ctx.Err(); err != nil {
			// Shutting down before they are sent again. The refused
			// batch may have made any of them (the re-read can lag
			// behind it), so their rows stay sent, for the next run to
			// settle from the journal: it takes over what the batch
			// made and creates the rest. Marked failed, a skill the
			// batch did make would be someone else's for good.
			var left []int64
			for _, j := range missing[k:] {
				left = append(left, jids[j])
				a.failedCreates[nameKey(bodies[j].Name)] = true
			}
			return out, a.mark(wctx, left, store.OpSent,
				errors.New("not sent again: run interrupted; the refused batch may have made it, the next run settles it"), nil)
		}
		a.log.Info("skill not found after the re-read; creating it", "skill", bodies[i].Name)
		// Sent again under the re-read's revision: should it stay sent,
		// a later run waits for a list read after this one.
		if err := a.store.JournalSet(wctx, []store.OpUpdate{{ID: jids[i], State: store.OpSent, Revision: a.rev}}); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		s, rev, err := a.skills.CreateSkills(wctx, a.rev, bodies[i:i+1])
		a.advance(rev)
		if errors.Is(err, liveperson.ErrStateChanged) && len(s) == 1 {
			// Created; the account moved otherwise too, and the applier
			// re-plans after the creates anyway.
			err = nil
		}
		switch {
		case err == nil && len(s) == 1:
			out[i] = &s[0]
			if err := a.created(wctx, batch[i:i+1], out[i:i+1], jids[i:i+1], bodies[i:i+1]); err != nil {
				return nil, err
			}
		case err == nil:
			if err := a.failedCreate(wctx, batch[i:i+1], jids[i:i+1], fmt.Errorf("create returned %d skills for one", len(s))); err != nil {
				return nil, err
			}
		case errors.Is(err, liveperson.ErrConflict):
			// Refused on the revision: nothing from here on was created;
			// re-planning re-reads and plans them again.
			var left []int64
			for _, j := range missing[k:] {
				left = append(left, jids[j])
			}
			return nil, a.conflict(wctx, left, err)
		case unconfirmedLock(err):
			// Not sent, and the run stops: another replica may hold the
			// lock. As on shutdown, the rows of this one and those after
			// it stay sent for the lock's holder to settle from the
			// journal: the refused batch may have made any of them.
			for _, j := range missing[k:] {
				a.failedCreates[nameKey(bodies[j].Name)] = true
			}
			a.log.Warn("write not sent: the run lock could not be confirmed", "items", len(missing)-k, "error", err)
			return nil, err
		case errors.Is(err, liveperson.ErrOutcomeUnknown):
			// Its answer was lost too: one more look, never a resend.
			lost := err
			s, err := a.findCreated(wctx, bodies[i], sentState(&bodies[i], batch[i].managed))
			if err != nil {
				return nil, err
			}
			if s == nil {
				// Not seen yet, which does not mean not made: the list
				// may lag. The row stays sent, so that the next run
				// settles it (takes the skill over when it shows up, or
				// creates it); failed would leave a skill that appears
				// later to be taken for someone else's.
				if err := a.unknownCreate(wctx, batch[i], jids[i], fmt.Errorf("%w; not found by name after it, settled by the next run", lost)); err != nil {
					return nil, err
				}
				continue
			}
			out[i] = s
			if err := a.created(wctx, batch[i:i+1], out[i:i+1], jids[i:i+1], nil); err != nil {
				return nil, err
			}
		case refusedByLivePerson(err) && notOurs[i] == "":
			// Refused, and the re-read showed no skill under its name that
			// would explain it: maybe the batch made it after all and the
			// re-read lags behind (its name is taken now). No proof that it
			// was not made: the row stays sent for the next run to settle;
			// failed would leave the skill someone else's for good.
			if err := a.unknownCreate(wctx, batch[i], jids[i], fmt.Errorf("%w; the batch before it may have made it (%v); settled by the next run", err, cause)); err != nil {
				return nil, err
			}
		default:
			if err := a.failedCreate(wctx, batch[i:i+1], jids[i:i+1], err); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// refusedByLivePerson reports whether err is LivePerson's answer refusing
// a request (a 4xx).
func refusedByLivePerson(err error) bool {
	var apiErr *liveperson.APIError
	return errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500
}

// findCreated re-reads the account and returns the live skill a create
// of body (which sent sent) made, or nil: the skill under its name, if
// madeBy says so (otherwise someone else made it).
func (a *applier) findCreated(ctx context.Context, body liveperson.Skill, sent SkillState) (*liveperson.Skill, error) {
	current, rev, err := a.skills.ListSkillsAt(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("re-read skills after a create whose outcome is unknown: %w", err)
	}
	a.stale = true
	a.advance(rev)
	for i := range current {
		s := &current[i]
		if !s.Deleted && nameKey(s.Name) == nameKey(body.Name) && madeBy(s, sent) == "" {
			return s, nil
		}
	}
	return nil, nil
}

// created registers newly created skills before anything else can happen
// to them, then marks their journal rows done.
func (a *applier) created(ctx context.Context, batch []Change, skills []*liveperson.Skill, jids []int64, sent []liveperson.Skill) error {
	var rows []store.OwnedSkill
	var replaced []int64
	ids := make([]int64, len(batch))
	states := map[int64]SkillState{}
	for i, c := range batch {
		s := skills[i]
		ids[i] = s.ID
		// Remember what we asked for: a create response need not echo
		// every field.
		written := *s
		if sent != nil {
			written = sent[i]
			written.ID = s.ID
		}
		states[s.ID] = stateOf(&written, c.managed)
		if c.ReplacesID != 0 && c.ReplacesID != s.ID {
			states[c.ReplacesID] = nil
		}
		rows = append(rows, store.OwnedSkill{SkillID: s.ID, Name: s.Name, RuleID: c.Rule, RuleKey: c.Key, CreatedByRun: ptrTo(a.runID)})
		if c.ReplacesID != 0 && c.ReplacesID != s.ID {
			replaced = append(replaced, c.ReplacesID)
		}
	}
	if len(replaced) > 0 {
		if err := a.store.DeleteOwnedSkills(ctx, replaced); err != nil {
			return fmt.Errorf("registry: drop replaced skills: %w", err)
		}
		for _, id := range replaced {
			delete(a.registry, id)
		}
	}
	if err := a.store.UpsertOwnedSkills(ctx, rows); err != nil {
		return fmt.Errorf("registry: register created skills: %w", err)
	}
	if err := a.saveStates(ctx, states); err != nil {
		return err
	}
	for i, r := range rows {
		a.registry[r.SkillID] = r
		a.idByName[nameKey(skills[i].Name)] = r.SkillID
	}
	a.counts.Created += len(batch)
	for i, c := range batch {
		a.log.Debug("skill created", "skill", c.Skill, "skill_id", ids[i], "rule", c.Rule)
	}
	a.log.Info("skills created", "items", len(batch), "skills", skillNames(batch))
	return a.mark(ctx, jids, store.OpDone, nil, ids)
}

// failedCreate is failed for creates: a re-plan in this run leaves them out.
func (a *applier) failedCreate(ctx context.Context, batch []Change, jids []int64, err error) error {
	for _, c := range batch {
		a.failedCreates[nameKey(c.Skill)] = true
	}
	return a.failed(ctx, jids, err)
}

// unknownCreate is a create whose outcome this run could not learn: it
// counts as failed for the run's counts and outcome, a re-plan in this run
// leaves it out, and its journal row stays sent (with the error) so that
// store.UnconfirmedCreates hands it to the next run to settle.
func (a *applier) unknownCreate(ctx context.Context, c Change, jid int64, err error) error {
	a.failedCreates[nameKey(c.Skill)] = true
	a.counts.Failed++
	a.log.Warn("create outcome unknown; the next run settles it", "skill", c.Skill, "error", err)
	return a.mark(ctx, []int64{jid}, store.OpSent, err, nil)
}

func (a *applier) failed(ctx context.Context, jids []int64, err error) error {
	if unconfirmedLock(err) {
		// Not a failure of the item: the run stops here.
		return a.unsent(ctx, jids, err)
	}
	a.counts.Failed += len(jids)
	a.log.Warn("skill operation failed", "items", len(jids), "error", err)
	return a.mark(ctx, jids, store.OpFailed, err, nil)
}

// conflict marks the items as not done (they are re-planned) and returns
// errReplan.
func (a *applier) conflict(ctx context.Context, jids []int64, err error) error {
	if e := a.mark(ctx, jids, store.OpFailed, fmt.Errorf("%w; re-planned", err), nil); e != nil {
		return e
	}
	return fmt.Errorf("%w: %w", errReplan, err)
}

// updatePhase writes updates (renames, drift repairs, adoptions, setting
// changes) in batches. An adoption without field changes only registers.
func (a *applier) updatePhase(ctx context.Context, updates []Change) error {
	wctx := context.WithoutCancel(ctx)
	var writes []Change
	var registerOnly []Change
	for _, c := range updates {
		after := *c.After
		if c.TransferTo != nil {
			after.SkillTransferList, _ = a.resolveTransfers(c.TransferTo)
		}
		c.After = &after
		if len(c.Diff) == 0 {
			registerOnly = append(registerOnly, c)
			continue
		}
		writes = append(writes, c)
	}
	if len(registerOnly) > 0 {
		if err := a.registerUpdated(wctx, registerOnly); err != nil {
			return err
		}
		states := map[int64]SkillState{}
		for _, c := range registerOnly {
			if c.managed != nil {
				states[c.SkillID] = stateOf(c.After, c.managed)
			}
		}
		if err := a.saveStates(wctx, states); err != nil {
			return err
		}
	}
	for _, batch := range chunks(writes, a.batch) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.holdsLock(wctx); err != nil {
			return err
		}
		jids, err := a.journal(wctx, "update", batch, requestText("PUT skills"), nil)
		if err != nil {
			return err
		}
		if err := a.updateItems(wctx, batch, jids); err != nil {
			return err
		}
	}
	return nil
}

// updateItems sends one update batch, whose rows are journaled sent.
func (a *applier) updateItems(ctx context.Context, batch []Change, jids []int64) error {
	bodies := make([]liveperson.Skill, len(batch))
	for i, c := range batch {
		bodies[i] = *c.After
	}
	sent := a.rev
	_, rev, err := a.skills.UpdateSkills(ctx, sent, bodies)
	a.advance(rev)
	if unconfirmedLock(err) {
		return a.unsent(ctx, jids, err)
	}
	if err == nil {
		if err := a.proven(ctx, sent); err != nil {
			return err
		}
		if err := a.registerUpdated(ctx, batch); err != nil {
			return err
		}
		states := map[int64]SkillState{}
		for i, c := range batch {
			if c.managed != nil {
				states[c.SkillID] = stateOf(&bodies[i], c.managed)
			}
		}
		if err := a.saveStates(ctx, states); err != nil {
			return err
		}
		for _, c := range batch {
			if !c.freesName { // part of a delete, counted there
				a.counts.Updated++
			}
		}
		for _, c := range batch {
			a.log.Debug("skill updated", "skill", c.Skill, "skill_id", c.SkillID, "fields", strings.Join(c.Fields, ","), "drift", c.Drift)
		}
		a.log.Info("skills updated", "items", len(batch), "skills", skillNames(batch))
		return a.mark(ctx, jids, store.OpDone, nil, nil)
	}
	if errors.Is(err, liveperson.ErrConflict) || errors.Is(err, liveperson.ErrOutcomeUnknown) || errors.Is(err, liveperson.ErrNotFound) {
		// An unseen update either happened (a replay conflicts) or did
		// not, and a skill deleted meanwhile (404) is to be created
		// again: re-reading tells which.
		return a.conflict(ctx, jids, err)
	}
	if len(batch) == 1 {
		if batch[0].freesName {
			if a.unfreed == nil {
				a.unfreed = map[int64]bool{}
			}
			a.unfreed[batch[0].SkillID] = true
		}
		return a.failed(ctx, jids, err)
	}
	a.log.Warn("update batch failed; retrying item by item", "items", len(batch), "error", err)
	for i := range batch {
		if err := a.updateItems(ctx, batch[i:i+1], jids[i:i+1]); err != nil {
			return err
		}
	}
	return nil
}

// registerUpdated writes the registry rows of renamed, adopted, drifted or
// re-keyed skills.
func (a *applier) registerUpdated(ctx context.Context, batch []Change) error {
	var rows []store.OwnedSkill
	for _, c := range batch {
		row, ok := a.registry[c.SkillID]
		if ok && row.Name == c.After.Name && row.RuleKey == c.Key && !c.Rekey {
			a.idByName[nameKey(c.After.Name)] = c.SkillID
			continue
		}
		if !ok {
			row = store.OwnedSkill{SkillID: c.SkillID, Adopted: c.Adopt}
			if c.Adopt && len(c.Diff) == 0 {
				a.counts.Adopted++
			}
		}
		if c.Before != nil {
			delete(a.idByName, nameKey(c.Before.Name))
		}
		row.Name, row.RuleKey = c.After.Name, c.Key
		if c.Rule != "" {
			row.RuleID = c.Rule
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := a.store.UpsertOwnedSkills(ctx, rows); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	for _, r := range rows {
		a.registry[r.SkillID] = r
		a.idByName[nameKey(r.Name)] = r.SkillID
		if !slices.ContainsFunc(batch, func(c Change) bool { return c.SkillID == r.SkillID && c.Adopt }) {
			continue
		}
		a.log.Info("skill adopted", "skill", r.Name, "skill_id", r.SkillID)
	}
	return nil
}

// deletePhase deletes owned skills in batches. A skill LivePerson refuses
// to delete (still referenced) is recorded and stays pending.
func (a *applier) deletePhase(ctx context.Context, deletes []Change) error {
	wctx := context.WithoutCancel(ctx)
	deletes = slices.DeleteFunc(slices.Clone(deletes), func(c Change) bool {
		if !a.unfreed[c.SkillID] {
			return false
		}
		// Deleted under its name, the skill would hold that name for
		// good: it stays pending, and the next run frees the name first.
		a.log.Warn("delete held: the rename freeing the skill's name failed; kept pending and tried again next run", "skill", c.Skill, "skill_id", c.SkillID)
		a.counts.FailedDeletes = append(a.counts.FailedDeletes, c.SkillID)
		return true
	})
	for _, batch := range chunks(deletes, a.batch) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.holdsLock(wctx); err != nil {
			return err
		}
		jids, err := a.journal(wctx, "delete", batch, func(c Change) string { return fmt.Sprintf("DELETE skills %d %s", c.SkillID, c.Skill) }, nil)
		if err != nil {
			return err
		}
		if err := a.deleteItems(wctx, batch, jids); err != nil {
			return err
		}
	}
	return nil
}

// deleteItems sends one delete batch, whose rows are journaled sent.
func (a *applier) deleteItems(ctx context.Context, batch []Change, jids []int64) error {
	ids := make([]int64, len(batch))
	for i, c := range batch {
		ids[i] = c.SkillID
	}
	sent := a.rev
	rev, err := a.skills.DeleteSkills(ctx, sent, ids)
	a.advance(rev)
	if unconfirmedLock(err) {
		return a.unsent(ctx, jids, err)
	}
	if err == nil {
		if err := a.proven(ctx, sent); err != nil {
			return err
		}
	}
	if len(batch) == 1 && errors.Is(err, liveperson.ErrNotFound) {
		// A 404 may mean the skill is gone already, or a wrong path:
		// only LivePerson saying so about this skill settles it.
		// GetSkill returns no revision, and nothing else was
		// read: the rest of the plan still holds.
		s, gerr := a.skills.GetSkill(ctx, ids[0])
		switch {
		case errors.Is(gerr, liveperson.ErrNotFound), gerr == nil && s.Deleted:
			a.log.Info("skill already gone", "skill", batch[0].Skill, "skill_id", ids[0])
			err = nil
		case gerr != nil:
			err = fmt.Errorf("%w; checking whether the skill is gone failed: %w", err, gerr)
		default:
			err = fmt.Errorf("%w, but GET /skills/%d shows the skill still exists", err, ids[0])
		}
	}
	if err == nil {
		if e := a.store.DeleteOwnedSkills(ctx, ids); e != nil {
			return fmt.Errorf("registry: %w", e)
		}
		gone := map[int64]SkillState{}
		for _, id := range ids {
			gone[id] = nil
		}
		if e := a.saveStates(ctx, gone); e != nil {
			return e
		}
		for i, c := range batch {
			delete(a.registry, ids[i])
			delete(a.idByName, nameKey(c.Skill))
			a.log.Debug("skill deleted", "skill", c.Skill, "skill_id", c.SkillID, "reason", c.Reason)
		}
		a.log.Info("skills deleted", "items", len(batch), "skills", skillNames(batch))
		a.counts.Deleted += len(batch)
		return a.mark(ctx, jids, store.OpDone, nil, nil)
	}
	if errors.Is(err, liveperson.ErrConflict) || errors.Is(err, liveperson.ErrOutcomeUnknown) {
		return a.conflict(ctx, jids, err)
	}
	if len(batch) == 1 {
		a.counts.FailedDeletes = append(a.counts.FailedDeletes, ids[0])
		if errors.Is(err, liveperson.ErrSkillDependencies) {
			err = fmt.Errorf("%w (still referenced in LivePerson; kept pending and tried again next run)", err)
		}
		return a.failed(ctx, jids, err)
	}
	a.log.Warn("delete batch failed; retrying item by item", "items", len(batch), "error", err)
	for i := range batch {
		if err := a.deleteItems(ctx, batch[i:i+1], jids[i:i+1]); err != nil {
			return err
		}
	}
	return nil
}
