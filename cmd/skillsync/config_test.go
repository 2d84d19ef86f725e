package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/skillsync/skillsync/sync"
)

// envMap is a lookup over a fixed environment.
func envMap(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// writeFile writes content into dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// minimalConfig is a valid configuration over hrPath; extra is appended.
func minimalConfig(hrPath, extra string) string {
	return `database:
  url: ${DB_URL}
liveperson:
  account_id: "12345678"
  auth:
    method: oauth2
    client_id: ${LP_CLIENT_ID}
    client_secret: ${LP_CLIENT_SECRET}
hr:
  type: csv
  path: ` + hrPath + `
  fields: {id: EmployeeNumber}
skills:
  rules:
    - id: department
      name: "{{ .Department }}"
` + extra
}

var testEnv = envMap("DB_URL", "postgres://skillsync:db-pass-123@localhost/skillsync",
	"LP_CLIENT_ID", "client-1", "LP_CLIENT_SECRET", "lp-secret-abcdef")

func TestExampleConfigLoadsAndValidates(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	// The example's HR file lives on a server; point it at a real one.
	text := strings.Replace(string(raw), "/var/lib/skillsync/hr.csv", hr, 1)
	path := writeFile(t, dir, "config.yaml", text)
	lookup := envMap("SKILLSYNC_DATABASE_URL", "postgres://skillsync:pw-example-1@db.internal/skillsync",
		"LP_CLIENT_ID", "example-client", "LP_CLIENT_SECRET", "example-secret-1",
		"SKILLSYNC_TRIGGER_TOKEN", "example-trigger-token", "SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/example")
	cfg, _, err := loadConfig(path, lookup)
	if err != nil {
		t.Fatalf("config.example.yaml does not validate: %v", err)
	}
	if cfg.LivePerson.Auth.ClientSecret != "example-secret-1" || cfg.Server.TriggerToken != "example-trigger-token" {
		t.Errorf("${VAR}s not expanded: %+v / %q", cfg.LivePerson.Auth, cfg.Server.TriggerToken)
	}
	if cfg.Schedule != "@every 1h" || cfg.LivePerson.Timeout != 30*time.Second || len(cfg.Skills.Rules) != 2 {
		t.Errorf("example decoded wrongly: schedule %q timeout %s rules %d", cfg.Schedule, cfg.LivePerson.Timeout, len(cfg.Skills.Rules))
	}
}

// TestExampleDocumentsEveryKey keeps config.example.yaml complete: every
// yaml key of every config struct must appear in it, at its place.
func TestExampleDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	tt := t
	raw, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			walk(n.Content[0], path)
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := strings.TrimPrefix(path+"."+n.Content[i].Value, ".")
				present[p] = true
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path+"[]")
			}
		}
	}
	walk(&root, "")
	present["accounts"] = regexp.MustCompile(`(?m)^# accounts:`).Match(raw)

	// A struct type used at several places (sync.Settings) needs each key
	// at one of them only.
	type typeKeys struct {
		paths []string
		keys  []string
	}
	byType := map[reflect.Type]*typeKeys{}
	var visit func(t reflect.Type, path string)
	visit = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			if t.Kind() == reflect.Slice {
				path += "[]"
			}
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
			return
		}
		if t == reflect.TypeFor[AccountConfig]() {
			// Documented in a comment (an active example would make
			// the example several accounts); its blocks are the
			// top-level ones, checked there.
			for f := range t.Fields() {
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if !regexp.MustCompile(`(?m)^#\s+(- )?` + name + `:`).Match(raw) {
					tt.Errorf("config.example.yaml's commented accounts: lacks %q", name)
				}
			}
			return
		}
		tk := byType[t]
		first := tk == nil
		if first {
			tk = &typeKeys{}
			byType[t] = tk
		}
		tk.paths = append(tk.paths, path)
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			if first {
				tk.keys = append(tk.keys, name)
			}
			visit(f.Type, strings.TrimPrefix(path+"."+name, "."))
		}
	}
	visit(reflect.TypeFor[Config](), "")
	if len(byType) < 8 {
		t.Fatalf("only %d config struct types found: the walk is broken", len(byType))
	}
	for typ, tk := range byType {
		for _, k := range tk.keys {
			found := slices.ContainsFunc(tk.paths, func(p string) bool { return present[strings.TrimPrefix(p+"."+k, ".")] })
			if !found {
				t.Errorf("config.example.yaml lacks key %q of %s (at %s)", k, typ, strings.Join(tk.paths, " or "))
			}
		}
	}
}

func TestConfigProblemsNameFileLineAndKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	tests := []struct {
		name   string
		text   string
		lookup func(string) (string, bool)
		want   []string // regexps, each must match one problem
	}{
		{
			name: "unknown key",
			text: minimalConfig(hr, "sync:\n  max_delets: 3\n"),
			want: []string{`config\.yaml:\d+: sync\.max_delets: unknown key`},
		},
		{
			name: "unknown nested key keeps its path",
			text: strings.Replace(minimalConfig(hr, ""), "    method: oauth2\n", "    method: oauth2\n    clientsecret: x\n", 1),
			want: []string{`config\.yaml:7: liveperson\.auth\.clientsecret: unknown key`},
		},
		{
			name: "bad cron spec",
			text: minimalConfig(hr, "schedule: every hour\n"),
			want: []string{`config\.yaml:\d+: schedule: "every hour" is not a cron spec`},
		},
		{
			name: "bad time zone",
			text: minimalConfig(hr, "timezone: Mars/Olympus\n"),
			want: []string{`config\.yaml:\d+: timezone: "Mars/Olympus" is not an IANA time zone`},
		},
		{
			name: "bad template and bad expression",
			text: minimalConfig(hr, "    - id: broken\n      name: \"{{ .Department \"\n      when: 'Department ==='\n"),
			want: []string{`config\.yaml:\d+: skills\.rules\[1\]\.name: `, `config\.yaml:\d+: skills\.rules\[1\]\.when: `},
		},
		{
			name: "bad hr.active expression",
			text: strings.Replace(minimalConfig(hr, ""), "  fields:", "  active: 'Attrition =='\n  fields:", 1),
			want: []string{`config\.yaml:\d+: hr\.active: `},
		},
		{
			name:   "missing credential names its unset variable",
			text:   minimalConfig(hr, ""),
			lookup: envMap("DB_URL", "postgres://localhost/x", "LP_CLIENT_ID", "c"),
			want:   []string{`config\.yaml:8: liveperson\.auth\.client_secret: required for method oauth2 \(\$\{LP_CLIENT_SECRET\} is not set`},
		},
		{
			name:   "missing database url",
			text:   minimalConfig(hr, ""),
			lookup: envMap("LP_CLIENT_ID", "c", "LP_CLIENT_SECRET", "s3cret-value"),
			want:   []string{`config\.yaml:2: database\.url: required: .*\$\{DB_URL\} is not set`},
		},
		{
			name: "hr file that does not exist",
			text: minimalConfig(filepath.Join(dir, "nope.csv"), ""),
			want: []string{`config\.yaml:\d+: hr\.path: .*nope\.csv cannot be read`},
		},
		{
			name: "wrong type",
			text: minimalConfig(hr, "sync:\n  max_deletes: many\n"),
			want: []string{`config\.yaml:\d+: sync\.max_deletes: cannot unmarshal !!str .many. into int`},
		},
		{
			name: "duplicate key",
			text: minimalConfig(hr, "timezone: UTC\ntimezone: Europe/Paris\n"),
			want: []string{`already defined`},
		},
		{
			name: "not yaml",
			text: "schedule: [\n",
			want: []string{`config\.yaml: .*not valid YAML`},
		},
		{
			name: "every problem at once",
			text: minimalConfig(hr, "schedule: nope\ntimezone: Nowhere/Land\nlog: {format: xml, level: loud}\nserver: {listen: nine}\nsync: {policy: yolo}\n"),
			want: []string{`schedule:`, `timezone:`, `log\.format:`, `log\.level:`, `server\.listen:`, `sync\.policy:`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "config.yaml", tc.text)
			lookup := tc.lookup
			if lookup == nil {
				lookup = testEnv
			}
			_, _, err := loadConfig(path, lookup)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConfigError, got %v", err)
			}
			for _, w := range tc.want {
				re := regexp.MustCompile(w)
				if !slices.ContainsFunc(ce.Problems, re.MatchString) {
					t.Errorf("no problem matches %q in:\n  %s", w, strings.Join(ce.Problems, "\n  "))
				}
			}
			if len(ce.Problems) < len(tc.want) {
				t.Errorf("want at least %d problems, got %d", len(tc.want), len(ce.Problems))
			}
		})
	}
}

