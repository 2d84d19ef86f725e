package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// handler serves the daemon's endpoints.
func (d *daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.HandleFunc("GET /status", d.status)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.app.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/runs", d.trigger)
	d.hrEvents = newHREvents(d)
	mux.HandleFunc("POST /v1/hr-events", d.hrEvents.serve)
	mux.HandleFunc("POST /v1/runs/{id}/apply", d.applyPlan)
	// The web console's pages (404 when it is off).
	d.newConsole().Mount(mux)
	return mux
}

// readyz answers 200 while the database answers, 503 with the reason
// otherwise: a replica that cannot record runs should not be counted on.
func (d *daemon) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := d.app.store.Ping(ctx); err != nil {
		// The answer goes to whoever can reach the port: the database's
		// host, name and user go to the log only.
		d.log.Warn("readyz: database unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: database unreachable (the log says why)\n"))
		return
	}
	select {
	case <-d.shutdown:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: shutting down\n"))
		return
	default:
	}
	_, _ = w.Write([]byte("ok\n"))
}

// statusView is the JSON of GET /status.
type statusView struct {
	RunInProgress  bool          `json:"run_in_progress"`
	Schedule       string        `json:"schedule"`
	Timezone       string        `json:"timezone"`
	NextRun        *time.Time    `json:"next_run"`
	LastRun        *runView      `json:"last_run"`
	LastSuccess    *time.Time    `json:"last_success"`
	LastSuccessRun *int64        `json:"last_success_run,omitempty"`
	Guard          *guardView    `json:"guard,omitempty"`
	PendingDeletes []pendingView `json:"pending_deletes"`
	// Accounts is the state of every account (design §7.1); the keys
	// above are the first account's (the only one without accounts:).
	Accounts []accountStatusView `json:"accounts"`
}

// accountStatusView is one account in GET /status.
type accountStatusView struct {
	Name           string        `json:"name"`
	AccountID      string        `json:"account_id"`
	LastRun        *runView      `json:"last_run"`
	LastSuccess    *time.Time    `json:"last_success"`
	NextRun        *time.Time    `json:"next_run"`
	Guard          *guardView    `json:"guard"`
	PendingDeletes []pendingView `json:"pending_deletes"`

	runInProgress  bool
	lastSuccessRun *int64
}

// guardView explains the last run's refusal by a guard.
type guardView struct {
	Refused bool   `json:"refused"`
	Reason  string `json:"reason,omitempty"`
	RunID   int64  `json:"run_id"`
}

type pendingView struct {
	SkillID         int64     `json:"skill_id"`
	Skill           string    `json:"skill"`
	MissingRuns     int       `json:"missing_runs"`
	FirstMissingRun int64     `json:"first_missing_run"`
	Since           time.Time `json:"updated_at"`
}

