package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store"
)

func finishedRun(t *testing.T, st *store.Store, mode store.Mode, outcome store.Outcome) store.Run {
	t.Helper()
	r, err := st.BeginRun(t.Context(), store.TriggerSchedule, mode)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.Outcome, r.FinishedAt = outcome, &now
	if err := st.FinishRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func queue(t *testing.T, st *store.Store, runID int64, n int) {
	t.Helper()
	ds := make([]store.NewDelivery, n)
	for i := range ds {
		ds[i] = store.NewDelivery{RunID: runID, AccountID: "1", Sink: "hook", Event: "applied", Payload: json.RawMessage(`{}`)}
	}
	if _, err := st.EnqueueDeliveries(t.Context(), "1", false, ds); err != nil {
		t.Fatal(err)
	}
}

// TestClaimDeliveries: a claimed delivery is nobody else's until its lease
// lapses; a sender whose lease lapsed cannot record its attempt; one left
// mid-attempt after the last attempt is given up.
func TestClaimDeliveries(t *testing.T) {
	t.Parallel()
	st, url := setup(t)
	other := open(t, url, store.Options{})
	run := finishedRun(t, st, store.ModeApply, store.OutcomeApplied)
	queue(t, st, run.ID, 3)

	a, err := st.ClaimDeliveries(t.Context(), 2, time.Hour, 3, nil, 0)
	if err != nil || len(a) != 2 || a[0].Attempts != 1 || a[0].Status != store.DeliverySending {
		t.Fatalf("first claim: %+v %v", a, err)
	}
	b, err := other.ClaimDeliveries(t.Context(), 10, 10*time.Millisecond, 3, nil, 0)
	if err != nil || len(b) != 1 || b[0].ID == a[0].ID || b[0].ID == a[1].ID {
		t.Fatalf("second claim took %+v (%v), want only the third", b, err)
	}
	if n, _, err := st.OpenDeliveries(t.Context(), run.ID); err != nil || n != 3 {
		t.Errorf("open deliveries %d %v", n, err)
	}
	// b's lease lapses: the delivery is claimed again, and b's sender can
	// no longer record its attempt.
	var again []store.Delivery
	for len(again) == 0 {
		if again, err = st.ClaimDeliveries(t.Context(), 10, time.Hour, 3, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	if again[0].ID != b[0].ID || again[0].Attempts != 2 {
		t.Fatalf("reclaimed %+v", again)
	}
	if _, err := other.FinishAttempt(t.Context(), store.Attempt{DeliveryID: b[0].ID, Attempt: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a lapsed claim recorded its attempt: %v", err)
	}
	status, err := st.FinishAttempt(t.Context(), store.Attempt{DeliveryID: again[0].ID, Attempt: 2})
	if err != nil || status != store.DeliverySent {
		t.Fatalf("finish: %s %v", status, err)
	}
	retry := time.Hour
	if status, err := st.FinishAttempt(t.Context(), store.Attempt{DeliveryID: a[0].ID, Attempt: 1, Error: "HTTP 500", RetryIn: &retry}); err != nil || status != store.DeliveryQueued {
		t.Fatalf("retry: %s %v", status, err)
	}
	if status, err := st.FinishAttempt(t.Context(), store.Attempt{DeliveryID: a[1].ID, Attempt: 1, Error: "HTTP 404"}); err != nil || status != store.DeliveryFailed {
		t.Fatalf("give up: %s %v", status, err)
	}
	ds, err := st.RunDeliveries(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]store.Delivery{}
	for _, d := range ds {
		got[d.ID] = d
	}
	if d := got[a[0].ID]; d.Status != store.DeliveryQueued || d.LastError != "HTTP 500" {
		t.Errorf("retried: %+v", d)
	}
	if d := got[a[1].ID]; d.Status != store.DeliveryFailed {
		t.Errorf("given up: %+v", d)
	}
	if d := got[b[0].ID]; d.Status != store.DeliverySent || d.SentAt == nil {
		t.Errorf("sent: %+v", d)
	}
	if n, next, err := st.OpenDeliveries(t.Context(), run.ID); err != nil || n != 1 || time.Until(next) < 50*time.Minute {
		t.Errorf("open deliveries %d next %s %v: want the retry, an hour away", n, next, err)
	}
	if as, err := st.DeliveryAttempts(t.Context(), a[0].ID); err != nil || len(as) != 1 || as[0].Error != "HTTP 500" {
		t.Errorf("attempts %+v %v", as, err)
	}
}

// TestClaimGivesUpAbandonedLastAttempt: a delivery whose last attempt's
// sender died is failed, not tried a fourth time.
func TestClaimGivesUpAbandonedLastAttempt(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	run := finishedRun(t, st, store.ModeApply, store.OutcomeFailed)
	queue(t, st, run.ID, 1)
	if ds, err := st.ClaimDeliveries(t.Context(), 1, time.Millisecond, 1, nil, 0); err != nil || len(ds) != 1 {
		t.Fatalf("claim %v %v", ds, err)
	}
	for {
		ds, err := st.ClaimDeliveries(t.Context(), 1, time.Hour, 1, nil, 0)
		if err != nil || len(ds) != 0 {
			t.Fatalf("claimed again: %+v %v", ds, err)
		}
		gone, err := st.GiveUpAbandoned(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(gone) == 1 {
			break
		}
	}
	ds, err := st.RunDeliveries(t.Context(), run.ID)
	if err != nil || ds[0].Status != store.DeliveryFailed || ds[0].LastError == "" {
		t.Errorf("%+v %v", ds, err)
	}
	if as, err := st.DeliveryAttempts(t.Context(), ds[0].ID); err != nil || len(as) != 1 || as[0].Attempt != 1 || as[0].Error != ds[0].LastError {
		t.Errorf("the abandoned attempt is recorded: %+v %v", as, err)
	}
	if gone, err := st.GiveUpAbandoned(t.Context(), 1); err != nil || len(gone) != 0 {
		t.Errorf("given up twice: %+v %v", gone, err)
	}
}

func TestPreviousApplyOutcome(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	first := finishedRun(t, st, store.ModeApply, store.OutcomeRefused)
	if o, err := st.PreviousApplyOutcome(t.Context(), first.ID); err != nil || o != "" {
		t.Errorf("before the first run: %q %v", o, err)
	}
	finishedRun(t, st, store.ModePlan, store.OutcomeNoChanges)
	finishedRun(t, st, store.ModeApply, store.OutcomeInterrupted)
	// Another account's runs on the same database say nothing of this one.
	finishedRun(t, st.Account("other-account"), store.ModeApply, store.OutcomeApplied)
	last := finishedRun(t, st, store.ModeApply, store.OutcomeApplied)
	if o, err := st.PreviousApplyOutcome(t.Context(), last.ID); err != nil || o != store.OutcomeRefused {
		t.Errorf("got %q %v, want refused (plan and interrupted runs, and another account's, passed over)", o, err)
	}
}

// TestFinishAttemptTakesANUL: an error holding a NUL byte (PostgreSQL's
// text refuses it) is recorded without it, not refused.
func TestFinishAttemptTakesANUL(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	run := finishedRun(t, st, store.ModeApply, store.OutcomeFailed)
	queue(t, st, run.ID, 1)
	ds, err := st.ClaimDeliveries(t.Context(), 1, time.Minute, 3, nil, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim %v %v", ds, err)
	}
	if _, err := st.FinishAttempt(t.Context(), store.Attempt{DeliveryID: ds[0].ID, Attempt: 1, Error: "HTTP 400: a\x00b"}); err != nil {
		t.Fatal(err)
	}
	if as, err := st.DeliveryAttempts(t.Context(), ds[0].ID); err != nil || len(as) != 1 || as[0].Error != "HTTP 400: ab" {
		t.Errorf("attempts %+v %v", as, err)
	}
}

// TestClaimOnlyKnownSinks: a sender takes the deliveries of the sinks it
// names, and those of others once they are orphanAfter old.
func TestClaimOnlyKnownSinks(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	run := finishedRun(t, st, store.ModeApply, store.OutcomeApplied)
	queue(t, st, run.ID, 1) // to sink "hook"
	if ds, err := st.ClaimDeliveries(t.Context(), 5, time.Minute, 3, []string{"other"}, time.Hour); err != nil || len(ds) != 0 {
		t.Fatalf("claimed another sink's delivery: %+v %v", ds, err)
	}
	if ds, err := st.ClaimDeliveries(t.Context(), 5, time.Minute, 3, []string{}, time.Hour); err != nil || len(ds) != 0 {
		t.Fatalf("a sender of no sink claimed: %+v %v", ds, err)
	}
	if ds, err := st.ClaimDeliveries(t.Context(), 5, time.Minute, 3, []string{"other"}, time.Nanosecond); err != nil || len(ds) != 1 {
		t.Fatalf("an orphan is not taken at last: %+v %v", ds, err)
	}
	queue(t, st, run.ID, 1)
	if ds, err := st.ClaimDeliveries(t.Context(), 5, time.Minute, 3, []string{"other", "hook"}, time.Hour); err != nil || len(ds) != 1 {
		t.Fatalf("its own sink's delivery: %+v %v", ds, err)
	}
}
