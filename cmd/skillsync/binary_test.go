package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
)

// TestBinary builds skillsync as the Dockerfile and CI do and drives it as
// an operator would: exit statuses, a real SIGTERM to the daemon.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "skillsync")
	// The version and commit stamped as the Dockerfile and .ci/run do.
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -X main.version=v0.0.0-test -X main.commit=0123456789abcdef", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The simulator on a TLS server whose certificate the binary is told
	// to trust through SSL_CERT_FILE, as an operator would with a private CA.
	sim := lpsim.New(lpsim.Options{ClientID: testClientID, ClientSecret: testClientSecret})
	ts := httptest.NewTLSServer(sim)
	t.Cleanup(ts.Close)
	certFile := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})))
	hr := writeFile(t, dir, "hr.csv", string(demoCSV))
	config := writeFile(t, dir, "config.yaml", fmt.Sprintf(`database: {url: "${DB_URL}"}
liveperson:
  account_id: "12345678"
  domain_api_url: %s
  retry_delays: []
  auth: {method: oauth2, client_id: %s, client_secret: "${LP_CLIENT_SECRET}"}
hr: {type: csv, path: %s, fields: {id: EmployeeNumber}, active: 'Attrition == "No"'}
skills:
  rules:
    - {id: department, name: "{{ .Department }}"}
server: {listen: "127.0.0.1:0"}
`, ts.URL, testClientID, hr))
	environ := append(os.Environ(), "SKILLSYNC_CONFIG="+config, "DB_URL="+pgtest.DB(t),
		"LP_CLIENT_SECRET="+testClientSecret, "SSL_CERT_FILE="+certFile)

	run := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = environ
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("%v: %v", args, err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	steps := []struct {
		args []string
		code int
		want string // in stdout
	}{
		{[]string{"--help"}, 0, "demo"},
		{[]string{"version"}, 0, "skillsync v0.0.0-test (0123456789abcdef, " + runtime.Version() + ")\n"},
		{[]string{"--version"}, 0, "skillsync v0.0.0-test (0123456789abcdef, " + runtime.Version() + ")\n"},
		{[]string{"config", "check"}, 0, "client_secret: '[redacted]'"},
		{[]string{"plan", "--detailed-exitcode"}, 2, "+ Research & Development"},
		{[]string{"sync", "--format", "json"}, 0, `"format_version": 1`},
		{[]string{"plan", "--detailed-exitcode"}, 0, ""},
		{[]string{"runs"}, 0, "apply"},
	}
	for _, s := range steps {
		code, stdout, stderr := run(s.args...)
		if code != s.code || !strings.Contains(stdout, s.want) {
			t.Fatalf("skillsync %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", strings.Join(s.args, " "), code, s.code, stdout, stderr)
		}
		if strings.HasPrefix(strings.TrimSpace(stdout), "{") && strings.Contains(stdout, `"level"`) {
			t.Errorf("logs on stdout: %s", stdout)
		}
	}

	// The daemon exits 0 on SIGTERM.
	cmd := exec.Command(bin, "run", "--log-format", "json")
	cmd.Env = environ
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	var logs strings.Builder
	if !lines.Scan() || !strings.Contains(lines.Text(), `"msg":"skillsync starting","version":"v0.0.0-test","revision":"0123456789abcdef"`) {
		t.Errorf("the daemon's first log line does not name its version: %s", lines.Text())
	}
	logs.WriteString(lines.Text() + "\n")
	for lines.Scan() {
		logs.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), `"msg":"skillsync started"`) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		logs.WriteString(lines.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"skillsync stopped"`) {
		t.Errorf("no clean stop:\n%s", logs.String())
	}
}

// TestDemoInExistingDatabase runs the demo against a configured database
// while a production run holds the run lock there: it must keep to its
// own schema and lock, and tell the whole story.
func TestDemoInExistingDatabase(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.DB(t)
	prod, err := store.Open(context.Background(), dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	lock, err := prod.AcquireRunLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Release(context.Background()) }()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, lookupEnv: envMap("SKILLSYNC_DATABASE_URL", dbURL)}
	if code := runEnv(context.Background(), []string{"demo", "--config", filepath.Join(t.TempDir(), "none.yaml")}, e); code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"Plan: 15 to create, 0 to update, 0 to delete, 0 pending.",
		"~ Research & Development  (drift)",
		"Plan: 3 to create, 1 to update, 0 to delete, 4 pending.",
		"0 created, 0 updated, 4 deleted",
		"Where to look next",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("the demo logged warnings:\n%s", stderr.String())
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var demoRuns, publicRuns int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM skillsync_demo.runs`).Scan(&demoRuns); err != nil || demoRuns != 5 {
		t.Errorf("runs in the demo schema: %d %v", demoRuns, err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM public.runs`).Scan(&publicRuns); err != nil || publicRuns != 0 {
		t.Errorf("the demo wrote %d runs into the real schema (%v)", publicRuns, err)
	}
}

func TestDemoSaysWhatToInstallWithoutPostgres(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, lookupEnv: envMap(), pgBinDir: t.TempDir()}
	code := runEnv(context.Background(), []string{"demo", "--config", filepath.Join(t.TempDir(), "none.yaml")}, e)
	if code != exitError {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"the demo needs PostgreSQL", "apt-get install postgresql", "SKILLSYNC_DATABASE_URL="} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
