package main

import (
	"strings"
	"testing"
)

// accountsConfig is a valid configuration with two accounts over hrPath:
// emea inherits everything but its LivePerson block and schedule, apac
// gives its own sync block (whole: omitted keys at their defaults).
func accountsConfig(hrPath, extra string) string {
	return `database:
  url: ${DB_URL}
hr:
  type: csv
  path: ` + hrPath + `
  fields: {id: EmployeeNumber}
skills:
  rules:
    - id: department
      name: "{{ .Department }}"
sync:
  max_deletes: 3
  delete_after_runs: 5
accounts:
  - name: emea
    schedule: "@every 30m"
    liveperson:
      account_id: "111"
      auth: {method: oauth2, client_id: c1, client_secret: emea-secret-123456}
  - name: apac
    liveperson:
      account_id: "222"
      auth: {method: oauth2, client_id: c2, client_secret: apac-secret-654321}
    sync:
      max_deletes: 0
` + extra
}

func TestAccountsConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	cfg, _, err := loadConfig(writeFile(t, dir, "config.yaml", accountsConfig(hr, "")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	accounts := cfg.AccountList()
	if len(accounts) != 2 || cfg.Daemon.Concurrency != 4 {
		t.Fatalf("accounts %d, concurrency %d", len(accounts), cfg.Daemon.Concurrency)
	}
	emea, apac := accounts[0], accounts[1]
	if emea.Name != "emea" || emea.ID() != "111" || emea.Schedule != "@every 30m" || emea.Sync.MaxDeletes != 3 || emea.Sync.DeleteAfterRuns != 5 ||
		emea.HR.Path != hr || len(emea.Skills.Rules) != 1 {
		t.Errorf("emea inherits: %+v", emea)
	}
	// A block given replaces the top-level one whole: its omitted keys
	// take their defaults, not the top-level values; 0 stays 0.
	if apac.ID() != "222" || apac.Schedule != "@every 1h" || apac.Sync.MaxDeletes != 0 || apac.Sync.DeleteAfterRuns != 2 || apac.Sync.Policy != "sync" {
		t.Errorf("apac's own sync block: %+v", apac.Sync)
	}
	if apac.LivePerson.BatchSize != 50 || apac.LivePerson.DomainAPIURL == "" {
		t.Errorf("apac's liveperson defaults: %+v", apac.LivePerson)
	}
	// Every account's secrets are redacted.
	out, _, err := redactedConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"emea-secret-123456", "apac-secret-654321"} {
		if strings.Contains(string(out), s) {
			t.Errorf("config printout shows %s:\n%s", s, out)
		}
	}
	secrets := strings.Join(configSecrets(cfg), " ")
	if !strings.Contains(secrets, "emea-secret-123456") || !strings.Contains(secrets, "apac-secret-654321") {
		t.Errorf("secrets to hide in logs: %s", secrets)
	}
}

// TestNoAccountsIsDefault: without `accounts:` the top-level blocks are
// one account named default.
func TestNoAccountsIsDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	cfg, _, err := loadConfig(writeFile(t, dir, "config.yaml", minimalConfig(hr, "")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	accounts := cfg.AccountList()
	if len(accounts) != 1 || accounts[0].Name != "default" || accounts[0].ID() != "12345678" || accounts[0].Schedule != cfg.Schedule {
		t.Errorf("accounts = %+v", accounts)
	}
	if a, err := cfg.oneAccount(""); err != nil || a.Name != "default" {
		t.Errorf("oneAccount = %+v, %v", a, err)
	}
}

func TestAccountsConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hr := writeFile(t, dir, "hr.csv", "EmployeeNumber,Department\n1,Sales\n")
	tests := []struct {
		name, extra string
		want        []string
	}{
		{"bad name", `  - name: EMEA_2
    liveperson: {account_id: "333", auth: {method: oauth2, client_id: c, client_secret: s-123456789}}
`, []string{"accounts[2].name", `"EMEA_2"`}},
		{"duplicate name", `  - name: emea
    liveperson: {account_id: "333", auth: {method: oauth2, client_id: c, client_secret: s-123456789}}
`, []string{"accounts[2].name", "also the name of accounts[0]"}},
		{"no liveperson", `  - name: lonely
`, []string{"accounts[2].liveperson: required"}},
		{"liveperson problem", `  - name: brand-3
    liveperson: {auth: {method: oauth2, client_id: c, client_secret: s-123456789}}
`, []string{"accounts[2].liveperson.account_id: required"}},
		{"same account id", `  - name: brand-3
    liveperson: {account_id: "111", auth: {method: oauth2, client_id: c, client_secret: s-123456789}}
`, []string{"accounts[2].liveperson.account_id", "accounts[0]"}},
		{"bad schedule", `  - name: brand-3
    schedule: every hour
    liveperson: {account_id: "333", auth: {method: oauth2, client_id: c, client_secret: s-123456789}}
`, []string{"accounts[2].schedule"}},
		{"own sync block checked", `  - name: brand-3
    liveperson: {account_id: "333", auth: {method: oauth2, client_id: c, client_secret: s-123456789}}
    sync: {policy: everything}
`, []string{"accounts[2].sync.policy"}},
		{"unknown key", `  - name: brand-3
    liveperson: {account_id: "333", auth: {method: oauth2, client_id: c, client_secret: s-123456789}}
    sync: {max_delets: 3}
`, []string{"accounts[2].sync.max_delets: unknown key"}},
		{"concurrency", `daemon:
  concurrency: 0
`, []string{"daemon.concurrency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := loadConfig(writeFile(t, t.TempDir(), "config.yaml", accountsConfig(hr, tt.extra)), testEnv)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
