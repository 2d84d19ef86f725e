package main

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	gosync "sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/internal/authlimit"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// asOfContext carries the day of plan --as-of ("" leaves ctx as it is).
func asOfContext(ctx context.Context, asOf string) (context.Context, error) {
	if asOf == "" {
		return ctx, nil
	}
	d, err := hrsource.ParseDay(asOf)
	if err != nil {
		return nil, fmt.Errorf("--as-of: %w", err)
	}
	return sync.WithAsOf(ctx, d), nil
}

// POST /v1/hr-events: an HR system (a Workday business-process
// notification, a BambooHR webhook) says something changed; skillsync
// runs hr.event_debounce after the last event of a burst, instead of at
// the next scheduled run. The schedule keeps running as the safety net.
const (
	// maxHREventBody caps a request body: the event is only a nudge, its
	// content is never read beyond the signature.
	maxHREventBody = 64 << 10
	// signatureHeader carries sha256=<hex HMAC-SHA256 of the body> keyed
	// with hr.webhook_secret.
	signatureHeader = "X-Skillsync-Signature"
	// busyRetry is how soon a debounced run is tried again when another
	// run (scheduled, or POST /v1/runs) holds the run slot, and the first
	// wait when another process holds the run lock; that wait doubles up
	// to lockedRetryMax, so that a long run of another replica costs a
	// few tries (each reads the database), not two a second.
	busyRetry      = 500 * time.Millisecond
	lockedRetryMax = 5 * time.Second
	// maxEventDelay bounds the debounce under a steady stream of events
	// (a busy HR day, a bulk import posting one event per worker): a run
	// starts at the latest this many debounces after the first event no
	// run has covered yet.
	maxEventDelay = 10
	// maxWaitingEvents bounds the event times kept for the histogram; in
	// a flood, later events are counted with the last time kept (their
	// latency is then overstated, never understated).
	maxWaitingEvents = 1024
)

// eventTimes are n events, the first of them at at.
type eventTimes struct {
	at time.Time
	n  int
}

// hrEvents debounces HR events into runs. It owns one timer; the runs it
// starts are tracked by the daemon's WaitGroup, so shutdown waits for them.
type hrEvents struct {
	d *daemon
	// app is the account whose runs the events start; with several
	// accounts each has its debouncer (others), all told of every event.
	app      *app
	others   []*hrEvents
	debounce time.Duration
	latency  prometheus.Histogram

	mu    gosync.Mutex
	timer *time.Timer
	due   time.Time
	// waiting are the times of the events no run has started for yet
	// (at most maxWaitingEvents entries).
	waiting []eventTimes
	running bool
	// retry is the wait before the next try while another process holds
	// the run lock (0: not waiting for it).
	retry time.Duration
	// stopped is set by stop: no run starts after it.
	stopped bool
	// lastEvent is the time of the last event; lastEnd the end of the
	// last run for events.
	lastEvent, lastEnd time.Time
}

// newHREvents makes the debouncer of the first account, with one for each
// other account (others), and registers the histogram.
func newHREvents(d *daemon) *hrEvents {
	h := newHREventsFor(d, d.app)
	for _, a := range d.accountApps()[1:] {
		h.others = append(h.others, newHREventsFor(d, a))
	}
	return h
}

// newHREventsFor makes the debouncer of a's account.
func newHREventsFor(d *daemon, a *app) *hrEvents {
	h := &hrEvents{d: d, app: a, debounce: cmp.Or(a.acct.HR.EventDebounce, d.app.cfg.HR.EventDebounce, hrsource.DefaultEventDebounce)}
	h.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "skillsync_hr_event_to_applied_seconds",
		Help:    "Time from an HR event (POST /v1/hr-events) to the end of the apply run that covered it, for runs that applied (or found nothing to do).",
		Buckets: []float64{0.5, 1, 2, 3, 5, 10, 15, 30, 60, 120, 300, 900, 3600},
	})
	if err := d.app.metrics.registry.Register(h.latency); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			h.latency = are.ExistingCollector.(prometheus.Histogram)
		}
	}
	return h
}

