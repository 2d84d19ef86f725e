package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DeliveryStatus is where a notification stands.
type DeliveryStatus string

// Delivery states: queued until a sender claims it, sending while one
// holds it, then sent, or failed after the last attempt (or queued again
// for the next attempt).
const (
	DeliveryQueued  DeliveryStatus = "queued"
	DeliverySending DeliveryStatus = "sending"
	DeliverySent    DeliveryStatus = "sent"
	DeliveryFailed  DeliveryStatus = "failed"
)

// Delivery is one message of one run to one sink.
type Delivery struct {
	ID        int64
	RunID     int64
	AccountID string
	Sink      string // the sink's name; its URL stays in the configuration
	Event     string
	Payload   json.RawMessage
	Status    DeliveryStatus
	Attempts  int
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
	SentAt    *time.Time
}

// NewDelivery is a message to queue.
type NewDelivery struct {
	RunID     int64
	AccountID string
	Sink      string
	Event     string
	Payload   json.RawMessage
	// Dedupe queues it only when the sink was not told of the same event
	// with the same Reason for the account in the last RepeatAfter, on the
	// database's clock (replicas' clocks may differ) (a
	// message given up after its last attempt did not tell it, and an
	// apply run that went well since ended the state), and then records
	// this announcement.
	Dedupe      bool
	Reason      string
	RepeatAfter time.Duration
}

const deliveryColumns = `id, run_id, account_id, sink, event, payload, status, attempts, last_error, created_at, updated_at, sent_at`

func scanDelivery(row pgx.CollectableRow) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.RunID, &d.AccountID, &d.Sink, &d.Event, &d.Payload, &d.Status, &d.Attempts, &d.LastError,
		&d.CreatedAt, &d.UpdatedAt, &d.SentAt)
	return d, err
}

// reasonHash keeps a reason comparable without storing its text twice.
func reasonHash(reason string) string {
	h := sha256.Sum256([]byte(reason))
	return hex.EncodeToString(h[:])
}

