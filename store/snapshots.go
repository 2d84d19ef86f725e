package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RecordSnapshot stores the statistics of one source read, accepted or
// refused, links it to its run (Run.SnapshotID) and returns its id. ID and
// CreatedAt of snap are ignored; a zero RunID records no run.
func (s *Store) RecordSnapshot(ctx context.Context, snap Snapshot) (int64, error) {
	if err := s.scoped(); err != nil {
		return 0, err
	}
	counts := snap.ValueCounts
	if counts == nil {
		counts = map[string]map[string]int{}
	}
	var runID *int64
	if snap.RunID != 0 {
		runID = &snap.RunID
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var id int64
	err := s.pool.QueryRow(ctx, `
		WITH s AS (
			INSERT INTO source_snapshots (account_id, run_id, records, active, value_counts, header_hash, accepted, reason)
			VALUES ($8, $1, $2, $3, $4, $5, $6, $7)
			RETURNING id, run_id
		), linked AS (
			UPDATE runs SET snapshot_id = s.id FROM s WHERE runs.id = s.run_id AND runs.account_id = $8
		)
		SELECT id FROM s`,
		runID, snap.Records, snap.Active, counts, snap.HeaderHash, snap.Accepted, snap.Reason, s.account,
	).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record source snapshot of run %d: %w", snap.RunID, err)
	}
	return id, nil
}

// LastAcceptedSnapshot returns the latest snapshot the source-health guard
// accepted in an apply run, or nil if there is none yet (the first run).
// Dry runs record their snapshots too, but they change nothing: were they
// the baseline, a series of plans could walk the headcount guard down in
// steps that each look small while the data applied last is far away.
func (s *Store) LastAcceptedSnapshot(ctx context.Context) (*Snapshot, error) {
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `
		SELECT id, run_id, records, active, value_counts, header_hash, accepted, reason, created_at
		FROM source_snapshots s
		WHERE accepted AND account_id = $1
			AND EXISTS (SELECT 1 FROM runs r WHERE r.id = s.run_id AND r.mode = 'apply')
		ORDER BY id DESC LIMIT 1`, s.account)
	snap, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (Snapshot, error) {
		var sn Snapshot
		var runID *int64
		err := row.Scan(&sn.ID, &runID, &sn.Records, &sn.Active, &sn.ValueCounts, &sn.HeaderHash,
			&sn.Accepted, &sn.Reason, &sn.CreatedAt)
		if runID != nil {
			sn.RunID = *runID
		}
		return sn, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read last accepted source snapshot: %w", err)
	}
	return &snap, nil
}
