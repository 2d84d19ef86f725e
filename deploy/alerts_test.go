package deploy

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
	if !regexp.MustCompile(`^sum\s*\(\s*increase\(`).MatchString(expr) {
		t.Errorf("SkillsyncRunsFailing compares each series with the threshold, not their sum: %s", expr)
	}
}
