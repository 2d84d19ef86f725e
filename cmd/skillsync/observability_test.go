package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/skillsync/skillsync/store"
)

// TestMetricsAndDeployQueries runs the daemon through a refused run and an
// applied one, and checks the series an operator alerts on: the outcome
// series exist at 0 before their first run, skillsync_last_run_refused
// follows the last run (also across a restart, from the database), the
// build, LivePerson and HR series are there; that the JSON logs write
// durations as strings and the first line names the version; and that every
// metric the Grafana dashboard and the alert rules query is one skillsync
// exports (and every skillsync metric is on the dashboard or in an alert).
func TestMetricsAndDeployQueries(t *testing.T) {
	t.Parallel()
	// A notify sink, so that skillsync_notifications_total is exported as
	// the dashboard and the alerts expect of an installation that uses it.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	f := setup(t, "run_at_start: true\nnotify:\n  sinks:\n    - name: oncall\n      type: webhook\n      url: "+hook.URL+"/hook\n")
	full, err := os.ReadFile(f.hrPath)
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(full), "\n")
	// No records: the first run is refused (sync.min_records).
	writeFile(t, "", f.hrPath, header+"\n")

	d := f.startDaemon(&env{})
	if r := d.nextRun(); r.Run.Outcome != store.OutcomeRefused {
		t.Fatalf("first run %s, want refused", r.Run.Outcome)
	}
	m := scrape(t, d)
	m.want(t, "skillsync_last_run_refused", nil, 1)
	m.want(t, "skillsync_runs_total", labels("mode", "apply", "outcome", "refused"), 1)
	for _, mode := range store.Modes() {
		for _, outcome := range mode.Outcomes() {
			if outcome != store.OutcomeRefused || mode != store.ModeApply {
				m.want(t, "skillsync_runs_total", labels("mode", string(mode), "outcome", string(outcome)), 0)
			}
		}
	}
	b := currentBuild()
	m.want(t, "skillsync_build_info", labels("version", b.Version, "revision", b.Revision, "goversion", runtime.Version()), 1)
	m.wantCount(t, "skillsync_hr_read_duration_seconds", nil, 1)

	writeFile(t, "", f.hrPath, string(full))
	if code, body, _ := d.do("POST", "/v1/runs", testTriggerToken); code != 200 || !strings.Contains(body, `"outcome": "applied"`) {
		t.Fatalf("POST /v1/runs: %d %s", code, body)
	}
	m = scrape(t, d)
	m.want(t, "skillsync_last_run_refused", nil, 0)
	m.wantCount(t, "skillsync_hr_read_duration_seconds", nil, 2)
	if n := m.count(t, "skillsync_liveperson_request_duration_seconds", labels("endpoint", "skills", "method", "POST")); n != 1 {
		t.Errorf("skillsync_liveperson_request_duration_seconds{endpoint=skills,method=POST} counts %d requests, want the one create batch", n)
	}
	if n := m.count(t, "skillsync_liveperson_request_duration_seconds", labels("endpoint", "skills", "method", "GET")); n < 1 {
		t.Errorf("no skills read in skillsync_liveperson_request_duration_seconds")
	}

	t.Run("dashboard and alerts", func(t *testing.T) { checkDeployQueries(t, m) })

	if code := d.stop(); code != exitOK {
		t.Fatalf("daemon exit %d", code)
	}
	checkJSONLogs(t, d.stderr.String())

	// A refusal by another process (here `skillsync sync`) while this one
	// was down: the restarted daemon reports it before a run of its own,
	// and its outcome series start at 0, so that increase() sees the next.
	writeFile(t, "", f.hrPath, header+"\n")
	f.mustRun(exitRefused, "sync")
	writeFile(t, "", f.configPath, strings.Replace(mustRead(t, f.configPath), "run_at_start: true", "run_at_start: false", 1))
	d = f.startDaemon(&env{})
	m = scrape(t, d)
	m.want(t, "skillsync_last_run_refused", nil, 1)
	m.want(t, "skillsync_runs_total", labels("mode", "apply", "outcome", "refused"), 0)
}

// metricFamilies is a scrape of /metrics.
type metricFamilies map[string]*dto.MetricFamily