func TestEnvExpansionKeepsStructure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber\n1\n")
	text := minimalConfig(hr, `server:
  trigger_token: ${TOKEN}
liveperson:
  batch_size: ${BATCH}
  account_id: "${ACCOUNT}"
`)
	// liveperson appears twice above; move the extra keys into one section.
	text = strings.Replace(text, "liveperson:\n  account_id: \"12345678\"\n", "liveperson:\n  account_id: \"${ACCOUNT}\"\n  batch_size: ${BATCH}\n", 1)
	text = text[:strings.LastIndex(text, "liveperson:\n  batch_size")]
	path := writeFile(t, dir, "config.yaml", text)
	tricky := "a: b # not a comment ${NOT_EXPANDED_TWICE}"
	lookup := envMap("DB_URL", "postgres://localhost/x", "LP_CLIENT_ID", "c", "LP_CLIENT_SECRET", "secret-1",
		"TOKEN", tricky, "BATCH", "25", "ACCOUNT", "00042")
	cfg, _, err := loadConfig(path, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.TriggerToken != tricky {
		t.Errorf("token = %q, want %q (expansion must not change the YAML's structure)", cfg.Server.TriggerToken, tricky)
	}
	if cfg.LivePerson.BatchSize != 25 {
		t.Errorf("batch_size = %d, want 25 (a plain ${VAR} is typed by its value)", cfg.LivePerson.BatchSize)
	}
	if cfg.LivePerson.AccountID != "00042" {
		t.Errorf("account_id = %q, want 00042 (a quoted ${VAR} stays a string)", cfg.LivePerson.AccountID)
	}
}

func TestDefaultsFillWhatTheFileLeavesOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber\n1\n")
	cfg, _, err := loadConfig(writeFile(t, dir, "config.yaml", minimalConfig(hr, "sync: {max_deletes: 3}\n")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schedule != defaultSchedule || cfg.Timezone != "UTC" || cfg.Server.Listen != defaultListen ||
		cfg.ShutdownTimeout != defaultShutdownTimeout || cfg.LivePerson.BatchSize != 50 ||
		cfg.LivePerson.DomainAPIURL != "https://api.liveperson.net" || cfg.Sync.DeleteAfterRuns != 2 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.Sync.MaxDeletes != 3 {
		t.Errorf("max_deletes = %d, want the file's 3", cfg.Sync.MaxDeletes)
	}
	if !cfg.Assignments.KeepUnmatched || cfg.Assignments.MaxChangesPercent != 20 || cfg.Sync.MaxConflictRetries != 3 {
		t.Errorf("assignments/sync defaults not applied: %+v %+v", cfg.Assignments, cfg.Sync)
	}
}

// TestExplicitZerosSurvive: a guard set to 0 in the file is 0 after
// loading (0 freezes or tightens; it never means "the default").
func TestExplicitZerosSurvive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber\n1\n")
	cfg, _, err := loadConfig(writeFile(t, dir, "config.yaml", minimalConfig(hr,
		"sync: {min_records: 0, max_active_drop_percent: 0, max_deletes: 0, max_delete_percent: 0, max_conflict_retries: 0}\n"+
			"assignments: {max_changes_percent: 0, keep_unmatched: false}\n")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	s, a := cfg.Sync, cfg.Assignments
	if s.MinRecords != 0 || s.MaxActiveDropPercent != 0 || s.MaxDeletes != 0 || s.MaxDeletePercent != 0 || s.MaxConflictRetries != 0 ||
		s.DeleteAfterRuns != 2 || a.MaxChangesPercent != 0 || a.KeepUnmatched {
		t.Errorf("explicit zeros replaced: sync %+v assignments %+v", s, a)
	}

	// delete_after_runs: 0 is refused, saying why.
	_, _, err = loadConfig(writeFile(t, dir, "zero.yaml", minimalConfig(hr, "sync: {delete_after_runs: 0}\n")), testEnv)
	if err == nil || !strings.Contains(err.Error(), "sync.delete_after_runs: 0; it must be at least 1") {
		t.Errorf("delete_after_runs 0: %v", err)
	}
}

// TestConfigCheckCommand drives `config check` through run.
func TestConfigCheckCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber\n1\n")
	good := writeFile(t, dir, "good.yaml", minimalConfig(hr, `server:
  trigger_token: trigger-token-xyz
hr_extra_placeholder: 1
`))
	// Make it valid: the placeholder proves unknown keys fail first.
	text, _ := os.ReadFile(good)
	if err := os.WriteFile(good, bytes.Replace(text, []byte("hr_extra_placeholder: 1\n"), nil, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := writeFile(t, dir, "bad.yaml", minimalConfig(hr, "schedule: sometimes\nunknown_section: {}\n"))

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		code := runEnv(context.Background(), []string{"config", "check", "--config", good},
			&env{stdout: &stdout, stderr: &stderr, lookupEnv: testEnv})
		if code != exitOK {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
		}
		out := stdout.String()
		for _, secret := range []string{"lp-secret-abcdef", "db-pass-123", "trigger-token-xyz"} {
			if strings.Contains(out+stderr.String(), secret) {
				t.Errorf("secret %q printed:\n%s", secret, out)
			}
		}
		for _, want := range []string{"client_secret: '[redacted]'", "trigger_token: '[redacted]'", "postgres://skillsync:%5Bredacted%5D@localhost/skillsync", "client_id: client-1", "schedule: '@every 1h'"} {
			if !strings.Contains(out, want) && !strings.Contains(out, strings.ReplaceAll(want, "%5Bredacted%5D", "[redacted]")) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		code := runEnv(context.Background(), []string{"config", "check", "--config", bad},
			&env{stdout: &stdout, stderr: &stderr, lookupEnv: testEnv})
		if code != exitError {
			t.Fatalf("exit %d, want 1", code)
		}
		if !strings.Contains(stderr.String(), "bad.yaml:") || !strings.Contains(stderr.String(), "unknown_section: unknown key") {
			t.Errorf("stderr lacks the problem with file, line and key:\n%s", stderr.String())
		}
	})
	t.Run("schedule problem after decoding", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, t.TempDir(), "c.yaml", minimalConfig(hr, "schedule: sometimes\n"))
		var stdout, stderr bytes.Buffer
		code := runEnv(context.Background(), []string{"config", "check"},
			&env{stdout: &stdout, stderr: &stderr, lookupEnv: func(k string) (string, bool) {
				if k == "SKILLSYNC_CONFIG" {
					return path, true
				}
				return testEnv(k)
			}})
		if code != exitError || !regexp.MustCompile(`c\.yaml:\d+: schedule: "sometimes"`).MatchString(stderr.String()) {
			t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "effective configuration") {
			t.Errorf("the effective configuration is printed even when invalid; got:\n%s", stdout.String())
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		code := runEnv(context.Background(), []string{"config", "check", "--config", filepath.Join(dir, "none.yaml")},
			&env{stdout: &stdout, stderr: &stderr, lookupEnv: testEnv})
		if code != exitError || !strings.Contains(stderr.String(), "not found") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
		}
	})
}

