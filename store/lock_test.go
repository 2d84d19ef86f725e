package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

// TestRunLockKey: stores with different Options.LockKey do not exclude
// each other on one database; the same key does.
func TestRunLockKey(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	prod, demo, prod2 := open(t, url, store.Options{}), open(t, url, store.Options{LockKey: 42}), open(t, url, store.Options{LockKey: store.DefaultRunLockKey})
	l1, err := prod.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Release(t.Context())
	l2, err := demo.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatalf("another key: %v, want the lock", err)
	}
	if _, err := prod2.AcquireRunLock(t.Context()); !errors.Is(err, store.ErrRunInProgress) {
		t.Errorf("the default key spelled out: %v, want ErrRunInProgress", err)
	}
	if _, err := demo.ReleaseSkill(t.Context(), "x"); !errors.Is(err, store.ErrRunInProgress) {
		t.Errorf("ReleaseSkill under the demo's held key: %v, want ErrRunInProgress", err)
	}
	if err := l2.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.ReleaseSkill(t.Context(), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReleaseSkill with its key free: %v, want ErrNotFound", err)
	}
	if st, err := store.Open(t.Context(), url, store.Options{LockKey: 0x5ea1_0001}); err == nil {
		st.Close()
		t.Error("Open accepted the migration lock's key as the run lock's")
	}
}

