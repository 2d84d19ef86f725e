package sync

// The run lifecycle. The Runner owns everything about a run's life, and
// nothing outside this package guards, records or abandons a run:
//
//   - one guard in the process: the run slot (capacity 1), taken by
//     TryClaim (or RunOnce) and freed when the run returns; across
//     processes, the PostgreSQL run lock, taken by the run once it holds
//     the slot (lockguard.go confirms it before every write);
//   - runs a dead process left running are marked interrupted under the
//     lock, before every run and at start-up (CloseInterrupted);
//   - the outcome is recorded by the run (runContext.finish); a run that
//     panics is recorded failed; a run still going when Shutdown stops
//     waiting is recorded interrupted (abandoned);
//   - every run it records is reported once, after it is stored, to
//     Deps.OnRunEnd (metrics, notifications, the console).
//
// The caller (cmd/skillsync) only decides when runs start and when the
// process stops.

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/skillsync/skillsync/store"
)

// Claim is this process's run slot, held from TryClaim until its Run
// returns. It lets a caller (the HTTP trigger) answer "started" or "in
// progress" before the run's goroutine begins.
type Claim struct {
	r    *Runner
	used bool
}

// TryClaim takes this process's run slot without waiting; false when a run
// of this process holds it, or Shutdown was called. Whoever gets a claim
// must call its Run.
func (r *Runner) TryClaim() (*Claim, bool) {
	if r.stopped.Load() {
		return nil, false
	}
	select {
	case r.slot <- struct{}{}:
		if r.stopped.Load() { // Shutdown came in between
			<-r.slot
			return nil, false
		}
		return &Claim{r: r}, true
	default:
		return nil, false
	}
}

// Busy says whether a run of this process is under way (or Shutdown holds
// the slot).
func (r *Runner) Busy() bool { return len(r.slot) > 0 }

// RunOnce claims the run slot and runs (Claim.Run); ErrRunInProgress when
// a run of this process holds it.
func (r *Runner) RunOnce(ctx context.Context, mode store.Mode, trigger store.Trigger) (*Result, error) {
	c, ok := r.TryClaim()
	if !ok {
		return nil, ErrRunInProgress
	}
	return c.Run(ctx, mode, trigger)
}

// Run performs the claimed run and frees the slot. See Runner.run for what
// a run is. A run that panics (a bug) does not take the process down, nor
// stay recorded as running: it is recorded failed, and the panic is
// returned as an error with that run.
func (c *Claim) Run(ctx context.Context, mode store.Mode, trigger store.Trigger) (res *Result, err error) {
	return c.run(ctx, mode, trigger, nil)
}

// run is Run, or with appr an approval run (approve.go).
func (c *Claim) run(ctx context.Context, mode store.Mode, trigger store.Trigger, appr *Approval) (res *Result, err error) {
	r := c.r
	if c.used {
		return nil, errors.New("sync: a run claim used twice")
	}
	c.used = true
	defer func() { <-r.slot }()
	defer func() {
		if p := recover(); p != nil {
			res, err = r.recordPanic(ctx, p)
		}
	}()
	res, err = r.run(ctx, mode, trigger, appr)
	var refused *preflightRefusal
	if errors.As(err, &refused) {
		// Preflight's caller says why; the run never began.
		return nil, refused.err
	}
	if err != nil && res == nil && !errors.Is(err, ErrRunInProgress) && !refusedApproval(err) {
		// The run logs the runs it records; this one never got that far
		// (the database is down, say), and must not fail silently.
		r.deps.Logger.ErrorContext(ctx, "run failed before it could be recorded", "mode", mode, "trigger", trigger, "err", err)
	}
	return res, err
}

// preflightRefusal is Deps.Preflight's refusal of a run, on its way out
// of Runner.run.
type preflightRefusal struct{ err error }

func (p *preflightRefusal) Error() string { return p.err.Error() }
func (p *preflightRefusal) Unwrap() error { return p.err }

// CloseInterrupted marks runs left `running` as interrupted: their process
// died, or lost the database before it could record the outcome. It does so
// only while holding the run lock, so that a live run of another process is
// never touched; when the lock is taken (or the database is down), it leaves
// the matter to the next run. Every run does the same under its own lock;
// a daemon calls this at start-up so that its status is right before its
// first run.
func (r *Runner) CloseInterrupted(ctx context.Context) {
	lock, err := r.deps.Store.AcquireRunLock(ctx)
	if err != nil {
		return
	}
	defer func() {
		if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
			r.deps.Logger.WarnContext(ctx, "release run lock", "err", err)
		}
	}()
	if err := r.markInterrupted(ctx); err != nil {
		r.deps.Logger.WarnContext(ctx, "could not mark interrupted runs", "err", err)
	}
}