func TestRedactedConfigHidesEverySecret(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.Database.URL = "postgres://app:pa%40ss-word-1@db/skillsync"
	cfg.Server.TriggerToken = "trigger-secret-2"
	cfg.LivePerson.Auth.ClientSecret = "client-secret-3"
	cfg.LivePerson.Auth.Secret = "consumer-secret-4"
	cfg.LivePerson.Auth.AccessToken = "access-token-5"
	cfg.LivePerson.Auth.AccessTokenSecret = "token-secret-6"
	cfg.LivePerson.Auth.Password = "user-password-7"
	cfg.HR.Password = "hr-password-8"
	cfg.HR.Headers = map[string]string{"Authorization": "Bearer hr-bearer-token-9", "X-Api-Key": "hr-api-key-10"}
	cfg.HR.DatabaseURL = "host=hr-db user=reader password='hr db pass 11' dbname=hr"
	out, secrets, err := redactedConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pa%40ss-word-1", "pa@ss-word-1", "trigger-secret-2", "client-secret-3", "consumer-secret-4",
		"access-token-5", "token-secret-6", "user-password-7", "hr-password-8", "hr-bearer-token-9", "hr-api-key-10", "hr db pass 11"} {
		if strings.Contains(string(out), s) {
			t.Errorf("%q printed:\n%s", s, out)
		}
		if !slices.Contains(secrets, s) && !slices.ContainsFunc(secrets, func(x string) bool { return strings.Contains(x, s) }) {
			t.Errorf("%q not collected for the log redactor: %q", s, secrets)
		}
	}
	if !strings.Contains(string(out), "app:") || !strings.Contains(string(out), "host=hr-db") {
		t.Errorf("non-secret parts should stay readable:\n%s", out)
	}
	// Not managed (nil) and managed-empty settings print differently.
	cfg.Skills.Rules = []sync.Rule{{ID: "a", Settings: sync.Settings{LobIDs: []int64{}}}}
	out, _, err = redactedConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "lob_ids: []") || !strings.Contains(string(out), "transfer_to: null") {
		t.Errorf("nil and empty settings are not told apart:\n%s", out)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(minimalConfig("/tmp/hr.csv", "")))
	f.Add([]byte("schedule: [\n"))
	f.Add([]byte("liveperson: {batch_size: ${N}}\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, _, err := parseConfig("fuzz.yaml", raw, envMap("N", "3"))
		if err == nil {
			_ = cfg.Validate()
			if _, _, err := redactedConfig(cfg); err != nil {
				t.Fatalf("a decoded config must print: %v", err)
			}
		}
	})
}
