package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

const unitFile = "systemd/skillsync.service"

// unit is a systemd unit file: section -> key -> values, in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	u := unit{}
	var section string
	sc := bufio.NewScanner(bytes.NewReader(mustRead(t, path)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value in a section: %s", path, n, line)
			}
			u[section][key] = append(u[section][key], value)
		}
	}
	return u
}

// last is the value of key that counts (the last one set).
func (u unit) last(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// TestSystemdUnit checks the unit's hardening and its agreement with the
// example configuration: each ${file:/run/credentials/...} it reads is a
// credential the unit loads, and systemd waits longer than
// shutdown_timeout before killing it.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	u := parseUnit(t, unitFile)
	s := "Service"
	want := map[string]string{
		"Type": "exec", "DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
		"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
		"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "RestrictNamespaces": "yes",
		"SystemCallArchitectures": "native", "Restart": "on-failure", "KillSignal": "SIGTERM",
	}
	for k, v := range want {
		if _, set := u[s][k]; !set || u.last(s, k) != v {
			t.Errorf("[Service] %s=%q, want %q", k, u.last(s, k), v)
		}
	}
	exec := strings.Fields(u.last(s, "ExecStart"))
	if len(exec) < 2 || !filepath.IsAbs(exec[0]) || exec[1] != "run" {
		t.Errorf("ExecStart=%v, want an absolute path to skillsync run", exec)
	}
	// The process collector reads /proc/stat for its start time: a
	// ProcSubset=pid would turn every scrape into a 500.
	if u.last(s, "ProcSubset") == "pid" {
		t.Errorf("ProcSubset=pid hides /proc/stat, which /metrics needs")
	}
	if !slices.Contains(u["Install"]["WantedBy"], "multi-user.target") {
		t.Errorf("not wanted by multi-user.target")
	}

	// Credentials: what the configuration reads, the unit loads.
	loaded := map[string]bool{}
	for _, c := range u[s]["LoadCredential"] {
		name, path, ok := strings.Cut(c, ":")
		if !ok || !filepath.IsAbs(path) {
			t.Errorf("LoadCredential=%s, want NAME:/absolute/path", c)
		}
		loaded[name] = true
	}
	config := string(mustRead(t, "systemd/config.yaml"))
	refs := regexp.MustCompile(`\$\{file:/run/credentials/skillsync\.service/([^}]+)\}`).FindAllStringSubmatch(config, -1)
	if len(refs) < 3 {
		t.Errorf("the example configuration reads %d credentials, want the database URL and LivePerson's", len(refs))
	}
	for _, r := range refs {
		if !loaded[r[1]] {
			t.Errorf("the configuration reads credential %s, which the unit does not load", r[1])
		}
	}
	if regexp.MustCompile(`\$\{[A-Z_]+\}`).MatchString(config) {
		t.Errorf("the example configuration reads environment variables, which the unit does not set")
	}

	var cfg struct {
		ShutdownTimeout string `json:"shutdown_timeout"`
	}
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatal(err)
	}
	timeout, err := time.ParseDuration(cfg.ShutdownTimeout)
	if err != nil {
		t.Fatalf("shutdown_timeout %q: %v", cfg.ShutdownTimeout, err)
	}
	stop, err := time.ParseDuration(u.last(s, "TimeoutStopSec"))
	if err != nil || stop <= timeout {
		t.Errorf("TimeoutStopSec=%s (%v), want more than shutdown_timeout %s", u.last(s, "TimeoutStopSec"), err, timeout)
	}
}

// TestSystemdAnalyze lints the unit with systemd itself, where it is
// installed: `systemd-analyze verify` (with ExecStart pointed at an
// executable that exists here) and the exposure score of
// `systemd-analyze security`.
func TestSystemdAnalyze(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; TestSystemdUnit checks the unit's structure")
	}
	stand, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) to stand in for the binary")
	}
	text := string(mustRead(t, unitFile))
	text = strings.Replace(text, "ExecStart=/usr/local/bin/skillsync", "ExecStart="+stand, 1)
	unitPath := filepath.Join(t.TempDir(), "skillsync.service")
	if err := os.WriteFile(unitPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unitPath).CombinedOutput()
	// verify exits 0 on unknown keys but says so: any word is a finding.
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	out, err = exec.Command(analyze, "security", "--offline=yes", unitPath).CombinedOutput()
	if err != nil {
		t.Skipf("systemd-analyze security --offline is not supported here: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	// systemd rates 0-10, lower is safer; under 2 is what a network daemon
	// that needs nothing of the host can reach.
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level >= 2 {
		t.Errorf("exposure level %.1f, want under 2:\n%s", level, out)
	}
}