// markInterrupted closes runs left running; the caller holds the run lock.
// Those runs are not reported to OnRunEnd: they were not this process's.
func (r *Runner) markInterrupted(ctx context.Context) error {
	n, err := r.deps.Store.MarkInterrupted(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		r.deps.Logger.WarnContext(ctx, "runs left unfinished by an earlier process are now marked interrupted", "runs", n)
	}
	return nil
}

// Shutdown stops this process's runs: no run starts once it is called, and
// the run under way, if any, is waited for up to wait (asking it to stop,
// by cancelling its context, is the caller's part). A run still going then
// is abandoned: the runner records it interrupted with reason, by ctx's
// deadline, reports it to OnRunEnd, and returns without it. The run writes
// LivePerson with a context shutdown does not cancel (a batch is not cut in
// half), and a batch being retried can outlast any timeout; its journal
// keeps the batch in flight as sent, and the next run settles it.
//
// abandoned says that a run was left going: it still holds a database
// connection (its run lock), and the process should exit without waiting
// for it. run is the run as recorded (nil when it had not begun, or
// recording failed: err says why).
func (r *Runner) Shutdown(ctx context.Context, wait time.Duration, reason string) (abandoned bool, run *store.Run, err error) {
	r.stopped.Store(true)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case r.slot <- struct{}{}:
		// Held for good: nothing runs in this process any more.
		return false, nil, nil
	case <-timer.C:
	}
	run, err = r.closeCurrent(ctx, store.OutcomeInterrupted, reason)
	return true, run, err
}

// begin makes run this process's current run.
func (r *Runner) begin(run store.Run) {
	r.mu.Lock()
	r.current = &run
	r.mu.Unlock()
}

// settle ends run id as the current run before the run records itself. When
// the runner has recorded it already (abandoned, or panicked), settle waits
// for that record to be written, so that the run's own, if it still comes,
// is the one that stays; reported then says its end was reported.
func (r *Runner) settle(id int64) (reported bool) {
	r.mu.Lock()
	if r.current != nil && r.current.ID == id {
		r.current = nil
	}
	wait := r.closing
	reported = r.closed == id
	r.mu.Unlock()
	if wait != nil {
		<-wait
	}
	return reported
}

// closeCurrent records the current run, if any, with outcome and reason, in
// place of the run that cannot (it did not stop in time, or it panicked),
// and reports it. It returns the run as recorded (nil when no run was under
// way).
func (r *Runner) closeCurrent(ctx context.Context, outcome store.Outcome, reason string) (*store.Run, error) {
	r.mu.Lock()
	cur := r.current
	r.current = nil
	if cur == nil {
		r.mu.Unlock()
		return nil, nil
	}
	done := make(chan struct{})
	r.closing, r.closed = done, cur.ID
	r.mu.Unlock()
	defer close(done)
	run := *cur
	now := r.deps.Now()
	run.Outcome, run.FinishedAt, run.Error = outcome, &now, r.deps.Redact(reason)
	if err := r.deps.Store.FinishRun(ctx, run); err != nil {
		return nil, err
	}
	r.ended(ctx, &Result{Run: run})
	return &run, nil
}

// recordPanic records the run that panicked as failed, and returns it
// with the error.
func (r *Runner) recordPanic(ctx context.Context, p any) (*Result, error) {
	err := fmt.Errorf("the run stopped on an internal error (a bug; please report it with the log): panic: %v", p)
	r.deps.Logger.ErrorContext(ctx, "run panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	run, rerr := r.closeCurrent(rctx, store.OutcomeFailed, err.Error())
	if rerr != nil {
		r.deps.Logger.ErrorContext(ctx, "the run that panicked could not be recorded; the next run marks it interrupted", "err", rerr)
		return nil, err
	}
	if run == nil {
		return nil, err // it panicked before it was recorded
	}
	return &Result{Run: *run}, err
}

// ended reports a recorded run to Deps.OnRunEnd, with a context shutdown
// does not cancel.
func (r *Runner) ended(ctx context.Context, res *Result) {
	if r.deps.OnRunEnd != nil {
		r.deps.OnRunEnd(context.WithoutCancel(ctx), res)
	}
}
