package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/skillsync/skillsync/internal/jsonscan"
)

// ListRunsDefault is the number of runs ListRuns returns for a limit <= 0.
const ListRunsDefault = 20

const runColumns = `id, trigger, mode, started_at, finished_at, outcome,
	creates, updates, deletes, pending_deletes, unchanged, unmanaged_conflicts,
	assigns, unassigns, failed, error, plan, snapshot_id, approved_run, approved_by`

// runSummaryColumns are runColumns without the plan, which can be large:
// lists and status checks do not need it.
const runSummaryColumns = `id, trigger, mode, started_at, finished_at, outcome,
	creates, updates, deletes, pending_deletes, unchanged, unmanaged_conflicts,
	assigns, unassigns, failed, error, NULL::json, snapshot_id, approved_run, approved_by`

func scanRun(row pgx.CollectableRow) (Run, error) {
	var r Run
	var plan []byte
	err := row.Scan(&r.ID, &r.Trigger, &r.Mode, &r.StartedAt, &r.FinishedAt, &r.Outcome,
		&r.Counts.Create, &r.Counts.Update, &r.Counts.Delete, &r.Counts.PendingDelete,
		&r.Counts.Unchanged, &r.Counts.UnmanagedConflict, &r.Counts.Assign, &r.Counts.Unassign,
		&r.Counts.Failed, &r.Error, &plan, &r.SnapshotID, &r.ApprovedRun, &r.ApprovedBy)
	if len(plan) > 0 {
		r.Plan = plan
	}
	return r, err
}

// BeginRun records the start of a run; its outcome is running until
// FinishRun (or MarkInterrupted, should the process die).
func (s *Store) BeginRun(ctx context.Context, trigger Trigger, mode Mode) (Run, error) {
	if err := s.scoped(); err != nil {
		return Run{}, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx,
		`INSERT INTO runs (account_id, trigger, mode) VALUES ($3, $1, $2) RETURNING `+runColumns,
		string(trigger), string(mode), s.account)
	run, err := pgx.CollectExactlyOneRow(rows, scanRun)
	if err != nil {
		return Run{}, fmt.Errorf("begin %s run (trigger %s): %w", mode, trigger, err)
	}
	return run, nil
}

