package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/skillsync/skillsync/store"
)

// assignLockHook is the real store, calling lose once the first batch of
// user writes is journaled done.
type assignLockHook struct {
	*store.Store
	mu     gosync.Mutex
	assign map[int64]bool
	once   gosync.Once
	lose   func()
}

func (h *assignLockHook) JournalAdd(ctx context.Context, runID int64, ops []store.Operation) ([]int64, error) {
	ids, err := h.Store.JournalAdd(ctx, runID, ops)
	if err == nil && len(ops) > 0 && ops[0].Action == "assign" {
		h.mu.Lock()
		for _, id := range ids {
			h.assign[id] = true
		}
		h.mu.Unlock()
	}
	return ids, err
}

func (h *assignLockHook) JournalSet(ctx context.Context, updates []store.OpUpdate) error {
	err := h.Store.JournalSet(ctx, updates)
	h.mu.Lock()
	done := len(updates) > 0 && updates[0].State == store.OpDone && h.assign[updates[0].ID]
	h.mu.Unlock()
	if done {
		h.once.Do(h.lose)
	}
	return err
}

// TestRunLostLockDuringAssignmentsWritesNothingMore: the run lock's
// session ends after the first batch of user writes. The run confirms the
// lock before journaling each batch, as it does for skills: the next batch
// is neither journaled nor tried user by user, and the run ends
// interrupted, "lost the run lock".
func TestRunLostLockDuringAssignmentsWritesNothingMore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(6), teamConfig(), withBatch(2))
	var emails []string
	for i := 1; i <= 6; i++ {
		emails = append(emails, fmt.Sprintf("p%d@example.com", i))
	}
	seedUsers(e, emails...)
	cfg := teamConfig()
	cfg.Assignments = AssignmentsConfig{Enabled: true, Match: "email", MaxChangesPercent: -1}
	hook := &assignLockHook{Store: e.store, assign: map[int64]bool{}, lose: func() { terminateRunLock(t, e) }}
	res, err := e.runnerWith(cfg, hook).RunOnce(ctx, store.ModeApply, store.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Outcome != store.OutcomeInterrupted || !strings.Contains(res.Run.Error, "lost the run lock") {
		t.Errorf("run %s (%s); want interrupted, lost the run lock", res.Run.Outcome, res.Run.Error)
	}
	_, ops, err := e.store.GetRun(ctx, res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var assigns []string
	for _, op := range ops {
		if op.Action == "assign" {
			assigns = append(assigns, string(op.State))
		}
	}
	if want := []string{"done", "done"}; !slices.Equal(assigns, want) {
		t.Errorf("the run's assign rows %q, want only its first batch, done (nothing journaled after the lock was lost)", assigns)
	}
}
