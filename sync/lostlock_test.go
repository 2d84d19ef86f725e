package sync

import (
	"context"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// journalHook is the real store, calling afterSet after every JournalSet.
type journalHook struct {
	*store.Store
	afterSet func([]store.OpUpdate)
}

func (h *journalHook) JournalSet(ctx context.Context, updates []store.OpUpdate) error {
	err := h.Store.JournalSet(ctx, updates)
	if h.afterSet != nil {
		h.afterSet(updates)
	}
	return err
}

// replica is a second skillsync process on the same database and account:
// its own pool, its own LivePerson client, the same HR file.
func (e *testEnv) replica(cfg Config) *Runner {
	e.t.Helper()
	st, err := store.Open(context.Background(), e.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(st.Close)
	client, err := liveperson.New(liveperson.Config{
		AccountID: testAccount, DomainAPIURL: e.srv.URL(), BatchSize: e.batch,
		Auth: liveperson.AuthConfig{Method: "oauth2", ClientID: "skillsync", ClientSecret: "s3cret"},
	}, liveperson.Options{HTTPClient: e.srv.Client(), Delay: func(time.Duration) time.Duration { return time.Millisecond }})
	if err != nil {
		e.t.Fatal(err)
	}
	src, err := hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Fields: hrsource.FieldsConfig{ID: "id", Email: "email"},
		Active: `status == "active"`, MultiValue: map[string]string{"langs": ";"}}, hrsource.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := NewRunner(Deps{Source: src, Skills: client, Users: client, Store: st, BatchSize: e.batch}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// TestRunLostLockWritesNothingMore: mid-run, the session holding the run
// lock is terminated (pg_terminate_backend, as a PostgreSQL restart,
// failover or idle timeout would end it), and a second replica starts a
// sync at once and takes the lock. The first run notices before its next
// write batch: it writes nothing more to LivePerson and ends interrupted,
// "lost the run lock". In lpsim's request log the two runs' writes do not
// interleave, and the journal of the first run holds only what it sent
// while it held the lock.
func TestRunLostLockWritesNothingMore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, manyHR(6), teamConfig(), withBatch(2))
	second := e.replica(e.cfg)

	var (
		once     gosync.Once
		wg       gosync.WaitGroup
		res2     *Result
		err2     error
		writesAt int // lpsim's log length when the lock was lost
	)
	hook := &journalHook{Store: e.store}
	hook.afterSet = func(ups []store.OpUpdate) {
		if len(ups) == 0 || ups[0].State != store.OpDone {
			return
		}
		// The first create batch is done and registered: the lock's
		// session dies, and the other replica starts at once.
		once.Do(func() {
			terminateRunLock(t, e)
			writesAt = len(e.sim.Requests())
			wg.Go(func() { res2, err2 = second.RunOnce(ctx, store.ModeApply, store.TriggerSchedule) })
		})
	}
	res1, err1 := e.runnerWith(e.cfg, hook).RunOnce(ctx, store.ModeApply, store.TriggerSchedule)
	wg.Wait()
	if err1 != nil || err2 != nil {
		t.Fatalf("first run: %v; second run: %v", err1, err2)
	}
	if res1.Run.Outcome != store.OutcomeInterrupted || !strings.Contains(res1.Run.Error, "lost the run lock") || res1.Run.Counts.Create != 2 {
		t.Errorf("first run: %s, created %d, error %q; want interrupted after its first batch of 2, lost the run lock",
			res1.Run.Outcome, res1.Run.Counts.Create, res1.Run.Error)
	}
	if res2.Run.Outcome != store.OutcomeApplied || res2.Run.Counts.Create != 4 {
		t.Errorf("second run: %s, created %d (%s); want applied, the 4 skills left", res2.Run.Outcome, res2.Run.Counts.Create, res2.Run.Error)
	}

	// The journal: the first run has only its first batch, done; every
	// skill the second run wrote is in the second run's journal.
	_, ops1, err := e.store.GetRun(ctx, res1.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, op := range ops1 {
		states = append(states, op.Action+" "+op.SkillName+" "+string(op.State))
	}
	if want := []string{"create Team 0000 done", "create Team 0001 done"}; !slices.Equal(states, want) {
		t.Errorf("first run's journal %q, want %q", states, want)
	}
	_, ops2, err := e.store.GetRun(ctx, res2.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	ofSecond := map[int64]bool{}
	for _, op := range ops2 {
		if op.SkillID != nil && op.State == store.OpDone {
			ofSecond[*op.SkillID] = true
		}
	}

	// lpsim's log: after the lock was lost, every write is the second
	// run's, and the first run's writes all came before.
	var writes []string
	for i, r := range e.sim.Requests() {
		if r.Method == "GET" || !strings.HasPrefix(r.Path, skillsPath) {
			continue
		}
		for _, id := range r.IDs {
			if i >= writesAt && !ofSecond[id] {
				t.Errorf("write %s %s after the lock was lost touched skill %d, which is not the second run's", r.Method, r.Path, id)
			}
			if i < writesAt && ofSecond[id] {
				t.Errorf("the second run wrote skill %d before the first lost the lock", id)
			}
		}
		writes = append(writes, r.Method)
	}
	if len(writes) < 2 {
		t.Errorf("writes %v, want the first run's and the second's", writes)
	}
	names := map[string]int{}
	for _, s := range e.sim.Skills(true) {
		names[s["name"].(string)]++
	}
	for n, k := range names {
		if k != 1 {
			t.Errorf("%d skills named %q", k, n)
		}
	}
	if len(names) != 6 || len(e.ownedNames()) != 6 {
		t.Errorf("skills %v, owned %v; want the 6 teams once each, all owned", names, e.ownedNames())
	}
}

// terminateRunLock ends the session holding the run lock in e's database
// and waits (up to 10s) for it to be gone.
func terminateRunLock(t *testing.T, e *testEnv) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), e.dbURL)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(context.Background())
	var killed int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&killed); err != nil || killed != 1 {
		t.Errorf("terminate the run lock's session: %d terminated, %v", killed, err)
	}
}
