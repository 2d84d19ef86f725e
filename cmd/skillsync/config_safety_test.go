package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// loadProblems loads text as a config file (mode 0600) and returns its
// problems and warnings.
func loadProblems(t *testing.T, text string, lookup func(string) (string, bool)) (*Config, []string, []string) {
	t.Helper()
	path := writeFile(t, t.TempDir(), "config.yaml", text)
	cfg, file, err := loadConfig(path, lookup)
	var ce *ConfigError
	if err != nil && !errors.As(err, &ce) {
		t.Fatalf("want nil or a *ConfigError, got %v", err)
	}
	var problems, warnings []string
	if ce != nil {
		problems = ce.Problems
	}
	if file != nil {
		warnings = file.warnings
	}
	return cfg, problems, warnings
}

// matchAll fails the test unless every regexp in want matches one of got.
func matchAll(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.ContainsFunc(got, regexp.MustCompile(w).MatchString) {
			t.Errorf("no %s matches %q in:\n  %s", what, w, strings.Join(got, "\n  "))
		}
	}
}

// TestUnsetVariables: an unset ${VAR} is an error for keys under sync,
// assignments and skills, whose defaults are no safe fallback (an unset
// sync.policy would turn deletes on); anywhere else it is a warning naming
// the variable and the key.
func TestUnsetVariables(t *testing.T) {
	t.Parallel()
	hr := writeFile(t, t.TempDir(), "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	text := strings.Replace(minimalConfig(hr, `sync:
  policy: ${POLICY}
  max_deletes: ${MAX_DELETES}
assignments:
  enabled: ${ASSIGN}
`), "skills:\n", "skills:\n  adopt_existing: ${ADOPT}\n", 1)
	text = strings.Replace(text, "  account_id: \"12345678\"\n", "  account_id: \"12345678\"\n  batch_size: ${BATCH}\n", 1)
	_, problems, warnings := loadProblems(t, text, testEnv)
	matchAll(t, "problem", problems,
		`config\.yaml:\d+: sync\.policy: \$\{POLICY\} is not set in the environment, and for a key under sync the default is no safe fallback`,
		`config\.yaml:\d+: sync\.max_deletes: \$\{MAX_DELETES\} is not set`,
		`config\.yaml:\d+: assignments\.enabled: \$\{ASSIGN\} is not set .* under assignments`,
		`config\.yaml:\d+: skills\.adopt_existing: \$\{ADOPT\} is not set .* under skills`)
	if len(problems) != 4 {
		t.Errorf("%d problems, want the 4 unset variables:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	matchAll(t, "warning", warnings, `config\.yaml:\d+: liveperson\.batch_size: \$\{BATCH\} is not set in the environment; the key keeps its default`)

	// Set, even to an empty value, it is no problem.
	_, problems, _ = loadProblems(t, text, func(k string) (string, bool) {
		switch k {
		case "POLICY", "MAX_DELETES", "ASSIGN", "ADOPT", "BATCH":
			return "", true
		}
		return testEnv(k)
	})
	if len(problems) != 0 {
		t.Errorf("variables set to empty: %q", problems)
	}
}

// TestEmptyVariablesUnderStrictSections: a ${VAR} set to nothing (as a
// Helm value or compose variable left out arrives) is no problem, but
// under sync, assignments and skills it has the effect an unset one would
// have (sync.policy falls back to sync, deletes on): a warning says so.
func TestEmptyVariablesUnderStrictSections(t *testing.T) {
	t.Parallel()
	hr := writeFile(t, t.TempDir(), "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	text := minimalConfig(hr, "sync:\n  policy: ${POLICY}\n  max_deletes: ${MAX_DELETES}\n")
	text = strings.Replace(text, "  account_id: \"12345678\"\n", "  account_id: \"12345678\"\n  base_url: ${BASE}\n", 1)
	cfg, problems, warnings := loadProblems(t, text, func(k string) (string, bool) {
		switch k {
		case "POLICY", "BASE":
			return "", true
		case "MAX_DELETES":
			return "3", true
		}
		return testEnv(k)
	})
	if len(problems) != 0 || cfg.Sync.Policy != "sync" {
		t.Fatalf("problems %q, policy %q", problems, cfg.Sync.Policy)
	}
	matchAll(t, "warning", warnings, `config\.yaml:\d+: sync\.policy: \$\{POLICY\} is set but empty; the key keeps its default`)
	if len(warnings) != 1 {
		t.Errorf("warnings %q, want only sync.policy's", warnings)
	}
}

// TestEveryCommandWarnsOfUnsetVariables: the fixture's config reads
// liveperson.batch_size from ${BATCH_SIZE}, which it leaves unset: every
// command says so.
func TestEveryCommandWarnsOfUnsetVariables(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	want := "liveperson.batch_size: ${BATCH_SIZE} is not set in the environment; the key keeps its default"
	for _, args := range [][]string{{"config", "check"}, {"migrate"}, {"plan"}, {"runs"}, {"sync"}} {
		_, stderr := f.mustRun(exitOK, args...)
		if !strings.Contains(stderr, want) {
			t.Errorf("skillsync %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, stderr)
		}
	}
	// A command whose configuration fails says it too.
	raw, err := os.ReadFile(f.configPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.configPath, append(raw, "schedule: sometimes\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr := f.mustRun(exitError, "plan")
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, `schedule: "sometimes"`) {
		t.Errorf("failing plan: stderr lacks the warning or the problem:\n%s", stderr)
	}
}

// TestEveryProblemAtOnce: unknown keys and wrong types (found while
// decoding) are reported with the problems found after it, in the order of
// the file.
func TestEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	hr := writeFile(t, t.TempDir(), "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	text := minimalConfig(hr, `    - id: broken
      name: "{{ .Department "
schedule: sometimes
sync:
  max_delets: 3
  max_deletes: many
server: {listen: nine, trigger_token: short}
`)
	text = strings.Replace(text, "  account_id: \"12345678\"\n", "  account_id: \"12345678\"\n  domain_api_url: http://api.liveperson.net\n  batchsize: 5\n", 1)
	_, problems, _ := loadProblems(t, text, testEnv)
	want := []string{
		`:5: liveperson\.domain_api_url: http://api\.liveperson\.net uses plain http`,
		`:6: liveperson\.batchsize: unknown key`,
		`:\d+: skills\.rules\[1\]\.name: `,
		`:\d+: schedule: "sometimes" is not a cron spec`,
		`:\d+: sync\.max_delets: unknown key`,
		`:\d+: sync\.max_deletes: cannot unmarshal`,
		`:\d+: server\.listen: "nine" is not host:port`,
		`:\d+: server\.trigger_token: 5 characters; it must be at least 16`,
	}
	matchAll(t, "problem", problems, want...)
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d:\n  %s", len(problems), len(want), strings.Join(problems, "\n  "))
	}
	if !slices.IsSortedFunc(problems, func(a, b string) int { return lineOf(a) - lineOf(b) }) {
		t.Errorf("problems not in the order of the file:\n  %s", strings.Join(problems, "\n  "))
	}
}