// FinishRun records how run ended: its outcome (which must not be running),
// counts, error, plan, snapshot and approval. FinishedAt defaults to now; a
// nil SnapshotID keeps the one RecordSnapshot linked, a nil ApprovedRun the
// one ClaimPlan recorded.
func (s *Store) FinishRun(ctx context.Context, run Run) error {
	if run.Outcome == "" || run.Outcome == OutcomeRunning {
		return fmt.Errorf("finish run %d: outcome %q is not final", run.ID, run.Outcome)
	}
	if err := s.scoped(); err != nil {
		return err
	}
	var plan any // nil: SQL NULL
	if len(run.Plan) > 0 {
		plan = pgJSON([]byte(run.Plan))
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	c := run.Counts
	tag, err := s.pool.Exec(ctx, `
		UPDATE runs SET
			finished_at = COALESCE($2, now()), outcome = $3,
			creates = $4, updates = $5, deletes = $6, pending_deletes = $7, unchanged = $8,
			unmanaged_conflicts = $9, assigns = $10, unassigns = $11, failed = $12,
			error = $13, plan = $14::json, snapshot_id = COALESCE($15, snapshot_id),
			approved_run = COALESCE($17, approved_run), approved_by = COALESCE(NULLIF($18, ''), approved_by)
		WHERE id = $1 AND account_id = $16`,
		run.ID, run.FinishedAt, string(run.Outcome),
		c.Create, c.Update, c.Delete, c.PendingDelete, c.Unchanged,
		c.UnmanagedConflict, c.Assign, c.Unassign, c.Failed,
		pgText(run.Error), plan, run.SnapshotID, s.account, run.ApprovedRun, run.ApprovedBy)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.ConstraintName == "runs_outcome_mode_check" {
		return fmt.Errorf("finish run %d: outcome %s does not fit the run's mode (planned is for plan runs, applied and partial for apply runs)",
			run.ID, run.Outcome)
	}
	if err != nil {
		return fmt.Errorf("finish run %d: %w", run.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish run %d: %w", run.ID, ErrNotFound)
	}
	return nil
}

// interruptedError is the error recorded on runs found running at start-up.
const interruptedError = "the process running it stopped before the run finished"

// MarkInterrupted marks every run of the account still running as
// interrupted and returns how many it marked. A run can only be left
// running by a process that died, provided no live process is running one
// of the account: call it while holding the account's run lock (or at
// start-up, before any run of this process begins). Other accounts' runs
// are left alone: other replicas may be running them.
func (s *Store) MarkInterrupted(ctx context.Context) (int, error) {
	if err := s.scoped(); err != nil {
		return 0, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `
		UPDATE runs SET outcome = 'interrupted', finished_at = now(),
			error = CASE WHEN error = '' THEN $1 ELSE error END
		WHERE outcome = 'running' AND account_id = $2`, interruptedError, s.account)
	if err != nil {
		return 0, fmt.Errorf("mark interrupted runs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ListRuns returns the latest runs, newest first (limit <= 0: 20), without
// their plans (GetRun has them).
func (s *Store) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = ListRunsDefault
	}
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT `+runSummaryColumns+` FROM runs WHERE account_id = $2 ORDER BY id DESC LIMIT $1`,
		limit, s.account)
	runs, err := pgx.CollectRows(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// GetRun returns one run of the account and its journal in sequence order,
// or ErrNotFound (a run of another account is not found).
func (s *Store) GetRun(ctx context.Context, id int64) (Run, []Operation, error) {
	if err := s.scoped(); err != nil {
		return Run{}, nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1 AND account_id = $2`, id, s.account)
	run, err := pgx.CollectExactlyOneRow(rows, scanRun)
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, nil, fmt.Errorf("read run %d: %w", id, err)
	}
	rows, _ = s.pool.Query(ctx, `SELECT `+opColumns+` FROM run_operations WHERE run_id = $1 ORDER BY seq`, id)
	ops, err := pgx.CollectRows(rows, scanOperation)
	if err != nil {
		return Run{}, nil, fmt.Errorf("read journal of run %d: %w", id, err)
	}
	return run, ops, nil
}

// LastRun returns the latest run of any mode and outcome, without its plan,
// or nil if there has been none.
func (s *Store) LastRun(ctx context.Context) (*Run, error) {
	return s.lastRun(ctx, "last run", lastRunSQL)
}

// LastSuccess returns the latest apply run that ended applied or with no
// changes, without its plan, or nil if there has been none. Dry runs
// (planned or no_changes) do not count: they change nothing, so they say
// nothing about whether LivePerson is in line.
func (s *Store) LastSuccess(ctx context.Context) (*Run, error) {
	return s.lastRun(ctx, "last successful run", lastSuccessSQL)
}

// LastRunAndSuccess returns LastRun and LastSuccess in one round trip, for
// a caller that reads both after every run.
func (s *Store) LastRunAndSuccess(ctx context.Context) (last, success *Run, err error) {
	if err := s.scoped(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var b pgx.Batch
	b.Queue(lastRunSQL, s.account)
	b.Queue(lastSuccessSQL, s.account)
	res := s.pool.SendBatch(ctx, &b)
	defer res.Close()
	if last, err = oneRun(res.Query()); err != nil {
		return nil, nil, fmt.Errorf("read last run: %w", err)
	}
	if success, err = oneRun(res.Query()); err != nil {
		return nil, nil, fmt.Errorf("read last successful run: %w", err)
	}
	return last, success, nil
}

const (
	lastRunSQL     = `SELECT ` + runSummaryColumns + ` FROM runs WHERE account_id = $1 ORDER BY id DESC LIMIT 1`
	lastSuccessSQL = `SELECT ` + runSummaryColumns + ` FROM runs
		WHERE outcome IN ('applied', 'no_changes') AND mode = 'apply' AND account_id = $1
		ORDER BY id DESC LIMIT 1`
)

// oneRun is the run rows hold, or nil when they hold none.
func oneRun(rows pgx.Rows, err error) (*Run, error) {
	if err != nil {
		rows.Close()
		return nil, err
	}
	run, err := pgx.CollectExactlyOneRow(rows, scanRun)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &run, nil
}

func (s *Store) lastRun(ctx context.Context, what, query string) (*Run, error) {
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	run, err := oneRun(s.pool.Query(ctx, query, s.account))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return run, nil
}

// pgText makes a text PostgreSQL can store: its text type takes no NUL
// byte, and an error quoting a server's binary answer may hold one (the
// row would be refused, and the run or operation left unrecorded). A NUL
// becomes U+FFFD.
func pgText(s string) string {
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// pgJSON is a plan the database keeps as written, with the escape
// \u0000 (a NUL quoted in a plan's problem or warning) replaced by the
// character U+FFFD, as pgText does for text: a reader of the plan must
// never meet a NUL (PostgreSQL's text and jsonb refuse one). Only an
// escape is replaced: in `\\u0000` (an escaped backslash, then the text
// "u0000", as a quoted API answer may hold) the backslash is kept, since
// replacing the text after it would leave `\` before U+FFFD, which is no
// JSON and the run would go unrecorded. A plan without a NUL escape is b
// itself, no copy: at a million records a plan is tens of MB. It is
// handed to pgx as json.RawMessage, which pgx sends as json text in every
// query execution mode database.url may choose (plain []byte is bytea in
// the exec and simple_protocol modes).
func pgJSON(b []byte) json.RawMessage {
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return b
	}
	return jsonscan.ReplaceEscapes(b, func(hex []byte) (string, bool) {
		return "\uFFFD", string(hex) == "0000"
	})
}
