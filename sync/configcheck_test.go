package sync

import (
	"errors"
	"strings"
	"testing"
)

// TestConfigCheck: Config.Check is the one place the engine's
// configuration is defaulted, validated and its rules compiled: it fills
// the policy and the match, reports the problems of every section at once
// (the rules' as a *ConfigError), and returns rules only when they
// compile.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	good := Config{Skills: SkillsConfig{Rules: []Rule{{ID: "team", Name: "{{ .dept }}"}}}, Sync: DefaultSyncConfig()}
	good.Sync.Policy = ""
	cfg, rules, errs := good.Check()
	if len(errs) != 0 || rules == nil || cfg.Sync.Policy != PolicySync || cfg.Assignments.Match != "email" {
		t.Fatalf("Check = %+v, %v, %v", cfg, rules, errs)
	}
	bad := good
	bad.Sync.DeleteAfterRuns = 0
	bad.Assignments.Match = "phone"
	bad.Skills.Rules = []Rule{{ID: "team", Name: "{{ .dept "}}
	_, rules, errs = bad.Check()
	var ce *ConfigError
	text := errors.Join(errs...).Error()
	if rules != nil || len(errs) != 3 || !errors.As(errs[2], &ce) ||
		!strings.Contains(text, "sync.delete_after_runs") || !strings.Contains(text, "assignments.match") {
		t.Fatalf("Check of a bad configuration: rules %v, problems %v", rules, errs)
	}
}
