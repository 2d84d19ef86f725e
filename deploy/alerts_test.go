package deploy

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// alertRules reads files/alerts.yaml: alert name → expression.
func alertRules(t *testing.T) map[string]string {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(chartDir, "files/alerts.yaml")), &file); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out
}

// TestAlertsSelectSkillsyncOnly: a metric every exporter has (up,
// process_*, go_*) is selected with job="skillsync" in every alert;
// otherwise the node exporter's hours-old process_start_time_seconds makes
// "never succeeded" fire on a new installation whose first run has not
// ended yet (run_at_start false, or a long first run).
func TestAlertsSelectSkillsyncOnly(t *testing.T) {
	t.Parallel()
	shared := regexp.MustCompile(`\b(up|process_[a-z_]+|go_[a-z_]+)\b(\{[^}]*\})?`)
	for name, expr := range alertRules(t) {
		for _, m := range shared.FindAllStringSubmatch(expr, -1) {
			if !strings.Contains(m[2], `job="skillsync"`) {
				t.Errorf("alert %s selects %s of every job: add {job=\"skillsync\"}: %s", name, m[1], expr)
			}
		}
	}
}

// TestAlertsRunsFailingCountsAllRuns: "at least two runs failed or
// applied only partly" counts runs across outcomes and replicas; compared
// series by series, a failed run followed by a partial one (LivePerson
// down, then half back), or one failure on each of two replicas, never
// fires.
func TestAlertsRunsFailingCountsAllRuns(t *testing.T) {
	t.Parallel()
	expr := alertRules(t)["SkillsyncRunsFailing"]
	if !regexp.MustCompile(`^sum\b[^(]*(\([^()]*\))?\s*\(\s*increase\(`).MatchString(expr) {
		t.Errorf("SkillsyncRunsFailing compares each series with the threshold, not their sum: %s", expr)
	}
}

// TestChartAlertsFollowTheJobName: the alerts select the job the chart's
// ServiceMonitor names, also when nameOverride renames it; otherwise
// SkillsyncDown and SkillsyncNeverSucceeded never fire.
func TestChartAlertsFollowTheJobName(t *testing.T) {
	t.Parallel()
	r := mustRender(t, map[string]any{
		"nameOverride":   "hr-skills",
		"serviceMonitor": map[string]any{"enabled": true},
		"prometheusRule": map[string]any{"enabled": true},
	})
	jobLabel, _ := get(r.serviceMonitor, "spec", "jobLabel").(string)
	job := r.service.Labels[jobLabel]
	if job != "hr-skills" {
		t.Fatalf("the ServiceMonitor names the job %q", job)
	}
	groups, _ := get(r.prometheusRule, "spec", "groups").([]any)
	n := 0
	for _, g := range groups {
		rules, _ := get(g, "rules").([]any)
		for _, rule := range rules {
			expr, _ := get(rule, "expr").(string)
			for _, m := range regexp.MustCompile(`job="([^"]*)"`).FindAllStringSubmatch(expr, -1) {
				n++
				if m[1] != job {
					t.Errorf("alert %v selects job=%q; the ServiceMonitor names the job %q", get(rule, "alert"), m[1], job)
				}
			}
		}
	}
	if n == 0 {
		t.Errorf("no alert selects a job")
	}
}

// TestChartSecretFilesVolumeNames: a Secret's name may hold dots, a
// volume's may not (a DNS-1123 label, at most 63 characters): the
// Deployment must still be valid.
func TestChartSecretFilesVolumeNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", 60) + ".lp"
	r := mustRender(t, map[string]any{
		"secretFiles": []any{map[string]any{"secretName": "skillsync.lp"}, map[string]any{"secretName": long}},
	})
	pod := r.deployment.Spec.Template.Spec
	for _, v := range pod.Volumes {
		if errs := validation.IsDNS1123Label(v.Name); len(errs) > 0 {
			t.Errorf("volume %q: %v", v.Name, errs)
		}
	}
	for _, name := range []string{"skillsync.lp", long} {
		if !mounts(pod, pod.Containers[0], "/run/secrets/"+name, func(v corev1.Volume) bool {
			return v.Secret != nil && v.Secret.SecretName == name
		}) {
			t.Errorf("the Secret %s is not mounted at /run/secrets/%s", name, name)
		}
	}
}