// hrEventView is the answer of POST /v1/hr-events.
type hrEventView struct {
	Status string     `json:"status"`
	RunAt  *time.Time `json:"run_at,omitempty"`
	// AfterRun is set when a run is under way: the run asked for follows it.
	AfterRun bool   `json:"after_run,omitempty"`
	Error    string `json:"error,omitempty"`
}

// serve is POST /v1/hr-events.
func (h *hrEvents) serve(w http.ResponseWriter, r *http.Request) {
	token, secret := h.d.app.cfg.Server.TriggerToken, h.d.app.cfg.HR.WebhookSecret
	if token == "" && secret == "" {
		http.NotFound(w, r) // disabled, like POST /v1/runs
		return
	}
	if wait := h.d.guesses.Wait(r); wait > 0 {
		w.Header().Set("Retry-After", authlimit.RetryAfter(wait))
		respond(w, http.StatusTooManyRequests, hrEventView{Status: "too_many_attempts", Error: tooManyAttempts(wait)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHREventBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			respond(w, http.StatusRequestEntityTooLarge, hrEventView{Status: "too_large", Error: fmt.Sprintf("the body is over %d bytes", maxHREventBody)})
			return
		}
		respond(w, http.StatusBadRequest, hrEventView{Status: "bad_request", Error: "the body could not be read"})
		return
	}
	if !authenticHREvent(r.Header, body, token, secret) {
		h.d.failedCredentials(r)
		w.Header().Set("WWW-Authenticate", `Bearer realm="skillsync"`)
		respond(w, http.StatusUnauthorized, hrEventView{Status: "unauthorized",
			Error: "send Authorization: Bearer <server.trigger_token>, or " + signatureHeader + ": sha256=<hex HMAC-SHA256 of the body with hr.webhook_secret>"})
		return
	}
	h.d.guesses.Succeeded(r)
	select {
	case <-h.d.shutdown:
		respond(w, http.StatusServiceUnavailable, hrEventView{Status: "shutting_down", Error: "the daemon is shutting down"})
		return
	default:
	}
	now := time.Now()
	at, afterRun := h.event(now)
	// Every account hears of it (they may all read this feed); the
	// answer is the first account's.
	for _, o := range h.others {
		o.event(now)
	}
	respond(w, http.StatusAccepted, hrEventView{Status: "scheduled", RunAt: &at, AfterRun: afterRun})
}

// authenticHREvent accepts the bearer trigger token or a valid signature
// of body, both compared in constant time.
func authenticHREvent(hdr http.Header, body []byte, token, secret string) bool {
	if given, ok := strings.CutPrefix(hdr.Get("Authorization"), "Bearer "); ok && token != "" &&
		subtle.ConstantTimeCompare([]byte(given), []byte(token)) == 1 {
		return true
	}
	sig, ok := strings.CutPrefix(hdr.Get(signatureHeader), "sha256=")
	if !ok || secret == "" {
		return false
	}
	given, err := hex.DecodeString(strings.TrimSpace(sig))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(given, mac.Sum(nil))
}

// event records an HR event at now and returns when its run starts, and
// whether it waits for a run under way.
func (h *hrEvents) event(now time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.waiting); n >= maxWaitingEvents {
		h.waiting[n-1].n++
	} else {
		h.waiting = append(h.waiting, eventTimes{at: now, n: 1})
	}
	h.lastEvent = now
	h.setDue()
	if h.running {
		// The run under way may have read HR before this event: one
		// follow-up run, planned when it ends.
		return h.due, true
	}
	h.arm(max(h.due.Sub(now), 0))
	return h.due, false
}

// setDue sets when the run for the waiting events starts: a debounce
// after the last event, and at the latest maxEventDelay debounces after
// the first of them, or after the end of the last run if that is later
// (so that a flood of events, a replayed signed request say, makes runs
// at least that far apart). h.mu is held; h.waiting is not empty.
func (h *hrEvents) setDue() {
	h.due = h.lastEvent.Add(h.debounce)
	anchor := h.waiting[0].at
	if h.lastEnd.After(anchor) {
		anchor = h.lastEnd
	}
	if latest := anchor.Add(maxEventDelay * h.debounce); h.due.After(latest) {
		h.due = latest
	}
}