func scrape(t *testing.T, d *daemonHandle) metricFamilies {
	t.Helper()
	code, body, _ := d.do("GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return fams
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// find returns the series of family name whose labels are exactly want.
func (m metricFamilies) find(t *testing.T, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fam := m[name]
	if fam == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	for _, s := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range s.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if maps.Equal(got, want) || len(got) == 0 && len(want) == 0 {
			return s
		}
	}
	t.Fatalf("/metrics has no %s%v", name, want)
	return nil
}

func (m metricFamilies) want(t *testing.T, name string, lbls map[string]string, value float64) {
	t.Helper()
	s := m.find(t, name, lbls)
	var got float64
	switch {
	case s.GetCounter() != nil:
		got = s.GetCounter().GetValue()
	case s.GetGauge() != nil:
		got = s.GetGauge().GetValue()
	}
	if got != value {
		t.Errorf("%s%v = %v, want %v", name, lbls, got, value)
	}
}

func (m metricFamilies) count(t *testing.T, name string, lbls map[string]string) uint64 {
	t.Helper()
	return m.find(t, name, lbls).GetHistogram().GetSampleCount()
}

func (m metricFamilies) wantCount(t *testing.T, name string, lbls map[string]string, n uint64) {
	t.Helper()
	if got := m.count(t, name, lbls); got != n {
		t.Errorf("%s%v counts %d observations, want %d", name, lbls, got, n)
	}
}

// names are the series names the families export: a histogram's _bucket,
// _sum and _count, a summary's quantiles, _sum and _count.
func (m metricFamilies) names() map[string]bool {
	out := map[string]bool{}
	for name, fam := range m {
		switch fam.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name], out[name+"_sum"], out[name+"_count"] = true, true, true
		default:
			out[name] = true
		}
	}
	return out
}

// checkDeployQueries: every metric the dashboard and the alert rules query
// is exported; the rules are the README's; every skillsync metric is shown
// or alerted on.
func checkDeployQueries(t *testing.T, m metricFamilies) {
	exported := m.names()
	// up is Prometheus's own, about the scrape.
	exported["up"] = true

	dash := dashboardQueries(t, "../../deploy/grafana/skillsync.json")
	rules := alertExprs(t, "../../deploy/helm/skillsync/files/alerts.yaml")
	readme := readmeAlerts(t, "../../README.md")
	if !slices.Equal(slices.Sorted(slices.Values(readme)), slices.Sorted(slices.Values(rules))) {
		t.Errorf("the chart's alert rules are not the README's:\nREADME: %q\nrules:  %q", readme, rules)
	}
	used := map[string]bool{}
	for _, q := range append(dash, rules...) {
		names, err := promqlMetrics(q)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("query %q selects no metric", q)
		}
		for _, n := range names {
			used[n] = true
			if !exported[n] {
				t.Errorf("query %q uses %s, which skillsync does not export", q, n)
			}
		}
	}
	if len(dash) < 15 || len(rules) < 5 {
		t.Errorf("%d dashboard queries and %d alert rules read: the files were not read as meant", len(dash), len(rules))
	}
	for name, fam := range m {
		if !strings.HasPrefix(name, "skillsync_") {
			continue
		}
		shown := used[name]
		if fam.GetType() == dto.MetricType_HISTOGRAM {
			shown = used[name+"_bucket"] || used[name+"_count"]
		}
		if !shown {
			t.Errorf("%s is neither on the dashboard nor in an alert", name)
		}
	}
}

// dashboardQueries returns every PromQL query of a Grafana dashboard: its
// panels' targets (rows' panels included) and its label_values variables'
// selectors.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	var dash struct {
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(mustRead(t, path)), &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_]\w*\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		s, _ := q["query"].(string)
		sel := labelValues.FindStringSubmatch(s)
		if sel == nil {
			t.Errorf("%s: variable query %v is not label_values(SELECTOR, LABEL)", path, v.Query)
			continue
		}
		out = append(out, sel[1])
	}
	return out
}

type dashPanel struct {
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

// alertExprs returns the expressions of a Prometheus rule file.
func alertExprs(t *testing.T, path string) []string {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(mustRead(t, path)), &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("%s: a rule without alert name or expression: %+v", path, r)
			}
			out = append(out, strings.TrimSpace(r.Expr))
		}
	}
	return out
}

// readmeAlerts returns the expressions of the README's suggested alerts:
// the lines of its ```promql block that are not comments.
func readmeAlerts(t *testing.T, path string) []string {
	t.Helper()
	_, block, ok := strings.Cut(mustRead(t, path), "Suggested alerts")
	_, block, ok2 := strings.Cut(block, "```promql\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("%s: no ```promql block after \"Suggested alerts\"", path)
	}
	var out []string
	for _, line := range strings.Split(block, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// checkJSONLogs: the first line of `skillsync run` names the build, and
// every duration is written as a Go duration string.
func checkJSONLogs(t *testing.T, logs string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["msg"] != "skillsync starting" ||
		first["version"] != currentBuild().Version || first["go_version"] != runtime.Version() || first["revision"] == nil {
		t.Errorf("first log line %s (%v), want skillsync starting with the version", lines[0], err)
	}
	durations := 0
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not JSON: %s", line)
			continue
		}
		for k, v := range rec {
			if !strings.HasSuffix(k, "duration") && !strings.HasSuffix(k, "_timeout") {
				continue
			}
			durations++
			s, ok := v.(string)
			if _, err := time.ParseDuration(s); !ok || err != nil {
				t.Errorf("%s = %v (%T) in %s: want a duration such as \"1.5s\"", k, v, v, line)
			}
		}
	}
	if durations < 5 {
		t.Errorf("only %d durations in the logs:\n%s", durations, logs)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