// EnqueueDeliveries queues ds in one transaction, after forgetting what
// was announced to accountID when clearState is set (a run that went well
// ends every lasting state: the next bad one is news). It returns, for
// each of ds, whether it was queued (false: the same event and reason was
// announced to that sink less than its RepeatAfter ago).
func (s *Store) EnqueueDeliveries(ctx context.Context, accountID string, clearState bool, ds []NewDelivery) ([]bool, error) {
	queued := make([]bool, len(ds))
	err := s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if clearState {
			if _, err := tx.Exec(ctx, `DELETE FROM notify_state WHERE account_id = $1`, accountID); err != nil {
				return fmt.Errorf("clear notification state: %w", err)
			}
		}
		for i, d := range ds {
			if d.Dedupe {
				// One statement decides and records, under the row's lock:
				// two replicas ending runs at once announce it once. An
				// apply run that went well since the last announcement
				// ended that state even if its own clearState never came
				// (its process died after recording it, or it had no sink).
				var ok bool
				err := tx.QueryRow(ctx, `
					INSERT INTO notify_state (account_id, sink, event, reason_hash, announced_at, run_id)
					VALUES ($1, $2, $3, $4, now(), $5)
					ON CONFLICT (account_id, sink, event) DO UPDATE
						SET reason_hash = EXCLUDED.reason_hash, announced_at = EXCLUDED.announced_at, run_id = EXCLUDED.run_id,
							delivery_id = NULL
						WHERE notify_state.reason_hash <> EXCLUDED.reason_hash
						   OR notify_state.announced_at <= now() - $6::bigint * interval '1 microsecond'
						   OR notify_state.delivery_id IS NULL
						   OR EXISTS (SELECT 1 FROM notify_deliveries f WHERE f.id = notify_state.delivery_id AND f.status = 'failed')
						   OR EXISTS (SELECT 1 FROM runs g WHERE g.id > notify_state.run_id AND g.id < EXCLUDED.run_id
						              AND g.account_id = notify_state.account_id AND g.mode = 'apply' AND g.outcome IN ('applied', 'no_changes'))
					RETURNING true`,
					d.AccountID, d.Sink, d.Event, reasonHash(d.Reason), d.RunID, d.RepeatAfter.Microseconds()).Scan(&ok)
				if errors.Is(err, pgx.ErrNoRows) {
					continue
				}
				if err != nil {
					return fmt.Errorf("record announcement of %s to %s: %w", d.Event, d.Sink, err)
				}
			}
			var id int64
			if err := tx.QueryRow(ctx, `
				INSERT INTO notify_deliveries (run_id, account_id, sink, event, payload) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
				d.RunID, d.AccountID, d.Sink, d.Event, string(d.Payload)).Scan(&id); err != nil {
				return fmt.Errorf("queue %s to %s: %w", d.Event, d.Sink, err)
			}
			if d.Dedupe {
				if _, err := tx.Exec(ctx, `UPDATE notify_state SET delivery_id = $4 WHERE account_id = $1 AND sink = $2 AND event = $3`,
					d.AccountID, d.Sink, d.Event, id); err != nil {
					return fmt.Errorf("record announcement of %s to %s: %w", d.Event, d.Sink, err)
				}
			}
			queued[i] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue notifications of run: %w", err)
	}
	return queued, nil
}

// GiveUpAbandoned fails the deliveries whose sender stopped during their
// last attempt (maxAttempts made, the lease ran out), records that attempt
// with the reason, and returns them (for the caller to count: nobody was
// told). Call it before ClaimDeliveries, which leaves them alone.
func (s *Store) GiveUpAbandoned(ctx context.Context, maxAttempts int) ([]Delivery, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `
		WITH gone AS (
			UPDATE notify_deliveries SET status = 'failed', lease_until = NULL, updated_at = now(),
				last_error = 'the process sending it stopped during the last attempt'
			WHERE status = 'sending' AND lease_until < now() AND attempts >= $1
			RETURNING `+deliveryColumns+`),
		recorded AS (
			INSERT INTO notify_attempts (delivery_id, attempt, error)
			SELECT id, attempts, last_error FROM gone
			ON CONFLICT (delivery_id, attempt) DO NOTHING)
		SELECT `+deliveryColumns+` FROM gone ORDER BY id`, maxAttempts)
	ds, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("give up abandoned notifications: %w", err)
	}
	return ds, nil
}

// ClaimDeliveries takes up to limit deliveries that are due, for this
// caller alone: queued ones whose next attempt has come, and ones whose
// sender stopped mid-attempt (their lease ran out) with attempts left.
// Each is counted as one more attempt and leased for lease; rows other
// senders hold are skipped, so several replicas send each delivery once.
// Deliveries left mid-attempt that already had maxAttempts wait for
// GiveUpAbandoned. With sinks set, only deliveries to those sinks are
// taken, and deliveries to others once they are orphanAfter old (a
// replica on an older configuration leaves a new sink's messages to the
// replicas that know it; one no replica knows any more is taken at last,
// to be given up).
func (s *Store) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration, maxAttempts int, sinks []string, orphanAfter time.Duration) ([]Delivery, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM notify_deliveries
			WHERE ((status = 'queued' AND next_attempt_at <= now())
			       OR (status = 'sending' AND lease_until < now() AND attempts < $3))
			  AND ($4::text[] IS NULL OR sink = ANY($4::text[]) OR created_at <= now() - $5::bigint * interval '1 microsecond')
			ORDER BY next_attempt_at, id
			LIMIT $1
			FOR UPDATE SKIP LOCKED)
		UPDATE notify_deliveries d
		SET status = 'sending', attempts = d.attempts + 1, lease_until = now() + $2::bigint * interval '1 microsecond', updated_at = now()
		FROM due WHERE d.id = due.id
		RETURNING d.id, d.run_id, d.account_id, d.sink, d.event, d.payload, d.status, d.attempts, d.last_error,
			d.created_at, d.updated_at, d.sent_at`, limit, lease.Microseconds(), maxAttempts, sinks, orphanAfter.Microseconds())
	ds, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return ds, nil
}

// Attempt is the result of one attempt to send a delivery.
type Attempt struct {
	DeliveryID int64
	Attempt    int  // the delivery's Attempts when it was claimed
	HTTPStatus *int // nil: no answer
	Error      string
	Duration   time.Duration
	// RetryIn, for a failed attempt, queues the delivery again this much
	// later; nil gives it up (failed).
	RetryIn *time.Duration
}

// FinishAttempt records an attempt and moves its delivery on: sent when
// Error is empty, queued again when RetryIn is set, else failed. A sender
// whose lease ran out (another one took the delivery since) changes
// nothing, and is told so by ErrNotFound.
func (s *Store) FinishAttempt(ctx context.Context, a Attempt) (DeliveryStatus, error) {
	status := DeliverySent
	switch {
	case a.Error != "" && a.RetryIn != nil:
		status = DeliveryQueued
	case a.Error != "":
		status = DeliveryFailed
	}
	// PostgreSQL's text takes no NUL byte: an error quoting a binary
	// answer would leave the attempt unrecorded, its message claimed.
	a.Error = strings.ReplaceAll(a.Error, "\x00", "")
	var retry int64
	if a.RetryIn != nil {
		retry = a.RetryIn.Microseconds()
	}
	err := s.withTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO notify_attempts (delivery_id, attempt, http_status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (delivery_id, attempt) DO NOTHING`,
			a.DeliveryID, a.Attempt, a.HTTPStatus, a.Error, a.Duration.Milliseconds()); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE notify_deliveries SET status = $3, last_error = $4, lease_until = NULL, updated_at = now(),
				next_attempt_at = now() + $5::bigint * interval '1 microsecond',
				sent_at = CASE WHEN $3 = 'sent' THEN now() END
			WHERE id = $1 AND attempts = $2 AND status = 'sending'`,
			a.DeliveryID, a.Attempt, string(status), a.Error, retry)
		if err != nil {
			return fmt.Errorf("record delivery status: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("notification %d attempt %d: %w", a.DeliveryID, a.Attempt, err)
	}
	return status, nil
}

// OpenDeliveries counts the deliveries of run runID not yet sent or given
// up, and says when the next of them is due (zero when none waits): a
// queued one at its next attempt; one being sent within a second (its
// sender records it soon), or when its claim lapses if that is sooner.
func (s *Store) OpenDeliveries(ctx context.Context, runID int64) (int, time.Time, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var n int
	var next *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT count(*), min(CASE WHEN status = 'queued' THEN next_attempt_at
			ELSE least(lease_until, clock_timestamp() + interval '1 second') END)
		FROM notify_deliveries WHERE run_id = $1 AND status IN ('queued', 'sending')`, runID).Scan(&n, &next)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count open notifications of run %d: %w", runID, err)
	}
	if next == nil {
		return n, time.Time{}, nil
	}
	return n, *next, nil
}

// RunDeliveries lists the notifications of run runID, in the order they
// were queued.
func (s *Store) RunDeliveries(ctx context.Context, runID int64) ([]Delivery, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM notify_deliveries WHERE run_id = $1 ORDER BY id`, runID)
	ds, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("read notifications of run %d: %w", runID, err)
	}
	return ds, nil
}

