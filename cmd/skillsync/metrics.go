package main

import (
	"strconv"

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
	runInProgress  prometheus.Gauge
	pendingDeletes prometheus.Gauge
	lpRequests     *prometheus.CounterVec
	hrRecords      *prometheus.GaugeVec
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
		runInProgress: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skillsync_run_in_progress",
			Help: "1 while this process runs a sync.",
		}),
		pendingDeletes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skillsync_pending_deletes",
			Help: "Owned skills waiting out the delete grace after the last run.",
		}),
		lpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skillsync_liveperson_requests_total",
			Help: "LivePerson API requests by endpoint template, method and status (0: transport error).",
		}, []string{"endpoint", "method", "status"}),
		hrRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skillsync_hr_records",
			Help: "Records read from the HR feed by the last run (state: all or active).",
		}, []string{"state"}),
	}
	m.registry.MustRegister(m.runs, m.changes, m.runDuration, m.lastSuccess, m.lastRun, m.runInProgress,
		m.pendingDeletes, m.lpRequests, m.hrRecords,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeLP is the LivePerson client's Options.Observe hook.
func (m *metrics) observeLP(endpoint, method string, status int) {
	m.lpRequests.WithLabelValues(endpoint, method, strconv.Itoa(status)).Inc()
}

// observeRun records a finished run.
func (m *metrics) observeRun(r store.Run) {
	m.runs.WithLabelValues(string(r.Mode), string(r.Outcome)).Inc()
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
