package store

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultRunLockKey is the session advisory lock key that allows one run
// at a time per database (advisory locks are scoped to the current
// database). Options.LockKey replaces it.
const DefaultRunLockKey int64 = 0x5ea1_0002

// RunLock is the held run lock: a session advisory lock on one connection
// pinned from the pool until Release. If the process dies, the server ends
// the session and the lock with it.
type RunLock struct {
	mu      gosync.Mutex
	conn    *pgxpool.Conn // nil once released
	key     int64
	timeout time.Duration
}

// AcquireRunLock takes the run lock without waiting. It returns
// ErrRunInProgress when another session (another process, or another
// Store of this one) holds it. The caller must Release it.
func (s *Store) AcquireRunLock(ctx context.Context) (*RunLock, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("take run lock: connect to postgres at %s: %w", s.where, err)
	}
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, s.opts.LockKey).Scan(&locked); err != nil {
		// We cannot tell whether the server took the lock before the
		// error: end the session so that it cannot outlive us.
		closeConn(conn, s.queryTimeout)
		return nil, fmt.Errorf("take run lock: %w", err)
	}
	if !locked {
		conn.Release()
		return nil, ErrRunInProgress
	}
	return &RunLock{conn: conn, key: s.opts.LockKey, timeout: s.queryTimeout}, nil
}

// Release gives the run lock up on the connection that took it and returns
// the connection to the pool. It works even when ctx is cancelled (the lock
// must not outlive an aborted run); if the unlock fails, the connection is
// closed, which releases the lock on the server. Calling it again does
// nothing.
func (l *RunLock) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	conn := l.conn
	l.conn = nil

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	var unlocked bool
	err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&unlocked)
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