func (d *daemon) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := statusView{
		Schedule: d.app.cfg.Schedule,
		Timezone: d.app.cfg.Timezone,
		Accounts: []accountStatusView{},
	}
	for i, a := range d.accountApps() {
		av, what, err := d.accountStatus(ctx, a)
		if err != nil {
			d.serverError(w, what, err)
			return
		}
		v.Accounts = append(v.Accounts, av)
		v.RunInProgress = v.RunInProgress || av.runInProgress
		if i == 0 {
			v.NextRun, v.LastRun, v.LastSuccess, v.LastSuccessRun, v.Guard, v.PendingDeletes =
				av.NextRun, av.LastRun, av.LastSuccess, av.lastSuccessRun, av.Guard, av.PendingDeletes
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = writeJSON(w, v)
}

// accountStatus reads one account's part of /status; on error it says
// what it was reading.
func (d *daemon) accountStatus(ctx context.Context, a *app) (accountStatusView, string, error) {
	v := accountStatusView{Name: a.acct.Name, AccountID: a.acct.ID(), PendingDeletes: []pendingView{}, runInProgress: a.busy()}
	if next := d.nextRunOf(a); !next.IsZero() {
		v.NextRun = &next
	}
	last, err := a.store.LastRun(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return v, "read last run", err
	}
	if err == nil && last != nil {
		last.Error = a.redact(last.Error)
		rv := newRunView(*last)
		v.LastRun = &rv
		if last.Outcome == store.OutcomeRunning {
			v.runInProgress = true
		}
		if last.Outcome == store.OutcomeRefused {
			v.Guard = &guardView{Refused: true, Reason: last.Error, RunID: last.ID}
		}
	}
	ok, err := a.store.LastSuccess(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return v, "read last success", err
	}
	if err == nil && ok != nil {
		v.LastSuccess, v.lastSuccessRun = ok.FinishedAt, &ok.ID
	}
	pending, err := a.store.PendingDeletes(ctx)
	if err != nil {
		return v, "read pending deletes", err
	}
	for _, p := range pending {
		v.PendingDeletes = append(v.PendingDeletes, pendingView{SkillID: p.SkillID, Skill: p.SkillName,
			MissingRuns: p.ConsecutiveMissingRuns, FirstMissingRun: p.FirstMissingRun, Since: p.UpdatedAt})
	}
	return v, "", nil
}

// serverError answers 500 for /status. Like /readyz's, the answer goes to
// whoever can reach the port: the error, which may name the database's
// host, name and user, goes to the log only.
func (d *daemon) serverError(w http.ResponseWriter, what string, err error) {
	d.log.Error("status: "+what, "err", err)
	http.Error(w, what+": the database did not answer (the log says why)", http.StatusInternalServerError)
}

// triggerView is the JSON answer of POST /v1/runs.
type triggerView struct {
	Status string   `json:"status"`
	Run    *runView `json:"run,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// trigger is POST /v1/runs[?mode=plan|apply][&wait=false][&account=NAME]:
// one run through the same runner (and so the same guard and lock) as the
// scheduled ones. With several accounts, account is required.
func (d *daemon) trigger(w http.ResponseWriter, r *http.Request) {
	if !d.authorized(w, r) {
		return
	}
	var mode store.Mode
	switch q := r.URL.Query().Get("mode"); q {
	case "", "apply":
		mode = store.ModeApply
	case "plan":
		mode = store.ModePlan
	default:
		respond(w, http.StatusBadRequest, triggerView{Status: "bad_request", Error: "mode must be plan or apply"})
		return
	}
	wait := r.URL.Query().Get("wait") != "false"
	a, problem := d.appNamed(r.URL.Query().Get("account"))
	if a == nil {
		respond(w, http.StatusBadRequest, triggerView{Status: "bad_request", Error: problem})
		return
	}
	select {
	case <-d.shutdown:
		respond(w, http.StatusServiceUnavailable, triggerView{Status: "shutting_down", Error: "the daemon is shutting down"})
		return
	default:
	}
	claim, ok := a.runner.TryClaim()
	if !ok {
		respond(w, http.StatusConflict, triggerView{Status: "run_in_progress", Error: sync.ErrRunInProgress.Error()})
		return
	}
	if !wait {
		d.runs.Go(func() { _, _ = a.runClaimed(d.runCtx, claim, mode, store.TriggerAPI) })
		respond(w, http.StatusAccepted, triggerView{Status: "started"})
		return
	}
	// The answer waits for the run, which may outlast the server's read
	// and write timeouts: this authenticated request lifts its own
	// deadlines (the daemon's shutdown still bounds it). The read
	// deadline matters too: the server keeps reading to notice a client
	// that went away, and a read timing out would end the request.
	rc := http.NewResponseController(w)
	if err := errors.Join(rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{})); err != nil {
		d.log.Warn("POST /v1/runs: could not lift the server's deadlines; a long run may cut the answer", "err", err)
	}
	res, err := a.runClaimed(d.runCtx, claim, mode, store.TriggerAPI)
	var rv *runView
	if res != nil {
		v := newRunView(res.Run)
		v.Error = d.app.redact(v.Error)
		rv = &v
	}
	switch {
	case errors.Is(err, sync.ErrRunInProgress):
		respond(w, http.StatusConflict, triggerView{Status: "run_in_progress", Error: err.Error()})
	case err != nil && rv == nil:
		respond(w, http.StatusInternalServerError, triggerView{Status: "error", Error: d.app.redact(err.Error())})
	default:
		respond(w, http.StatusOK, triggerView{Status: "finished", Run: rv})
	}
}

func respond(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = writeJSON(w, v)
}
