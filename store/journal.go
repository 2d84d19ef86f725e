package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const opColumns = `id, run_id, seq, action, skill_name, skill_id, request, rule_id, rule_key, sent,
	revision, state, http_status, error, created_at, updated_at`

func scanOperation(row pgx.CollectableRow) (Operation, error) {
	var op Operation
	var sent []byte
	var rev *string
	err := row.Scan(&op.ID, &op.RunID, &op.Seq, &op.Action, &op.SkillName, &op.SkillID,
		&op.Request, &op.RuleID, &op.RuleKey, &sent, &rev, &op.State, &op.HTTPStatus, &op.Error, &op.CreatedAt, &op.UpdatedAt)
	if rev != nil {
		op.Revision = *rev
	}
	if err == nil && sent != nil {
		if op.Sent, err = decodeState(sent); err != nil {
			err = fmt.Errorf("operation %d: sent fields: %w", op.ID, err)
		}
	}
	return op, err
}

// JournalAdd appends ops to the journal of run runID in one statement and
// returns their ids in the order of ops. The store numbers them (Seq) after
// the run's existing operations, so Seq, ID, RunID and the timestamps of ops
// are ignored; an empty State means intended.
func (s *Store) JournalAdd(ctx context.Context, runID int64, ops []Operation) ([]int64, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	if err := s.scoped(); err != nil {
		return nil, err
	}
	var (
		actions  = make([]string, len(ops))
		names    = make([]string, len(ops))
		skillIDs = make([]*int64, len(ops))
		requests = make([]string, len(ops))
		ruleIDs  = make([]string, len(ops))
		ruleKeys = make([]string, len(ops))
		sents    = make([]*string, len(ops))
		states   = make([]string, len(ops))
		statuses = make([]*int32, len(ops))
		errs     = make([]string, len(ops))
		revs     = make([]*string, len(ops))
	)
	for i, op := range ops {
		if op.Action == "" {
			return nil, fmt.Errorf("journal run %d: operation %d has no action", runID, i)
		}
		actions[i] = op.Action
		names[i] = op.SkillName
		skillIDs[i] = op.SkillID
		requests[i] = op.Request
		ruleIDs[i] = op.RuleID
		ruleKeys[i] = op.RuleKey
		if op.Sent != nil {
			b, err := json.Marshal(op.Sent)
			if err != nil {
				return nil, fmt.Errorf("journal run %d: operation %d: sent fields: %w", runID, i, err)
			}
			doc := string(b)
			sents[i] = &doc
		}
		states[i] = string(cmp.Or(op.State, OpIntended))
		statuses[i] = int32Ptr(op.HTTPStatus)
		errs[i] = pgText(op.Error)
		if op.Revision != "" {
			revs[i] = &op.Revision
		}
	}

	ctx, cancel := s.timeout(ctx)
	defer cancel()
	// Reserving the sequence numbers on the run row and inserting in one
	// statement keeps one round trip per batch and sequences without gaps
	// even with concurrent writers (the row lock orders them). Committed
	// lazily (lazyCommit) unless an operation is journaled sent.
	rows, _ := s.pool.Query(ctx, `
		WITH `+lazyCommit("$15")+`,
		r AS (
			UPDATE runs SET last_seq = last_seq + $2 WHERE id = $1 AND account_id = $14
			RETURNING last_seq - $2 AS base
		)
		INSERT INTO run_operations (run_id, seq, action, skill_name, skill_id, request, rule_id, rule_key,
			sent, revision, state, http_status, error)
		SELECT $1, r.base + u.ord, u.action, u.skill_name, u.skill_id, u.request, u.rule_id, u.rule_key,
			u.sent::jsonb, u.revision, u.state, u.http_status, u.error
		FROM r, lazy_commit, unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
				$9::text[], $10::text[], $11::int[], $12::text[], $13::text[])
			WITH ORDINALITY AS u(action, skill_name, skill_id, request, rule_id, rule_key, sent, state, http_status, error, revision, ord)
		RETURNING id, seq`,
		runID, len(ops), actions, names, skillIDs, requests, ruleIDs, ruleKeys, sents, states, statuses, errs, revs, s.account, !durable(states))
	type idSeq struct{ id, seq int64 }
	inserted, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (idSeq, error) {
		var r idSeq
		err := row.Scan(&r.id, &r.seq)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("journal %d operations of run %d: %w", len(ops), runID, err)
	}
	if len(inserted) == 0 {
		return nil, fmt.Errorf("journal operations of run %d: run %w", runID, ErrNotFound)
	}
	if len(inserted) != len(ops) {
		return nil, fmt.Errorf("journal operations of run %d: inserted %d of %d", runID, len(inserted), len(ops))
	}
	// RETURNING promises no order; the sequence numbers give it back.
	slices.SortFunc(inserted, func(a, b idSeq) int { return cmp.Compare(a.seq, b.seq) })
	ids := make([]int64, len(inserted))
	for i, r := range inserted {
		ids[i] = r.id
	}
	return ids, nil
}

