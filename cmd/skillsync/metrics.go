package main

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/skillsync/skillsync/store"
)

// metrics are the daemon's Prometheus series, on a registry of their own
// (not the global one) so that tests and the demo can make as many as they
// like.
type metrics struct {
	registry *prometheus.Registry

	runs           *prometheus.CounterVec
	changes        *prometheus.CounterVec
	runDuration    prometheus.Histogram
	lastSuccess    prometheus.Gauge
	lastRun        prometheus.Gauge
	runInProgress  prometheus.GaugeFunc
	pendingDeletes prometheus.Gauge
	lpRequests     *prometheus.CounterVec
	lpDuration     *prometheus.HistogramVec
	hrRecords      *prometheus.GaugeVec
	hrReadDuration prometheus.Histogram
	lastRunRefused prometheus.Gauge
	buildInfo      *prometheus.GaugeVec
	notifications  *prometheus.CounterVec

	// busy, set once the runner exists, says whether this process runs a
	// sync (skillsync_run_in_progress).
	busy func() bool
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skillsync_runs_total",
			Help: "Runs by mode and outcome (no_changes, planned, applied, partial, refused, failed, interrupted).",
		}, []string{"mode", "outcome"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skillsync_changes_total",
			Help: "Changes by action (create, update, delete, pending_delete, assign, unassign, failed) and phase (planned in plan runs, applied in apply runs).",
		}, []string{"action", "phase"}),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "skillsync_run_duration_seconds",
			Help:    "Duration of finished runs.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 12),
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skillsync_last_success_timestamp_seconds",
			Help: "Unix time at which the last apply run ended applied or no_changes.",
		}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skillsync_last_run_timestamp_seconds",
			Help: "Unix time at which the last run of this process ended, whatever its outcome.",
		}),
		// runInProgress is set below: it reads m.busy.
		pendingDeletes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skillsync_pending_deletes",
			Help: "Owned skills waiting out the delete grace after the last run.",
		}),
		lpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skillsync_liveperson_requests_total",
			Help: "LivePerson API requests by endpoint template, method and status (0: transport error).",
		}, []string{"endpoint", "method", "status"}),
		lpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "skillsync_liveperson_request_duration_seconds",
			Help: "Duration of LivePerson API requests (each attempt, whatever its status) by endpoint template and method.",
			// 5 ms to 41 s: liveperson.timeout defaults to 30s.
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"endpoint", "method"}),
		hrRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skillsync_hr_records",
			Help: "Records read from the HR feed by the last run (state: all or active).",
		}, []string{"state"}),
		hrReadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "skillsync_hr_read_duration_seconds",
			Help: "Duration of HR feed reads (fetch, parse, map and validate), successful or not.",
			// 10 ms to 82 s: a local file is fast, an HR API may not be.
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		lastRunRefused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skillsync_last_run_refused",
			Help: "1 when the last finished run (of any process, as recorded in the database) was refused by a guard, else 0.",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skillsync_build_info",
			Help: "Always 1; the labels say which skillsync runs (as 'skillsync version' prints it).",
		}, []string{"version", "revision", "goversion"}),
		notifications: newNotificationsCounter(),
	}
	m.runInProgress = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "skillsync_run_in_progress",
		Help: "1 while this process runs a sync.",
	}, func() float64 {
		if m.busy != nil && m.busy() {
			return 1
		}
		return 0
	})
	m.registry.MustRegister(m.runs, m.changes, m.runDuration, m.lastSuccess, m.lastRun, m.runInProgress,
		m.pendingDeletes, m.lpRequests, m.lpDuration, m.hrRecords, m.hrReadDuration, m.lastRunRefused, m.buildInfo, m.notifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	b := currentBuild()
	m.buildInfo.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
	// Every outcome series exists from the start, at 0: increase() sees
	// the first refusal (or failure) after a restart, which it would miss
	// if the series only appeared with its first sample, at 1.
	for _, mode := range store.Modes() {
		for _, outcome := range mode.Outcomes() {
			m.runs.WithLabelValues(string(mode), string(outcome))
		}
	}
	return m
}

// observeLP is the LivePerson client's Options.Observe hook.
func (m *metrics) observeLP(endpoint, method string, status int, elapsed time.Duration) {
	m.lpRequests.WithLabelValues(endpoint, method, strconv.Itoa(status)).Inc()
	m.lpDuration.WithLabelValues(endpoint, method).Observe(elapsed.Seconds())
}

// observeRun records a finished run.
func (m *metrics) observeRun(r store.Run) {
	m.runs.WithLabelValues(string(r.Mode), string(r.Outcome)).Inc()
	m.observeLastRun(r)
	phase := "planned"
	if r.Mode == store.ModeApply {
		phase = "applied"
	}
	k := r.Counts
	for action, n := range map[string]int{
		"create": k.Create, "update": k.Update, "delete": k.Delete, "pending_delete": k.PendingDelete,
		"assign": k.Assign, "unassign": k.Unassign, "failed": k.Failed,
	} {
		if n > 0 {
			m.changes.WithLabelValues(action, phase).Add(float64(n))
		}
	}
	m.pendingDeletes.Set(float64(k.PendingDelete))
	if r.FinishedAt != nil {
		m.runDuration.Observe(r.FinishedAt.Sub(r.StartedAt).Seconds())
		m.lastRun.Set(float64(r.FinishedAt.Unix()))
		if r.Mode == store.ModeApply && (r.Outcome == store.OutcomeApplied || r.Outcome == store.OutcomeNoChanges) {
			m.lastSuccess.Set(float64(r.FinishedAt.Unix()))
		}
	}
}

// observeLastRun sets skillsync_last_run_refused from the last finished
// run; a run still going changes nothing.
func (m *metrics) observeLastRun(r store.Run) {
	if r.Outcome == store.OutcomeRunning {
		return
	}
	refused := 0.0
	if r.Outcome == store.OutcomeRefused {
		refused = 1
	}
	m.lastRunRefused.Set(refused)
}
