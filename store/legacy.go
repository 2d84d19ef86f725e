package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// LegacyState counts the rows written before state was kept per account
// (migration 00008): they belong to no account until ClaimLegacyState
// gives them to one.
type LegacyState struct {
	Runs           int
	OwnedSkills    int
	Snapshots      int
	PendingDeletes int
}

// Empty reports whether there is no legacy state left.
func (l LegacyState) Empty() bool { return l == LegacyState{} }

// String summarises the counts for messages.
func (l LegacyState) String() string {
	return fmt.Sprintf("%d runs, %d owned skills, %d source snapshots, %d pending deletes",
		l.Runs, l.OwnedSkills, l.Snapshots, l.PendingDeletes)
}

// legacyTables are the tables whose rows carry their account; the journal
// (and the stored plan) follow their run.
var legacyTables = []string{"runs", "owned_skills", "source_snapshots", "pending_deletes"}

func (l *LegacyState) field(table string) *int {
	switch table {
	case "runs":
		return &l.Runs
	case "owned_skills":
		return &l.OwnedSkills
	case "source_snapshots":
		return &l.Snapshots
	default:
		return &l.PendingDeletes
	}
}

// LegacyState counts the rows that belong to no account yet: state a
// release from before accounts wrote. It needs no account.
func (s *Store) LegacyState(ctx context.Context) (LegacyState, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var l LegacyState
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM runs WHERE account_id = ''),
		(SELECT count(*) FROM owned_skills WHERE account_id = ''),
		(SELECT count(*) FROM source_snapshots WHERE account_id = ''),
		(SELECT count(*) FROM pending_deletes WHERE account_id = '')`,
	).Scan(&l.Runs, &l.OwnedSkills, &l.Snapshots, &l.PendingDeletes)
	if err != nil {
		return LegacyState{}, fmt.Errorf("look for state older than accounts: %w", err)
	}
	return l, nil
}

// ClaimLegacyState gives every row that belongs to no account (LegacyState)
// to LivePerson account id, in one transaction, and returns what it moved.
// Replicas starting at once claim it once: the transaction waits for the
// migration lock. It refuses, moving nothing, when the account already has
// a registry entry or pending delete for one of the skills.
func (s *Store) ClaimLegacyState(ctx context.Context, account string) (LegacyState, error) {
	if account == "" {
		return LegacyState{}, ErrNoAccount
	}
	var moved LegacyState
	err := s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockID); err != nil {
			return err
		}
		for _, table := range legacyTables {
			tag, err := tx.Exec(ctx, `UPDATE `+table+` SET account_id = $1 WHERE account_id = ''`, account)
			if err != nil {
				return err
			}
			*moved.field(table) = int(tag.RowsAffected())
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return LegacyState{}, fmt.Errorf("give the state older than accounts to account %s: the account already has state for the same skill (%s); "+
			"give it to the account it came from (skillsync migrate --legacy-account NAME)", account, pgErr.Detail)
	}
	if err != nil {
		return LegacyState{}, fmt.Errorf("give the state older than accounts to account %s: %w", account, err)
	}
	return moved, nil
}

// LastStarted returns when the account's latest run started by trigger
// began, nil when there has been none. The daemon uses it, holding the
// account's lock, to skip an account that another replica has already run
// for the same tick.
func (s *Store) LastStarted(ctx context.Context, trigger Trigger) (*time.Time, error) {
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(started_at) FROM runs WHERE account_id = $1 AND trigger = $2`,
		s.account, string(trigger)).Scan(&at)
	if err != nil {
		return nil, fmt.Errorf("read the start of the last %s run: %w", trigger, err)
	}
	return at, nil
}

// RunAccount returns the LivePerson account id of run id ("" for a run
// from before accounts not yet given to one), or ErrNotFound. It needs no
// account: `runs show ID` finds whose run it is.
func (s *Store) RunAccount(ctx context.Context, id int64) (string, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var account string
	err := s.pool.QueryRow(ctx, `SELECT account_id FROM runs WHERE id = $1`, id).Scan(&account)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read the account of run %d: %w", id, err)
	}
	return account, nil
}
