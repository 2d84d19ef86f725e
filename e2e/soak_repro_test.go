package e2e

import (
	"net/http"
	"net/http/httptest"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson/lpsim"
)

// TestLostCreateSettledFromLaggingList is the smallest reproduction of a
// defect the chaos soak found (seed 673): a sync dies after LivePerson
// applied its create batch, so the batch's journal rows stay sent; HR then
// drops those teams; the next sync's skill list lags behind the create, and
// the sync settles the rows as "the create did not happen". The skills,
// which do exist, are then nobody's for good: never taken over, never
// deleted. Fixed: such a create is settled as not made only from a list
// read at a revision later than the one it was sent under.
func TestLostCreateSettledFromLaggingList(t *testing.T) {
	t.Parallel()
	first := staff(2, 1, 1)
	f := setup(t, options{people: first})

	// The first sync dies with its create batch applied and unanswered.
	var p *proc
	var mu gosync.Mutex
	killed := false
	started := make(chan struct{})
	f.lp.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		mu.Lock()
		kill := r.Method == http.MethodPost && r.URL.Path == skillsPath && !killed
		killed = killed || kill
		mu.Unlock()
		if kill {
			<-started
			next.ServeHTTP(httptest.NewRecorder(), r)
			p.kill()
			panic(http.ErrAbortHandler)
		}
		next.ServeHTTP(w, r)
	})
	p = f.start("sync")
	close(started)
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the first sync was not killed at its create")
	}
	f.lp.Intercept(nil)
	if n := len(f.sim.Skills(false)); n != 2 {
		t.Fatalf("%d skills after the killed sync, want its 2\n%s", n, p.stderr.String())
	}

	// HR drops both teams; the next sync's first skill list lags one
	// change (the create) behind.
	next := staff(4, 1, 1)[2:]
	f.writeHR(next)
	f.sim.InjectFault(lpsim.Fault{Method: http.MethodGet, PathPrefix: skillsPath, Lag: 1})
	f.mustRun(exitOK, "sync")
	f.mustRun(exitOK, "sync")
	f.mustRun(exitOK, "sync")
	// The killed sync's skills are skillsync's: taken over and deleted
	// (delete_after_runs 1), nothing else left.
	f.checkConverged(next, nil)
}
