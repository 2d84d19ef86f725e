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
	runDuration    *prometheus.HistogramVec
	lastSuccess    *prometheus.GaugeVec
	lastRun        *prometheus.GaugeVec
	runInProgress  prometheus.Collector
	pendingDeletes *prometheus.GaugeVec
	lpRequests     *prometheus.CounterVec
	lpDuration     *prometheus.HistogramVec
	hrRecords      *prometheus.GaugeVec
	hrReadDuration *prometheus.HistogramVec
	lastRunRefused *prometheus.GaugeVec
	buildInfo      *prometheus.GaugeVec
	notifications  *prometheus.CounterVec

	// labelled: every series of a run carries the label account (a
	// configuration with accounts:); without accounts: the series are
	// those of one account, as before accounts.
	labelled bool

	// busy, set once the runner exists, says whether this process runs a
	// sync (skillsync_run_in_progress).
	busy func() bool
	// busyAccounts, with accounts:, says which accounts this process
	// runs (skillsync_run_in_progress{account}).
	busyAccounts func() map[string]bool
}

func newMetrics() *metrics { return newMetricsFor(nil) }

// newMetricsFor makes the metrics of accounts: with names (a
// configuration with accounts:), each run's series carry the label
// account, and every account's outcome series exist from the start.
func newMetricsFor(accounts []string) *metrics {
	labelled := len(accounts) > 0
	l := func(names ...string) []string {
		if labelled {
			return append(names, "account")
		}
		return names
	}
	m := &metrics{
		labelled: labelled,
		registry: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skillsync_runs_total",
			Help: "Runs by mode and outcome (no_changes, planned, applied, partial, refused, failed, interrupted).",
		}, l("mode", "outcome")),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skillsync_changes_total",
			Help: "Changes by action (create, update, delete, pending_delete, assign, unassign, failed) and phase (planned in plan runs, applied in apply runs).",
		}, l("action", "phase")),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "skillsync_run_duration_seconds",
			Help:    "Duration of finished runs.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 12),
		}, l()),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skillsync_last_success_timestamp_seconds",
			Help: "Unix time at which the last apply run ended applied or no_changes.",
		}, l()),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skillsync_last_run_timestamp_seconds",
			Help: "Unix time at which the last run of this process ended, whatever its outcome.",
		}, l()),
		// runInProgress is set below: it reads m.busy.
		pendingDeletes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skillsync_pending_deletes",
			Help: "Owned skills waiting out the delete grace after the last run.",
		}, l()),
		lpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skillsync_liveperson_requests_total",
			Help: "LivePerson API requests by endpoint template, method and status (0: transport error).",
		}, l("endpoint", "method", "status")),
		lpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "skillsync_liveperson_request_duration_seconds",
			Help: "Duration of LivePerson API requests (each attempt, whatever its status) by endpoint template and method.",
			// 5 ms to 41 s: liveperson.timeout defaults to 30s.
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, l("endpoint", "method")),
		hrRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skillsync_hr_records",
			Help: "Records read from the HR feed by the last run (state: all or active).",
		}, l("state")),
		hrReadDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "skillsync_hr_read_duration_seconds",
			Help: "Duration of HR feed reads (fetch, parse, map and validate), successful or not.",
			// 10 ms to 82 s: a local file is fast, an HR API may not be.
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, l()),
		lastRunRefused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skillsync_last_run_refused",
			Help: "1 when the last finished run (of any process, as recorded in the database) was refused by a guard, else 0.",
		}, l()),
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
	if labelled {
		m.runInProgress = runInProgressVec{m: m, desc: prometheus.NewDesc("skillsync_run_in_progress",
			"1 while this process runs a sync of the account.", []string{"account"}, nil)}
	}
	m.registry.MustRegister(m.runs, m.changes, m.runDuration, m.lastSuccess, m.lastRun, m.runInProgress,
		m.pendingDeletes, m.lpRequests, m.lpDuration, m.hrRecords, m.hrReadDuration, m.lastRunRefused, m.buildInfo, m.notifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	b := currentBuild()
	m.buildInfo.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
	// Every outcome series exists from the start, at 0: increase() sees
	// the first refusal (or failure) after a restart, which it would miss
	// if the series only appeared with its first sample, at 1.
	if !labelled {
		accounts = []string{""}
	}
	for _, acct := range accounts {
		for _, mode := range store.Modes() {
			for _, outcome := range mode.Outcomes() {
				m.runs.WithLabelValues(m.lv(acct, string(mode), string(outcome))...)
			}
		}
	}
	return m
}

