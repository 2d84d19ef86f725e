package sync

import (
	"context"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// TestRunLostLockDuringRetryWait: the lock is confirmed before a write
// batch, then LivePerson answers it 429 (or 503) and the client waits to
// try again; the lock's session dies during that wait (a failover, an idle
// timeout). The retry must not go out: the lock is confirmed before every
// attempt of a write, not only before the first, since another replica may
// have taken the lock and be writing by then (a Retry-After can be two
// minutes). The run writes nothing more and ends interrupted.
func TestRunLostLockDuringRetryWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string
		first  bool // the fault hits the first run (creates); else the second (updates)
		fault  lpsim.Fault
	}{
		{"create answered 429", "POST", true, lpsim.Fault{Method: "POST", PathPrefix: skillsPath, Status: 429, RetryAfter: "1"}},
		{"update answered 503", "PUT", false, lpsim.Fault{Method: "PUT", PathPrefix: skillsPath, Status: 503}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setup(t, manyHR(2), teamConfig())
			var (
				mu       gosync.Mutex
				armed    bool
				killed   bool
				writesAt int
			)
			client, err := liveperson.New(liveperson.Config{
				AccountID: testAccount, DomainAPIURL: e.srv.URL(), BatchSize: e.batch,
				Auth: liveperson.AuthConfig{Method: "oauth2", ClientID: "skillsync", ClientSecret: "s3cret"},
			}, liveperson.Options{HTTPClient: e.srv.Client(), Delay: func(time.Duration) time.Duration {
				// The client decided to wait before trying the write
				// again: the lock's session dies now.
				mu.Lock()
				defer mu.Unlock()
				if armed && !killed {
					killed = true
					terminateRunLock(t, e)
					writesAt = e.sim.Count(tc.method, skillsPath)
				}
				return time.Millisecond
			}})
			if err != nil {
				t.Fatal(err)
			}
			e.skills = &hookSkills{SkillsAPI: client}
			e.users = client
			if !tc.first {
				e.run(e.runner(e.cfg), store.ModeApply)
				e.cfg.Skills.Defaults.MaxWaitTime = ptr(60)
			}
			mu.Lock()
			armed = true
			mu.Unlock()
			e.sim.InjectFault(tc.fault)
			res, err := e.runner(e.cfg).RunOnce(ctx, store.ModeApply, store.TriggerManual)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !killed {
				t.Fatal("the client never waited to retry: the fault did not fire")
			}
			if n := e.sim.Count(tc.method, skillsPath); n != writesAt {
				t.Errorf("%d %s requests after the run lock was lost, want none", n-writesAt, tc.method)
			}
			if res.Run.Outcome != store.OutcomeInterrupted || !strings.Contains(res.Run.Error, "lost the run lock") {
				t.Errorf("run %s, error %q; want interrupted, lost the run lock", res.Run.Outcome, res.Run.Error)
			}
		})
	}
}