func lineOf(problem string) int {
	if m := problemLine.FindStringSubmatch(problem); m != nil {
		n := 0
		for _, c := range m[1] {
			n = n*10 + int(c-'0')
		}
		return n
	}
	return 1 << 30
}

// TestFileReferences: ${file:PATH} reads a secret from a file (Kubernetes
// and Docker secrets, systemd credentials), one trailing newline dropped;
// an unreadable file is a problem naming the key; config check hides what
// was read.
func TestFileReferences(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	secret := writeFile(t, dir, "lp_secret", "file-secret-9f8e7d\n")
	crlf := writeFile(t, dir, "token", "trigger-token-from-a-file\r\n")
	two := writeFile(t, dir, "two", "line\n\n")
	text := strings.Replace(minimalConfig(hr, "server: {trigger_token: \"${file:"+crlf+"}\"}\nhr_note: x\n"),
		"${LP_CLIENT_SECRET}", "${file:"+secret+"}", 1)
	text = strings.Replace(text, "hr_note: x\n", "", 1)
	text = strings.Replace(text, "  fields: {id: EmployeeNumber}\n", "  fields: {id: EmployeeNumber}\n  headers: {X-Two: \"${file:"+two+"}\"}\n", 1)
	cfg, problems, _ := loadProblems(t, text, testEnv)
	if len(problems) != 0 {
		t.Fatalf("problems: %q", problems)
	}
	if cfg.LivePerson.Auth.ClientSecret != "file-secret-9f8e7d" || cfg.Server.TriggerToken != "trigger-token-from-a-file" || cfg.HR.Headers["X-Two"] != "line\n" {
		t.Errorf("read %q, %q, %q", cfg.LivePerson.Auth.ClientSecret, cfg.Server.TriggerToken, cfg.HR.Headers["X-Two"])
	}

	missing := filepath.Join(dir, "nope")
	_, problems, _ = loadProblems(t, strings.Replace(text, secret, missing, 1), testEnv)
	matchAll(t, "problem", problems, `config\.yaml:8: liveperson\.auth\.client_secret: \$\{file:`+regexp.QuoteMeta(missing)+`\} cannot be read .*no such file`)

	path := writeFile(t, dir, "config.yaml", text)
	f := &fixture{t: t, configPath: path, lookup: testEnv}
	stdout, stderr := f.mustRun(exitOK, "config", "check")
	if strings.Contains(stdout+stderr, "file-secret-9f8e7d") || strings.Contains(stdout+stderr, "trigger-token-from-a-file") {
		t.Errorf("config check printed a secret read from a file:\n%s\n%s", stdout, stderr)
	}
}