// lv is the label values of a series of account acct: values, then the
// account when the series carry it.
func (m *metrics) lv(acct string, values ...string) []string {
	if m.labelled {
		return append(values, acct)
	}
	return values
}

// observeLP returns the LivePerson client's Options.Observe hook for the
// client of account acct.
func (m *metrics) observeLP(acct string) func(endpoint, method string, status int, elapsed time.Duration) {
	return func(endpoint, method string, status int, elapsed time.Duration) {
		m.lpRequests.WithLabelValues(m.lv(acct, endpoint, method, strconv.Itoa(status))...).Inc()
		m.lpDuration.WithLabelValues(m.lv(acct, endpoint, method)...).Observe(elapsed.Seconds())
	}
}

// observeHR records one HR feed read of account acct (snap nil: it failed).
func (m *metrics) observeHR(acct string, elapsed time.Duration, records, active int, ok bool) {
	m.hrReadDuration.WithLabelValues(m.lv(acct)...).Observe(elapsed.Seconds())
	if ok {
		m.hrRecords.WithLabelValues(m.lv(acct, "all")...).Set(float64(records))
		m.hrRecords.WithLabelValues(m.lv(acct, "active")...).Set(float64(active))
	}
}

// setLastSuccess sets account acct's last success time (Unix seconds).
func (m *metrics) setLastSuccess(acct string, unix int64) {
	m.lastSuccess.WithLabelValues(m.lv(acct)...).Set(float64(unix))
}

// observeRun records a finished run of account acct.
func (m *metrics) observeRun(acct string, r store.Run) {
	m.runs.WithLabelValues(m.lv(acct, string(r.Mode), string(r.Outcome))...).Inc()
	m.observeLastRun(acct, r)
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
			m.changes.WithLabelValues(m.lv(acct, action, phase)...).Add(float64(n))
		}
	}
	m.pendingDeletes.WithLabelValues(m.lv(acct)...).Set(float64(k.PendingDelete))
	if r.FinishedAt != nil {
		m.runDuration.WithLabelValues(m.lv(acct)...).Observe(r.FinishedAt.Sub(r.StartedAt).Seconds())
		m.lastRun.WithLabelValues(m.lv(acct)...).Set(float64(r.FinishedAt.Unix()))
		if r.Mode == store.ModeApply && (r.Outcome == store.OutcomeApplied || r.Outcome == store.OutcomeNoChanges) {
			m.setLastSuccess(acct, r.FinishedAt.Unix())
		}
	}
}

// observeLastRun sets skillsync_last_run_refused from the last finished
// run; a run still going changes nothing.
func (m *metrics) observeLastRun(acct string, r store.Run) {
	if r.Outcome == store.OutcomeRunning {
		return
	}
	refused := 0.0
	if r.Outcome == store.OutcomeRefused {
		refused = 1
	}
	m.lastRunRefused.WithLabelValues(m.lv(acct)...).Set(refused)
}

// runInProgressVec is skillsync_run_in_progress{account} with accounts:,
// read from the runners when scraped.
type runInProgressVec struct {
	m    *metrics
	desc *prometheus.Desc
}

func (v runInProgressVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v runInProgressVec) Collect(ch chan<- prometheus.Metric) {
	if v.m.busyAccounts == nil {
		return
	}
	for acct, busy := range v.m.busyAccounts() {
		val := 0.0
		if busy {
			val = 1
		}
		ch <- prometheus.MustNewConstMetric(v.desc, prometheus.GaugeValue, val, acct)
	}
}