// arm (re)starts the timer; h.mu is held.
func (h *hrEvents) arm(after time.Duration) {
	if h.timer == nil {
		h.timer = time.AfterFunc(after, h.fire)
		return
	}
	h.timer.Reset(after)
}

// fire starts the debounced run.
func (h *hrEvents) fire() {
	select {
	case <-h.d.shutdown:
		return
	default:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped || h.running || len(h.waiting) == 0 {
		return
	}
	if wait := time.Until(h.due); wait > 0 && h.retry == 0 {
		h.arm(wait) // an event came in as the timer fired
		return
	}
	claim, ok := h.app.runner.TryClaim()
	if !ok {
		// Another run holds the slot; it may have read HR before the
		// events: try again once it is done.
		h.arm(busyRetry)
		return
	}
	events := h.waiting
	h.waiting, h.running = nil, true
	// Under h.mu: stop, which the daemon calls before it waits for its
	// runs, cannot come between the check of stopped and this.
	h.d.runs.Go(func() { h.run(claim, events) })
}

// run is one apply run for events; the slot is claimed.
func (h *hrEvents) run(claim *sync.Claim, events []eventTimes) {
	n := 0
	for _, e := range events {
		n += e.n
	}
	h.mu.Lock()
	retrying := h.retry > 0
	h.mu.Unlock()
	if !retrying {
		h.app.log.Info("run for HR events", "events", n, "first_event", events[0].at)
	}
	// One event reaches every account: their runs share daemon.concurrency
	// with the scheduled ticks, or twelve accounts' runs at once would pin
	// their lock connections and starve the pool. At shutdown the claim is
	// used anyway, and the runner refuses to start the run.
	select {
	case h.d.slots <- struct{}{}:
		defer func() { <-h.d.slots }()
	case <-h.d.shutdown:
	}
	res, err := h.app.runClaimed(h.d.runCtx, claim, store.ModeApply, store.TriggerAPI)
	if err == nil && res != nil && (res.Run.Outcome == store.OutcomeApplied || res.Run.Outcome == store.OutcomeNoChanges) {
		end := time.Now()
		for _, e := range events {
			for range e.n {
				h.latency.Observe(end.Sub(e.at).Seconds())
			}
		}
	}
	h.ended(err, retrying, events, n)
}

// ended settles a run for events (n events in all) that ended with err;
// retrying says it was a retry while another process held the run lock.
func (h *hrEvents) ended(err error, retrying bool, events []eventTimes, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = false
	if errors.Is(err, sync.ErrRunInProgress) {
		// Another replica holds the run lock: its run may have read HR
		// before the events. They wait for the next try, sooner at
		// first, then less often.
		if !retrying {
			h.app.log.Info("run for HR events waits: another process holds the run lock", "events", n)
		}
		h.retry = min(max(2*h.retry, busyRetry), lockedRetryMax)
		h.waiting = append(events, h.waiting...)
		if len(h.waiting) > maxWaitingEvents {
			for _, e := range h.waiting[maxWaitingEvents:] {
				h.waiting[maxWaitingEvents-1].n += e.n
			}
			h.waiting = h.waiting[:maxWaitingEvents]
		}
		h.arm(h.retry)
		return
	}
	h.retry = 0
	h.lastEnd = time.Now()
	if len(h.waiting) > 0 {
		// Events came in during the run: exactly one follow-up run, a
		// debounce after the last of them.
		h.setDue()
		h.arm(max(time.Until(h.due), 0))
	}
}

// stop stops the timer (shutdown); a run already started is the daemon's
// to wait for.
func (h *hrEvents) stop() {
	for _, o := range h.others {
		o.stop()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	if h.timer != nil {
		h.timer.Stop()
	}
}