// TestTriggerTokenLength: a trigger token shorter than 16 characters is
// refused; empty turns the endpoint off.
func TestTriggerTokenLength(t *testing.T) {
	t.Parallel()
	hr := writeFile(t, t.TempDir(), "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	for token, ok := range map[string]bool{"": true, "0123456789abcdef": true, "0123456789abcde": false, "ééééééééééééééé": false} {
		_, problems, _ := loadProblems(t, minimalConfig(hr, "server: {trigger_token: \""+token+"\"}\n"), testEnv)
		if bad := slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "server.trigger_token: ") }); bad == ok {
			t.Errorf("trigger_token %q: problems %q", token, problems)
		}
	}
}

// TestConfigFileModeWarning: a config file that group or others may read
// and that holds secrets written in it gets a warning naming them; one
// that takes its secrets from the environment or files, or that only its
// owner may read, does not.
func TestConfigFileModeWarning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	literal := strings.Replace(minimalConfig(hr, "server: {trigger_token: literal-token-0123456789}\n"), "${LP_CLIENT_SECRET}", "literal-secret", 1)
	literal = strings.Replace(literal, "${DB_URL}", "postgres://app:db-password@db/skillsync", 1)
	for _, tc := range []struct {
		name string
		text string
		mode os.FileMode
		want string // "" no warning
	}{
		{"literal secrets, world-readable", literal, 0o644, "(mode 0644) and holds secrets written in it (database.url, liveperson.auth.client_secret, server.trigger_token)"},
		{"literal secrets, group-readable", literal, 0o640, "(mode 0640)"},
		{"literal secrets, owner only", literal, 0o600, ""},
		{"secrets from the environment, world-readable", minimalConfig(hr, ""), 0o644, ""},
	} {
		path := writeFile(t, t.TempDir(), "config.yaml", tc.text)
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, file, err := loadConfig(path, testEnv)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := strings.Join(file.warnings, "\n")
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: warnings %q, want %q", tc.name, got, tc.want)
		}
		if strings.Contains(got, "literal-secret") || strings.Contains(got, "db-password") {
			t.Errorf("%s: the warning quotes a secret: %s", tc.name, got)
		}
	}
}
