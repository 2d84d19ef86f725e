package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
)

// SkillState is the set of managed field values skillsync last wrote to an
// owned skill, by field name (name, description, max_wait_time, ...), each
// as a JSON value. The store keeps it opaque: the engine decides which
// fields there are and how they are encoded.
type SkillState map[string]json.RawMessage

// SkillStates returns the written state of every managed skill that has
// one. Each value comes back compact (no insignificant white space), but
// otherwise as PostgreSQL's jsonb keeps it: compare values as JSON, not as
// bytes.
func (s *Store) SkillStates(ctx context.Context) (map[int64]SkillState, error) {
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT skill_id, written_state FROM owned_skills
		WHERE released_at IS NULL AND written_state IS NOT NULL AND account_id = $1`, s.account)
	out := map[int64]SkillState{}
	var (
		id  int64
		raw []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&id, &raw}, func() error {
		st, err := decodeState(raw)
		if err != nil {
			return fmt.Errorf("skill %d: %w", id, err)
		}
		out[id] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read written skill state: %w", err)
	}
	return out, nil
}

func decodeState(raw []byte) (SkillState, error) {
	var st SkillState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	for k, v := range st {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, err
		}
		st[k] = b.Bytes()
	}
	if st == nil {
		st = SkillState{}
	}
	return st, nil
}

// SetSkillStates records what was written to skills, in one statement: a
// state replaces the skill's previous one, a nil state forgets it. The
// state belongs to the registry row: skills that are not managed (unknown
// or released) keep none, so states given for them are dropped, and
// deleting or releasing a skill forgets its state.
func (s *Store) SetSkillStates(ctx context.Context, states map[int64]SkillState) error {
	if len(states) == 0 {
		return nil
	}
	if err := s.scoped(); err != nil {
		return err
	}
	// Sorted ids: concurrent writers lock rows in the same order.
	ids := slices.Sorted(maps.Keys(states))
	docs := make([]*string, len(ids))
	for i, id := range ids {
		st := states[id]
		if st == nil {
			continue
		}
		b, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("record written state of skill %d: %w", id, err)
		}
		doc := string(b)
		docs[i] = &doc
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `
		UPDATE owned_skills o SET written_state = u.state::jsonb
		FROM unnest($1::bigint[], $2::text[]) AS u(skill_id, state)
		WHERE o.account_id = $3 AND o.skill_id = u.skill_id AND (o.released_at IS NULL OR u.state IS NULL)`,
		ids, docs, s.account)
	if err != nil {
		return fmt.Errorf("record written state of %d skills: %w", len(ids), err)
	}
	return nil
}
