package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PendingDeletes returns the owned skills waiting out the delete grace,
// sorted by skill id.
func (s *Store) PendingDeletes(ctx context.Context) ([]PendingDelete, error) {
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `
		SELECT skill_id, skill_name, first_missing_run, consecutive_missing_runs, updated_at
		FROM pending_deletes WHERE account_id = $1 ORDER BY skill_id`, s.account)
	pending, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PendingDelete, error) {
		var p PendingDelete
		err := row.Scan(&p.SkillID, &p.SkillName, &p.FirstMissingRun, &p.ConsecutiveMissingRuns, &p.UpdatedAt)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read pending deletes: %w", err)
	}
	return pending, nil
}

// SetPendingDeletes replaces the whole set of pending deletes with pending,
// in one transaction: a skill left out is no longer pending. UpdatedAt is set
// by the store; when pending names a skill twice, the last wins.
func (s *Store) SetPendingDeletes(ctx context.Context, pending []PendingDelete) error {
	if err := s.scoped(); err != nil {
		return err
	}
	index := make(map[int64]int, len(pending))
	var (
		ids    []int64
		names  []string
		firsts []int64
		counts []int32
	)
	for _, p := range pending {
		i, ok := index[p.SkillID]
		if !ok {
			i = len(ids)
			index[p.SkillID] = i
			ids, names, firsts, counts = append(ids, 0), append(names, ""), append(firsts, 0), append(counts, 0)
		}
		ids[i], names[i], firsts[i], counts[i] = p.SkillID, p.SkillName, p.FirstMissingRun, int32(p.ConsecutiveMissingRuns)
	}
	err := s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM pending_deletes WHERE account_id = $1`, s.account); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO pending_deletes (account_id, skill_id, skill_name, first_missing_run, consecutive_missing_runs)
			SELECT $5, * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::int[])`,
			ids, names, firsts, counts, s.account)
		return err
	})
	if err != nil {
		return fmt.Errorf("record %d pending deletes: %w", len(ids), err)
	}
	return nil
}
