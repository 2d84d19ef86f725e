package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultRunLockKey is the base of the session advisory lock keys that
// allow one run at a time per account and database (advisory locks are
// scoped to the current database). Options.LockKey replaces it; each
// account's key is derived from it (AccountLockKey).
const DefaultRunLockKey int64 = 0x5ea1_0002

// AccountLockKey is the run lock key of LivePerson account id under the
// base key: a 64-bit FNV-1a hash of both, so that each account has its own
// lock (replicas run different accounts at once) and a different base
// (the demo's) keeps every account apart from production's. A key that
// would be the migration lock's is moved off it.
func AccountLockKey(base int64, account string) int64 {
	if account == "" {
		return base
	}
	h := fnv.New64a()
	_ = binary.Write(h, binary.BigEndian, base)
	h.Write([]byte(account))
	key := int64(h.Sum64())
	if key == migrateLockID {
		key++
	}
	return key
}

// LockKeepAliveDefault is how often a held run lock's connection is used
// while the run does not use it (Options.LockKeepAlive).
const LockKeepAliveDefault = 30 * time.Second

// ErrLockLost is returned by RunLock.Check once the session that held the
// run lock has ended (the server restarted or failed over, the connection
// was cut by idle_session_timeout, a proxy or pg_terminate_backend): the
// server dropped the lock with the session, and another process may hold
// it now. A run that gets it must write nothing more.
var ErrLockLost = errors.New("lost the run lock")

// RunLock is the held run lock: a session advisory lock on one connection
// pinned from the pool until Release. If the process dies, the server ends
// the session and the lock with it.
//
// The lock is only as good as its session, so a run asks Check before
// every write batch; between checks a keep-alive goroutine uses the
// connection every Options.LockKeepAlive, so that an idle timeout on the
// server or a proxy does not end the session while the run reads (and a
// session that ended anyway is noticed early).
type RunLock struct {
	mu   gosync.Mutex
	conn *pgxpool.Conn // nil once released
	key  int64
	// legacy is the base key, held shared with key (0: none).
	legacy  int64
	timeout time.Duration
	// lost is set once the session is known to be gone; it stays set.
	lost error

	stop chan struct{} // closed by Release: ends the keep-alive
	done chan struct{} // closed when the keep-alive has ended
}

// AcquireRunLock takes the run lock of the Store's account without
// waiting. It returns ErrRunInProgress when another session (another
// process, or another Store of this one) holds it. The caller must
// Release it.
func (s *Store) AcquireRunLock(ctx context.Context) (*RunLock, error) {
	if err := s.scoped(); err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("take run lock: connect to postgres at %s: %w", s.where, err)
	}
	// A release from before accounts took the base key itself, one
	// run per database: during a rolling upgrade its run in flight must
	// still exclude the accounts' runs, and they its next one. Each
	// account's run also holds the base key shared (runs of different
	// accounts share it; an older release's exclusive lock does not).
	legacy := s.opts.LockKey
	if legacy == s.lockKey {
		legacy = 0
	}
	// One round trip: the account's key is tried only once the base key
	// is held shared (CASE evaluates only the branch it takes).
	var shared, locked bool
	if legacy != 0 {
		err = conn.QueryRow(ctx, `SELECT s, CASE WHEN s THEN pg_try_advisory_lock($2) ELSE false END
			FROM pg_try_advisory_lock_shared($1) AS s`, legacy, s.lockKey).Scan(&shared, &locked)
		if err == nil && shared && !locked {
			err = conn.QueryRow(ctx, `SELECT pg_advisory_unlock_shared($1)`, legacy).Scan(new(bool))
		}
	} else {
		err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, s.lockKey).Scan(&locked)
	}
	if err != nil {
		// We cannot tell whether the server took the lock before the
		// error: end the session so that it cannot outlive us.
		closeConn(conn, s.queryTimeout)
		return nil, fmt.Errorf("take run lock: %w", err)
	}
	if !locked {
		conn.Release()
		return nil, ErrRunInProgress
	}
	l := &RunLock{conn: conn, key: s.lockKey, legacy: legacy, timeout: s.queryTimeout,
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.keepAlive(s.opts.LockKeepAlive)
	return l, nil
}