// TestChartRefusesLiteralURLCredential: hr.url's query values named like
// a credential (?api_key=, ?access_token=) are secrets to skillsync, which
// hides them everywhere: written literally they would sit in the
// ConfigMap, readable by whoever reads ConfigMaps.
func TestChartRefusesLiteralURLCredential(t *testing.T) {
	t.Parallel()
	for url, refused := range map[string]bool{
		"https://hr.example.com/api/people?api_key=abc123":                          true,
		"https://hr.example.com/api/people?format=json&Access_Token=abc123":         true,
		"https://hr.example.com/api/people?api_key=${HR_API_KEY}":                   false,
		"https://hr.example.com/api/people?page_size=100&format=json":               false,
		"https://wd2.workday.com/ccx/service/customreport2/acme/ISU/R?Worker!WID=1": false,
	} {
		_, err := render(t, cfg("hr", "url", url))
		if got := err != nil && strings.Contains(err.Error(), "config.hr.url holds a credential"); got != refused {
			t.Errorf("hr.url %s: render error %v, want refused %v", url, err, refused)
		}
	}
}

// TestAlertsKeepInstallationsApart: one Prometheus often scrapes several
// installations (staging and production namespaces, one per LivePerson
// account). Aggregated over all of them, one that keeps failing is hidden
// by another that succeeds (min of the time since success, max of the
// success timestamp): every aggregation keeps job and namespace apart.
func TestAlertsKeepInstallationsApart(t *testing.T) {
	t.Parallel()
	agg := regexp.MustCompile(`\b(sum|min|max|avg|count)\s*(by\s*\(([^)]*)\))?\s*\(`)
	for name, expr := range alertRules(t) {
		for _, m := range agg.FindAllStringSubmatch(expr, -1) {
			labels := strings.Fields(strings.ReplaceAll(m[3], ",", " "))
			if !slices.Contains(labels, "job") || !slices.Contains(labels, "namespace") {
				t.Errorf("alert %s aggregates with %q over every installation: use %s by (job, namespace): %s", name, m[0], m[1], expr)
			}
		}
	}
}

// TestAlertsRefusedStaysFiring: with an hourly schedule, a feed refused
// hour after hour gives increase(...[1h]) a moment at 0 whenever a refusal
// comes a little later than the one before (runs vary in length): the
// alert would resolve and fire again each time. skillsync_last_run_refused
// stays 1 until a run is accepted; the alert reads it.
func TestAlertsRefusedStaysFiring(t *testing.T) {
	t.Parallel()
	expr := alertRules(t)["SkillsyncRunRefused"]
	if !strings.Contains(expr, "skillsync_last_run_refused") {
		t.Errorf("SkillsyncRunRefused reads only the refusals of the last hour: %s", expr)
	}
}

// TestChartRefusesLiteralBodyCredential: a POST body carrying a
// credential literally ({"password": "..."}) would sit in the ConfigMap.
func TestChartRefusesLiteralBodyCredential(t *testing.T) {
	t.Parallel()
	for body, refused := range map[string]bool{
		`{"user": "svc", "password": "hunter22"}`:       true,
		`{"auth": {"apiKey" : "abc123"}}`:               true,
		`{"user": "svc", "password": "${HR_PASSWORD}"}`: false,
		`{"report": "staff", "page_size": 500}`:         false,
	} {
		_, err := render(t, cfg("hr", "body", body))
		if got := err != nil && strings.Contains(err.Error(), "config.hr.body holds a credential"); got != refused {
			t.Errorf("hr.body %s: render error %v, want refused %v", body, err, refused)
		}
	}
}
