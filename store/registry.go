package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const ownedColumns = `skill_id, name, rule_id, rule_key, created_by_run, adopted, created_at, released_at`

func scanOwned(row pgx.CollectableRow) (OwnedSkill, error) {
	var o OwnedSkill
	err := row.Scan(&o.SkillID, &o.Name, &o.RuleID, &o.RuleKey, &o.CreatedByRun, &o.Adopted,
		&o.CreatedAt, &o.ReleasedAt)
	return o, err
}

// OwnedSkills returns the skills skillsync manages (released ones excluded),
// sorted by name.
func (s *Store) OwnedSkills(ctx context.Context) ([]OwnedSkill, error) {
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT `+ownedColumns+` FROM owned_skills
		WHERE released_at IS NULL AND account_id = $1 ORDER BY name, skill_id`, s.account)
	skills, err := pgx.CollectRows(rows, scanOwned)
	if err != nil {
		return nil, fmt.Errorf("read ownership registry: %w", err)
	}
	return skills, nil
}

// UpsertOwnedSkills records skills as managed, in one statement: new skill
// ids are added, known ones get the given name, rule, key, adopted flag and
// ReleasedAt (nil manages a released skill again). CreatedByRun is kept from
// the first record of a skill; CreatedAt is set by the store. When skills
// name a skill id twice, the last wins. A rule key already used by another
// managed skill is an error and changes nothing. Releasing a skill, or
// managing a released one again, forgets its written state (SkillStates).
func (s *Store) UpsertOwnedSkills(ctx context.Context, skills []OwnedSkill) error {
	if err := s.scoped(); err != nil {
		return err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	return upsertOwned(ctx, s.pool, s.account, skills)
}

// TakeOverSkills registers skills that earlier runs created without
// learning it (as UpsertOwnedSkills does) and settles the journal rows of
// those runs' unanswered creates (as JournalSet does), in one
// transaction: a row settled without its skill registered would lose the
// skill, a skill registered with its row unsettled could be taken over
// again after a release.
func (s *Store) TakeOverSkills(ctx context.Context, skills []OwnedSkill, settled []OpUpdate) error {
	if err := s.scoped(); err != nil {
		return err
	}
	return s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := upsertOwned(ctx, tx, s.account, skills); err != nil {
			return err
		}
		return journalSet(ctx, tx, s.account, settled, false)
	})
}

func upsertOwned(ctx context.Context, db execer, account string, skills []OwnedSkill) error {
	if len(skills) == 0 {
		return nil
	}
	index := make(map[int64]int, len(skills))
	var uniq []OwnedSkill
	for _, sk := range skills {
		if i, ok := index[sk.SkillID]; ok {
			uniq[i] = sk
			continue
		}
		index[sk.SkillID] = len(uniq)
		uniq = append(uniq, sk)
	}
	var (
		ids      = make([]int64, len(uniq))
		names    = make([]string, len(uniq))
		ruleIDs  = make([]string, len(uniq))
		ruleKeys = make([]string, len(uniq))
		runs     = make([]*int64, len(uniq))
		adopted  = make([]bool, len(uniq))
		released = make([]*time.Time, len(uniq))
	)
	for i, sk := range uniq {
		ids[i], names[i], ruleIDs[i], ruleKeys[i] = sk.SkillID, sk.Name, sk.RuleID, sk.RuleKey
		runs[i], adopted[i], released[i] = sk.CreatedByRun, sk.Adopted, sk.ReleasedAt
	}

	_, err := db.Exec(ctx, `
		INSERT INTO owned_skills (account_id, skill_id, name, rule_id, rule_key, created_by_run, adopted, released_at)
		SELECT $8, * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bool[], $7::timestamptz[])
		ON CONFLICT (account_id, skill_id) DO UPDATE SET
			name = excluded.name,
			rule_id = excluded.rule_id,
			rule_key = excluded.rule_key,
			created_by_run = COALESCE(owned_skills.created_by_run, excluded.created_by_run),
			adopted = excluded.adopted,
			released_at = excluded.released_at,
			-- What was written while managed says nothing once the
			-- skill was released (someone else may have changed it).
			written_state = CASE WHEN owned_skills.released_at IS NULL AND excluded.released_at IS NULL
				THEN owned_skills.written_state END,
			updated_at = now()`,
		ids, names, ruleIDs, ruleKeys, runs, adopted, released, account)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.ConstraintName == "owned_skills_rule_key_idx" {
		return fmt.Errorf("record %d owned skills: a rule key is already used by another managed skill (%s)",
			len(uniq), pgErr.Detail)
	}
	if err != nil {
		return fmt.Errorf("record %d owned skills: %w", len(uniq), err)
	}
	return nil
}

// DeleteOwnedSkills removes skills deleted from LivePerson from the registry,
// with any pending delete they had. Unknown ids are ignored.
func (s *Store) DeleteOwnedSkills(ctx context.Context, skillIDs []int64) error {
	if len(skillIDs) == 0 {
		return nil
	}
	if err := s.scoped(); err != nil {
		return err
	}
	err := s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM owned_skills WHERE account_id = $2 AND skill_id = ANY($1)`,
			skillIDs, s.account); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM pending_deletes WHERE account_id = $2 AND skill_id = ANY($1)`, skillIDs, s.account)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete %d owned skills: %w", len(skillIDs), err)
	}
	return nil
}

// ownedNamed returns the ids of the managed skills named name (by
// Options.NameKey when set), locked for update.
func (s *Store) ownedNamed(ctx context.Context, tx pgx.Tx, name string) ([]int64, error) {
	if s.opts.NameKey == nil {
		rows, _ := tx.Query(ctx, `SELECT skill_id FROM owned_skills
			WHERE account_id = $2 AND name = $1 AND released_at IS NULL ORDER BY skill_id FOR UPDATE`, name, s.account)
		return pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	type row struct {
		ID   int64
		Name string
	}
	rows, _ := tx.Query(ctx, `SELECT skill_id, name FROM owned_skills
		WHERE account_id = $1 AND released_at IS NULL ORDER BY skill_id FOR UPDATE`, s.account)
	all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, err
	}
	var ids []int64
	key := s.opts.NameKey(name)
	for _, r := range all {
		if s.opts.NameKey(r.Name) == key {
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

// ReleaseSkill stops managing the skill named name without deleting it from
// LivePerson: it stays in the registry, marked released, and its pending
// delete (if any) and written state are dropped. It returns ErrNotFound
// when no managed skill has that name, and ErrRunInProgress while a run
// holds the run lock: that run has read the registry and would manage the
// skill again.
func (s *Store) ReleaseSkill(ctx context.Context, name string) (OwnedSkill, error) {
	if err := s.scoped(); err != nil {
		return OwnedSkill{}, err
	}
	var released OwnedSkill
	err := s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		// The transaction-level lock conflicts with a run's session lock
		// and ends with the transaction.
		var free bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, s.lockKey).Scan(&free); err != nil {
			return err
		}
		if !free {
			return ErrRunInProgress
		}
		ids, err := s.ownedNamed(ctx, tx, name)
		if err != nil {
			return err
		}
		switch len(ids) {
		case 0:
			return fmt.Errorf("no managed skill is named %q: %w", name, ErrNotFound)
		case 1:
		default:
			return fmt.Errorf("%d managed skills are named %q (ids %v); the registry is inconsistent with LivePerson, run a sync first",
				len(ids), name, ids)
		}
		rows, _ := tx.Query(ctx, `UPDATE owned_skills SET released_at = now(), written_state = NULL, updated_at = now()
			WHERE account_id = $2 AND skill_id = $1 RETURNING `+ownedColumns, ids[0], s.account)
		released, err = pgx.CollectExactlyOneRow(rows, scanOwned)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM pending_deletes WHERE account_id = $2 AND skill_id = $1`, ids[0], s.account)
		return err
	})
	if err != nil {
		return OwnedSkill{}, fmt.Errorf("release skill %q: %w", name, err)
	}
	return released, nil
}