// JournalSet moves journaled operations to new states in one statement. A
// nil HTTPStatus or SkillID keeps the stored one; Error replaces the stored
// error. When updates name an operation twice, the last update wins. It
// returns an error wrapping ErrNotFound if an operation does not exist (the
// others are still updated).
func (s *Store) JournalSet(ctx context.Context, updates []OpUpdate) error {
	if err := s.scoped(); err != nil {
		return err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	states := make([]OpState, len(updates))
	for i, u := range updates {
		states[i] = u.State
	}
	if len(updates) > journalSetChunk {
		// Several statements (journalSet), applied together; an
		// operation not found leaves the others updated, as one
		// statement does.
		var notFound error
		err := s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			err := journalSet(ctx, tx, s.account, updates, !durable(states))
			if errors.Is(err, ErrNotFound) {
				notFound, err = err, nil
			}
			return err
		})
		return cmp.Or(err, notFound)
	}
	return journalSet(ctx, s.pool, s.account, updates, !durable(states))
}

// journalSetChunk is how many operations one statement of journalSet
// updates at most. Each row finds its values in the arrays by position,
// and finding an element of an array (array_position, and the subscript of
// a text array or of one with NULLs) walks it from its start: a statement
// of n rows costs n², and 20,000 settlements in one (a run settling the
// creates a LivePerson outage left unanswered) outlasted the query
// timeout. Statements of at most this many keep the cost linear; a
// write batch (batch_size, 50 by default) takes one.
const journalSetChunk = 500

// execer is what the pool and a transaction share.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// lazyCommit is a common table expression, lazy_commit, that turns
// synchronous_commit off for the statement's own transaction when the
// boolean parameter param is true, so that its commit does not wait for
// the disk. The journal needs only its sent rows on disk before skillsync
// calls LivePerson (the applier journals a batch sent, in one statement).
// That commit flushes the write-ahead log up to itself, and so every
// journal write before it; a lazy write after it (done, failed) is
// flushed by the next durable commit (the next batch's sent, the
// registry, the end of the run) or by PostgreSQL within its
// wal_writer_delay. Should PostgreSQL itself crash in between,
// such a row reads sent, as when the process dies during the call, which
// the next run settles. One fsync per batch instead of three. The
// statement must join lazy_commit for it to run; MATERIALIZED runs it once.
func lazyCommit(param string) string {
	return `lazy_commit AS MATERIALIZED (
			SELECT set_config('synchronous_commit',
				CASE WHEN ` + param + `::bool THEN 'off' ELSE current_setting('synchronous_commit') END, true))`
}

// durable says whether a journal write moving operations to states must
// be on disk before skillsync goes on: a move to sent precedes a call.
func durable[S ~string](states []S) bool {
	return slices.Contains(states, S(OpSent))
}