// DeliveryAttempt is one recorded attempt.
type DeliveryAttempt struct {
	Attempt    int
	At         time.Time
	HTTPStatus *int
	Error      string
	Duration   time.Duration
}

// DeliveryAttempts lists the attempts made to send delivery id.
func (s *Store) DeliveryAttempts(ctx context.Context, id int64) ([]DeliveryAttempt, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT attempt, at, http_status, error, duration_ms FROM notify_attempts
		WHERE delivery_id = $1 ORDER BY attempt`, id)
	as, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeliveryAttempt, error) {
		var a DeliveryAttempt
		var ms int64
		err := row.Scan(&a.Attempt, &a.At, &a.HTTPStatus, &a.Error, &ms)
		a.Duration = time.Duration(ms) * time.Millisecond
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("read attempts of notification %d: %w", id, err)
	}
	return as, nil
}

// DeletedSkillNames lists the skills run runID deleted (its journal's
// deletes that LivePerson confirmed), in journal order.
func (s *Store) DeletedSkillNames(ctx context.Context, runID int64) ([]string, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, _ := s.pool.Query(ctx, `SELECT skill_name FROM run_operations
		WHERE run_id = $1 AND action = 'delete' AND state = 'done' ORDER BY seq`, runID)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read deletes of run %d: %w", runID, err)
	}
	return names, nil
}

// PreviousApplyOutcome is the outcome of the store's account's last apply
// run before run runID that ended (interrupted runs say nothing of the account and are
// passed over); "" when there is none.
func (s *Store) PreviousApplyOutcome(ctx context.Context, runID int64) (Outcome, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var o Outcome
	err := s.pool.QueryRow(ctx, `SELECT outcome FROM runs
		WHERE id < $1 AND account_id = $2 AND mode = 'apply' AND outcome NOT IN ('running', 'interrupted')
		ORDER BY id DESC LIMIT 1`, runID, s.account).Scan(&o)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the apply run before run %d: %w", runID, err)
	}
	return o, nil
}