// TestRunLockOneWinner: two goroutines with two pools (two replicas) race
// for the lock; exactly one wins and the other is told at once.
func TestRunLockOneWinner(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	stores := []*store.Store{open(t, url, store.Options{}), open(t, url, store.Options{})}

	for round := range 3 {
		var (
			wg    gosync.WaitGroup
			locks = make([]*store.RunLock, len(stores))
			errs  = make([]error, len(stores))
			start = make(chan struct{})
		)
		for i, st := range stores {
			wg.Go(func() {
				<-start
				locks[i], errs[i] = st.AcquireRunLock(t.Context())
			})
		}
		close(start)
		wg.Wait()

		winners := 0
		for i := range stores {
			switch {
			case errs[i] == nil:
				winners++
			case !errors.Is(errs[i], store.ErrRunInProgress):
				t.Fatalf("round %d: store %d: %v, want the lock or ErrRunInProgress", round, i, errs[i])
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", round, winners)
		}
		for _, l := range locks {
			if l != nil {
				if err := l.Release(t.Context()); err != nil {
					t.Fatal(err)
				}
				if err := l.Release(t.Context()); err != nil {
					t.Errorf("second Release: %v", err)
				}
			}
		}
	}
}

// TestRunLockSameStore: a second run in the same process is refused too:
// each lock is its own session.
func TestRunLockSameStore(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	lock, err := st.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcquireRunLock(t.Context()); !errors.Is(err, store.ErrRunInProgress) {
		t.Fatalf("second AcquireRunLock = %v, want ErrRunInProgress", err)
	}
	if err := lock.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	again, err := st.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatalf("AcquireRunLock after Release: %v", err)
	}
	if err := again.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestRunLockReleasedOnCancel: a run whose context is cancelled still
// releases the lock, on its own connection, with that cancelled context.
func TestRunLockReleasedOnCancel(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	a, b := open(t, url, store.Options{}), open(t, url, store.Options{})

	ctx, cancel := context.WithCancel(t.Context())
	held := make(chan *store.RunLock)
	released := make(chan error)
	go func() {
		lock, err := a.AcquireRunLock(ctx)
		if err != nil {
			t.Error(err)
			close(held)
			return
		}
		held <- lock
		<-ctx.Done() // the run is aborted
		released <- lock.Release(ctx)
	}()
	if _, ok := <-held; !ok {
		t.FailNow()
	}
	if _, err := b.AcquireRunLock(t.Context()); !errors.Is(err, store.ErrRunInProgress) {
		t.Fatalf("AcquireRunLock while held = %v, want ErrRunInProgress", err)
	}
	cancel()
	if err := <-released; err != nil {
		t.Fatalf("Release with a cancelled context: %v", err)
	}
	lock, err := b.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatalf("AcquireRunLock after the cancelled run released: %v", err)
	}
	if err := lock.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestRunLockDiesWithSession: when the holder's connection ends (the process
// died), the lock is free again; Release afterwards reports the lost
// session instead of pretending.
func TestRunLockDiesWithSession(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	a, b := open(t, url, store.Options{}), open(t, url, store.Options{})
	lock, err := a.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Kill the holder's session from outside, as if its process died, and
	// wait (up to 10s) for the backend to be gone.
	conn := connect(t, url)
	var killed bool
	if err := conn.QueryRow(t.Context(), `SELECT bool_and(pg_terminate_backend(pid, 10000)) FROM (SELECT DISTINCT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS holders`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if !killed {
		t.Fatal("the lock holder's backend was not terminated")
	}
	l, err := b.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatalf("AcquireRunLock after the holder's session ended: %v", err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := lock.Release(t.Context()); err == nil {
		t.Error("Release on a terminated session succeeded, want an error")
	}
}

// terminateLockHolder ends, from outside, the session holding an advisory
// lock in the database of url, as a PostgreSQL restart, a failover or a
// proxy cutting the connection would, and waits (up to 10s) for it to be
// gone.
func terminateLockHolder(t *testing.T, url string) {
	t.Helper()
	var killed bool
	if err := connect(t, url).QueryRow(t.Context(), `SELECT bool_and(pg_terminate_backend(pid, 10000)) FROM (SELECT DISTINCT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS holders`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if !killed {
		t.Fatal("the lock holder's backend was not terminated")
	}
}

// TestRunLockCheckNoticesALostSession: Check confirms a held lock, and
// once its session is gone it says the lock is lost, every time after.
func TestRunLockCheckNoticesALostSession(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	a, b := open(t, url, store.Options{}), open(t, url, store.Options{})
	lock, err := a.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := lock.Check(t.Context()); err != nil {
			t.Fatalf("Check on a held lock: %v", err)
		}
	}
	terminateLockHolder(t, url)
	other, err := b.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatalf("another replica after the session ended: %v, want the lock", err)
	}
	defer other.Release(t.Context())
	for range 2 {
		if err := lock.Check(t.Context()); !errors.Is(err, store.ErrLockLost) {
			t.Fatalf("Check after the session ended: %v, want ErrLockLost", err)
		}
	}
	if err := other.Check(t.Context()); err != nil {
		t.Errorf("the new holder's Check: %v", err)
	}
	if err := lock.Release(t.Context()); !errors.Is(err, store.ErrLockLost) {
		t.Errorf("Release of the lost lock: %v, want ErrLockLost", err)
	}
	if err := lock.Check(t.Context()); !errors.Is(err, store.ErrLockLost) {
		t.Errorf("Check after Release: %v, want ErrLockLost", err)
	}
}

// TestRunLockKeepAlive: a server that ends idle sessions
// (idle_session_timeout) does not end the run lock's while a run reads:
// the keep-alive uses the connection in time. A lock whose keep-alive
// comes too late is lost in the same situation, which shows that the
// setting bites.
func TestRunLockKeepAlive(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	if _, err := connect(t, url).Exec(t.Context(), `DO $$ BEGIN
		EXECUTE format('ALTER DATABASE %I SET idle_session_timeout = %L', current_database(), '1s'); END $$`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		keepAlive time.Duration
		lost      bool
	}{
		{"kept alive", 100 * time.Millisecond, false},
		{"idle too long", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := open(t, url, store.Options{LockKeepAlive: tc.keepAlive, LockKey: int64(tc.keepAlive)})
			lock, err := st.AcquireRunLock(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Release(t.Context())
			// Idle, as during a long HR read, for over twice the server's
			// timeout.
			time.Sleep(2500 * time.Millisecond)
			err = lock.Check(t.Context())
			if got := errors.Is(err, store.ErrLockLost); got != tc.lost {
				t.Errorf("Check after idling: %v, want lost %v", err, tc.lost)
			}
		})
	}
}

// TestRunLockExcludesOlderRelease: a release from before accounts locks
// the base key itself (one run per database). During a rolling upgrade its
// run in flight must keep the accounts' runs out, and an account's run
// must keep its next one out; the runs of two accounts still go at once.
func TestRunLockExcludesOlderRelease(t *testing.T) {
	t.Parallel()
	url := pgtest.DB(t)
	old := connect(t, url)
	var locked bool
	if err := old.QueryRow(t.Context(), `SELECT pg_try_advisory_lock($1)`, store.DefaultRunLockKey).Scan(&locked); err != nil || !locked {
		t.Fatalf("the older release's lock: %v %v", locked, err)
	}
	a, b := open(t, url, store.Options{Account: "111"}), open(t, url, store.Options{Account: "222"})
	if l, err := a.AcquireRunLock(t.Context()); !errors.Is(err, store.ErrRunInProgress) {
		if l != nil {
			l.Release(t.Context())
		}
		t.Fatalf("an account's lock while an older release runs: %v, want ErrRunInProgress", err)
	}
	if _, err := old.Exec(t.Context(), `SELECT pg_advisory_unlock($1)`, store.DefaultRunLockKey); err != nil {
		t.Fatal(err)
	}
	la, err := a.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatalf("account 111 once the older release stopped: %v", err)
	}
	lb, err := b.AcquireRunLock(t.Context())
	if err != nil {
		t.Fatalf("account 222 while 111 runs: %v, want its own lock", err)
	}
	if err := old.QueryRow(t.Context(), `SELECT pg_try_advisory_lock($1)`, store.DefaultRunLockKey).Scan(&locked); err != nil || locked {
		t.Fatalf("the older release's lock while accounts run: %v %v, want refused", locked, err)
	}
	if _, err := a.AcquireRunLock(t.Context()); !errors.Is(err, store.ErrRunInProgress) {
		t.Fatalf("account 111 twice: %v, want ErrRunInProgress", err)
	}
	if err := errors.Join(la.Release(t.Context()), lb.Release(t.Context())); err != nil {
		t.Fatal(err)
	}
	if err := old.QueryRow(t.Context(), `SELECT pg_try_advisory_lock($1)`, store.DefaultRunLockKey).Scan(&locked); err != nil || !locked {
		t.Fatalf("the older release's lock once the accounts' runs ended: %v %v, want it", locked, err)
	}
}

// TestRunLockCheckAccountKeys: Check finds the lock under every account's
// key, whatever its sign (a bigint key shows in pg_locks as two oids; a
// key with its high bit set is negative), and says it is lost once its
// session is gone.
func TestRunLockCheckAccountKeys(t *testing.T) {
	t.Parallel()
	var neg, pos string
	for i := 0; neg == "" || pos == ""; i++ {
		acct := fmt.Sprint(10000000 + i)
		if store.AccountLockKey(store.DefaultRunLockKey, acct) < 0 {
			neg = cmp.Or(neg, acct)
		} else {
			pos = cmp.Or(pos, acct)
		}
	}
	for _, acct := range []string{neg, pos} {
		t.Run(acct, func(t *testing.T) {
			t.Parallel()
			url := pgtest.DB(t)
			lock, err := open(t, url, store.Options{Account: acct}).AcquireRunLock(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := lock.Check(t.Context()); err != nil {
				t.Fatalf("Check on a held lock (key %d): %v", store.AccountLockKey(store.DefaultRunLockKey, acct), err)
			}
			terminateLockHolder(t, url)
			if err := lock.Check(t.Context()); !errors.Is(err, store.ErrLockLost) {
				t.Fatalf("Check after the session ended: %v, want ErrLockLost", err)
			}
			_ = lock.Release(t.Context())
		})
	}
}
