package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// StoredPlan is what a dry run or a refused run planned from: with it,
// `skillsync apply RUN_ID` applies exactly that plan (the run's Plan), or
// refuses it as stale when the world moved.
type StoredPlan struct {
	RunID int64
	// SkillsRevision and UsersRevision are the LivePerson account
	// revisions the plan read (UsersRevision "" when it read no users).
	SkillsRevision string
	UsersRevision  string
	// HRFingerprint is the SHA-256 (hex) of the HR records, independent
	// of their order in the feed.
	HRFingerprint string
	// Refusal is why a guard refused the run, RefusedBy which guard
	// (source_health, assignments); both "" for a dry run.
	Refusal   string
	RefusedBy string
	// DeleteBudget and DeleteAfterRuns are the delete budget and grace the
	// plan was made with: an approval applies what the person saw.
	DeleteBudget    int
	DeleteAfterRuns int
	CreatedAt       time.Time
	// AppliedByRun is the approval run that applied it, nil until then.
	AppliedByRun *int64
	AppliedAt    *time.Time
	// Plan is the plan itself, as the run stored it (GetPlan only).
	Plan json.RawMessage
}

// ErrPlanApplied is returned by ClaimPlan when another approval run
// claimed the plan first.
var ErrPlanApplied = errors.New("the plan was applied already")

const planColumns = `p.run_id, p.skills_revision, p.users_revision, p.hr_fingerprint, p.refusal, p.refused_by,
	p.delete_budget, p.delete_after_runs, p.created_at, p.applied_by_run, p.applied_at, r.plan`

func scanPlan(row pgx.CollectableRow) (StoredPlan, error) {
	var p StoredPlan
	err := row.Scan(&p.RunID, &p.SkillsRevision, &p.UsersRevision, &p.HRFingerprint, &p.Refusal, &p.RefusedBy,
		&p.DeleteBudget, &p.DeleteAfterRuns, &p.CreatedAt, &p.AppliedByRun, &p.AppliedAt, &p.Plan)
	return p, err
}

// SavePlan stores what run p.RunID (of the account) planned from;
// CreatedAt zero is now. The run keeps the plan itself (FinishRun).
func (s *Store) SavePlan(ctx context.Context, p StoredPlan) error {
	if err := s.scoped(); err != nil {
		return err
	}
	var at *time.Time
	if !p.CreatedAt.IsZero() {
		at = &p.CreatedAt
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO plans (run_id, skills_revision, users_revision, hr_fingerprint, refusal, refused_by,
			delete_budget, delete_after_runs, created_at)
		SELECT id, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, now()) FROM runs WHERE id = $1 AND account_id = $10`,
		p.RunID, p.SkillsRevision, p.UsersRevision, p.HRFingerprint, p.Refusal, p.RefusedBy,
		p.DeleteBudget, p.DeleteAfterRuns, at, s.account)
	if err != nil {
		return fmt.Errorf("store the plan of run %d: %w", p.RunID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store the plan of run %d: %w", p.RunID, ErrNotFound)
	}
	return nil
}

// GetPlan returns what run id planned from, or ErrNotFound (the run does
// not exist, is another account's, or stored no plan: only dry runs and
// refused runs do).
func (s *Store) GetPlan(ctx context.Context, runID int64) (StoredPlan, error) {
	if err := s.scoped(); err != nil {
		return StoredPlan{}, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT `+planColumns+` FROM plans p JOIN runs r ON r.id = p.run_id
		WHERE p.run_id = $1 AND r.account_id = $2`, runID, s.account)
	p, err := pgx.CollectExactlyOneRow(rows, scanPlan)
	if errors.Is(err, pgx.ErrNoRows) {
		return StoredPlan{}, fmt.Errorf("stored plan of run %d: %w", runID, ErrNotFound)
	}
	if err != nil {
		return StoredPlan{}, fmt.Errorf("read the stored plan of run %d: %w", runID, err)
	}
	return p, nil
}

// ClaimPlan marks plan planRun applied by approval run applyRun, and
// records on applyRun which run it applies and who approved it, in one
// transaction. Only one claim of a plan ever succeeds, whatever the
// replicas: the UPDATE is conditional on no earlier claim, and a second
// one gets ErrPlanApplied (wrapped with the run that applied it). The
// approval run claims before its first write.
func (s *Store) ClaimPlan(ctx context.Context, planRun, applyRun int64, approvedBy string) error {
	if err := s.scoped(); err != nil {
		return err
	}
	return s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var by *int64
		err := tx.QueryRow(ctx, `
			WITH mine AS (
				SELECT p.run_id FROM plans p JOIN runs r ON r.id = p.run_id WHERE p.run_id = $1 AND r.account_id = $3
			), claim AS (
				UPDATE plans SET applied_by_run = $2, applied_at = now()
				WHERE run_id IN (SELECT run_id FROM mine) AND applied_by_run IS NULL
				RETURNING applied_by_run
			)
			SELECT applied_by_run FROM claim
			UNION ALL
			SELECT applied_by_run FROM plans WHERE run_id IN (SELECT run_id FROM mine) AND NOT EXISTS (SELECT 1 FROM claim)`,
			planRun, applyRun, s.account).Scan(&by)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("claim the plan of run %d: %w", planRun, ErrNotFound)
		case err != nil:
			return fmt.Errorf("claim the plan of run %d: %w", planRun, err)
		case by == nil || *by != applyRun:
			return fmt.Errorf("%w by run %d", ErrPlanApplied, deref(by))
		}
		if _, err := tx.Exec(ctx, `UPDATE runs SET approved_run = $2, approved_by = $3 WHERE id = $1 AND account_id = $4`,
			applyRun, planRun, approvedBy, s.account); err != nil {
			return fmt.Errorf("record the approval on run %d: %w", applyRun, err)
		}
		return nil
	})
}

// DiscardRun removes run id, provided it is still running and journaled
// nothing: an approval run refused as stale before its first write did
// not happen, and leaves no row (its snapshot goes with it).
func (s *Store) DiscardRun(ctx context.Context, runID int64) error {
	if err := s.scoped(); err != nil {
		return err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM runs WHERE id = $1 AND account_id = $2 AND outcome = 'running'
			AND NOT EXISTS (SELECT 1 FROM run_operations WHERE run_id = $1)`, runID, s.account)
	if err != nil {
		return fmt.Errorf("discard run %d: %w", runID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("discard run %d: not a running run without operations", runID)
	}
	return nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