// keepAlive checks the lock every interval until Release.
func (l *RunLock) keepAlive(interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			// A lost lock is remembered; the run finds out at its next
			// Check, before it writes.
			_ = l.Check(context.Background())
		}
	}
}

// heldQuery asks the server whether this session holds the advisory lock
// of key $1 (a bigint key shows in pg_locks as classid = its high 32 bits,
// objid = its low 32 bits, objsubid = 1). Asking pg_locks rather than
// merely using the connection also catches a connection that is alive but
// is no longer the session that took the lock (a pooling proxy).
const heldQuery = `SELECT EXISTS (SELECT 1 FROM pg_locks
	WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
	AND ((classid::bigint << 32) | objid::bigint) = $1)`

// Check confirms that the run lock is still held: its session is alive and
// holds the advisory lock. Once the session is gone it returns an error
// matching ErrLockLost, now and on every later call. Any other error (the
// check timed out, ctx ended) says nothing either way; the caller should
// not write on it either. Check is cheap (one round trip on the pinned
// connection) and safe for concurrent use.
func (l *RunLock) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	if l.conn == nil {
		return fmt.Errorf("%w: it was released", ErrLockLost)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	var held bool
	err := l.conn.QueryRow(ctx, heldQuery, l.key).Scan(&held)
	switch {
	case err == nil && held:
		return nil
	case err == nil:
		l.lost = fmt.Errorf("%w: the database session no longer holds it", ErrLockLost)
	case sessionGone(l.conn, err):
		l.lost = fmt.Errorf("%w: the database session that held it ended (%v)", ErrLockLost, err)
	default:
		// Slow, not gone: no verdict, but no write either.
		return fmt.Errorf("check the run lock: %w", err)
	}
	return l.lost
}

// sessionGone reports whether err ended the session of conn: pgx closes a
// connection on any error but a timeout (a cancelled query included), and
// the server ends the session with a FATAL error.
func sessionGone(conn *pgxpool.Conn, err error) bool {
	var pgErr *pgconn.PgError
	return conn.Conn().IsClosed() || errors.As(err, &pgErr) && (pgErr.Severity == "FATAL" || pgErr.Severity == "PANIC")
}

// Release gives the run lock up on the connection that took it and returns
// the connection to the pool. It works even when ctx is cancelled (the lock
// must not outlive an aborted run); if the unlock fails, the connection is
// closed, which releases the lock on the server. A lock whose session was
// lost is reported as such. Calling it again does nothing.
func (l *RunLock) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.conn == nil {
		l.mu.Unlock()
		return nil
	}
	conn := l.conn
	l.conn = nil
	lost := l.lost
	close(l.stop)
	l.mu.Unlock()
	<-l.done

	if lost != nil {
		closeConn(conn, l.timeout)
		return fmt.Errorf("release run lock: %w", lost)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	var unlocked bool
	var err error
	if l.legacy != 0 {
		// One round trip for both keys.
		var shared bool
		err = conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1), pg_advisory_unlock_shared($2)`, l.key, l.legacy).Scan(&unlocked, &shared)
		unlocked = unlocked && shared
	} else {
		err = conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&unlocked)
	}
	if err == nil && !unlocked {
		err = errors.New("the session no longer held it")
	}
	if err != nil {
		// Ending the session is the one sure way to drop its locks.
		closeConn(conn, l.timeout)
		return fmt.Errorf("release run lock (connection closed instead): %w", err)
	}
	conn.Release()
	return nil
}

// closeConn takes conn out of the pool and closes it, ending its session.
func closeConn(conn *pgxpool.Conn, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = conn.Hijack().Close(ctx)
}