// journalSet updates operations of account's runs only: an id of another
// account's operation is not found. It commits lazily when lazy
// (lazyCommit; never inside a transaction that must be durable). Past
// journalSetChunk operations it runs one statement per chunk: db should
// then be a transaction, for them to apply together.
func journalSet(ctx context.Context, db execer, account string, updates []OpUpdate, lazy bool) error {
	if len(updates) == 0 {
		return nil
	}
	last := make(map[int64]int, len(updates)) // id → index in the arrays
	n := len(updates)
	var (
		ids      = make([]int64, 0, n)
		states   = make([]string, 0, n)
		statuses = make([]*int32, 0, n)
		errs     = make([]string, 0, n)
		skillIDs = make([]*int64, 0, n)
		revs     []*string // nil unless an update carries a revision
	)
	for _, u := range updates {
		if u.State == "" {
			return fmt.Errorf("journal update of operation %d: no state", u.ID)
		}
		i, seen := last[u.ID]
		if !seen {
			i = len(ids)
			last[u.ID] = i
			ids = append(ids, u.ID)
			states = append(states, "")
			statuses = append(statuses, nil)
			errs = append(errs, "")
			skillIDs = append(skillIDs, nil)
		}
		states[i] = string(u.State)
		statuses[i] = int32Ptr(u.HTTPStatus)
		errs[i] = pgText(u.Error)
		skillIDs[i] = u.SkillID
		if u.Revision != "" {
			if revs == nil {
				revs = make([]*string, n)
			}
			revs[i] = &u.Revision
		}
	}
	if revs != nil {
		revs = revs[:len(ids)]
	}
	var updated int64
	for lo := 0; lo < len(ids); lo += journalSetChunk {
		hi := min(lo+journalSetChunk, len(ids))
		var chunkRevs []*string
		if revs != nil {
			chunkRevs = revs[lo:hi]
		}
		tag, err := db.Exec(ctx, journalSetSQL,
			ids[lo:hi], states[lo:hi], statuses[lo:hi], errs[lo:hi], skillIDs[lo:hi], chunkRevs, account, lazy)
		if err != nil {
			return fmt.Errorf("update %d journal operations: %w", len(ids), err)
		}
		updated += tag.RowsAffected()
	}
	if updated != int64(len(ids)) {
		return fmt.Errorf("update journal: %d of %d operations: %w", int64(len(ids))-updated, len(ids), ErrNotFound)
	}
	return nil
}

// journalSetSQL is journalSet's statement. The rows are found by primary
// key alone (id = ANY) and each takes its values from the arrays at its
// id's position; the account is checked by a subquery per row. The
// planner can turn neither into a join, so the plan does not depend on
// statistics (a new or small table has none): joined to unnest, the
// function was scanned again for every row, and the account as a
// semi-join had the planner read every operation of the run. A nil
// revisions array ($6) keeps every stored revision.
var journalSetSQL = func() string {
	at := func(param, typ string) string {
		return "(" + param + "::" + typ + "[])[array_position($1::bigint[], o.id)]"
	}
	rev := at("$6", "text")
	return `
		WITH ` + lazyCommit("$8") + `
		UPDATE run_operations o SET
			state = ` + at("$2", "text") + `,
			http_status = COALESCE(` + at("$3", "int") + `, o.http_status),
			error = ` + at("$4", "text") + `,
			skill_id = COALESCE(` + at("$5", "bigint") + `, o.skill_id),
			revision = CASE WHEN ` + rev + ` IS NULL THEN o.revision
				WHEN o.revision IS NULL OR o.revision !~ '^[0-9]{1,18}$' OR ` + rev + ` !~ '^[0-9]{1,18}$' THEN ` + rev + `
				ELSE greatest(o.revision::bigint, ` + rev + `::bigint)::text END,
			updated_at = now()
		FROM lazy_commit
		WHERE o.id = ANY($1::bigint[])
			AND (SELECT r.account_id FROM runs r WHERE r.id = o.run_id) = $7`
}()

// UnconfirmedCreates returns the creates that finished runs left intended
// or sent, oldest first: their process died (or lost the database) before
// it learned whether LivePerson made the skill. Runs still running are left
// out; call it while holding the run lock, after MarkInterrupted, so that
// every earlier run is finished. Settle each row (state resolved) once
// LivePerson has been read, with TakeOverSkills (or JournalSet when there
// is nothing to register), so that it is not taken up again.
func (s *Store) UnconfirmedCreates(ctx context.Context) ([]Operation, error) {
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT `+prefixed("o.", opColumns)+`
		FROM run_operations o JOIN runs r ON r.id = o.run_id
		WHERE o.action = 'create' AND o.state IN ('intended', 'sent') AND r.outcome <> 'running'
			AND r.account_id = $1
		ORDER BY o.run_id, o.seq`, s.account)
	ops, err := pgx.CollectRows(rows, scanOperation)
	if err != nil {
		return nil, fmt.Errorf("read unconfirmed creates: %w", err)
	}
	return ops, nil
}

// prefixed qualifies each column of a comma-separated list with prefix.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

func int32Ptr(p *int) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}
