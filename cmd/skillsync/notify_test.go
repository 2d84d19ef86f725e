package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store/pgtest"
	"github.com/skillsync/skillsync/sync/notify"
)

// hookPath and hookSecret are the webhook sink's secrets: no output may
// show them.
const (
	hookPath   = "/hooks/skillsync-7f3e9c2b1a"
	hookSecret = "hook-signing-secret-55aa"
)

// hookReceiver is a webhook endpoint; every body it gets arrives on got.
type hookReceiver struct {
	*httptest.Server
	got chan hookRequest
}

type hookRequest struct {
	path      string
	signature string
	body      []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{got: make(chan hookRequest, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.got <- hookRequest{path: r.URL.Path, signature: r.Header.Get(notify.SignatureHeader), body: body}
	}))
	t.Cleanup(h.Close)
	return h
}

// next waits for the next request.
func (h *hookReceiver) next(t *testing.T) hookRequest {
	t.Helper()
	select {
	case r := <-h.got:
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("no notification arrived")
	}
	return hookRequest{}
}

// TestNotifyThroughBinary: the built binary, configured with a webhook
// sink, announces a refused run to it, signed, with what to do; `runs show`
// lists the delivery; nothing it prints shows the sink's secrets.
func TestNotifyThroughBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "skillsync")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sim := lpsim.New(lpsim.Options{ClientID: testClientID, ClientSecret: testClientSecret})
	ts := httptest.NewTLSServer(sim)
	t.Cleanup(ts.Close)
	certFile := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})))
	hook := newHookReceiver(t)
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
notify:
  public_url: https://skillsync.example.com
  sinks:
    - {name: hook, type: webhook, url: "${HOOK_URL}", secret: "${HOOK_SECRET}"}
`, ts.URL, testClientID, hr))
	environ := append(os.Environ(), "SKILLSYNC_CONFIG="+config, "DB_URL="+pgtest.DB(t), "LP_CLIENT_SECRET="+testClientSecret,
		"SSL_CERT_FILE="+certFile, "HOOK_URL="+hook.URL+hookPath, "HOOK_SECRET="+hookSecret)
	var outputs strings.Builder
	run := func(want int, args ...string) string {
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
		outputs.WriteString(stdout.String() + stderr.String())
		if code := cmd.ProcessState.ExitCode(); code != want {
			t.Fatalf("skillsync %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
		}
		return stdout.String()
	}

	if out := run(exitOK, "config", "check"); !strings.Contains(out, "url: '[redacted]'") || !strings.Contains(out, "repeat_after: 24h") {
		t.Errorf("config check does not show the sink redacted with its defaults:\n%s", out)
	}
	run(exitOK, "sync") // applied: not among the default events
	lines := strings.SplitAfter(string(demoCSV), "\n")
	if err := os.WriteFile(hr, []byte(strings.Join(lines[:101], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	run(exitRefused, "sync")

	got := hook.next(t)
	if got.path != hookPath || got.signature != notify.Sign(hookSecret, got.body) {
		t.Errorf("request to %s signed %q", got.path, got.signature)
	}
	var body notify.WebhookBody
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(body.RunID, 10)
	if body.Event != "refused" || body.Account != "default" || body.Outcome != "refused" || body.RunID < 2 ||
		body.URL != "https://skillsync.example.com/runs/"+id || !strings.Contains(body.Reason, "%") ||
		!strings.Contains(body.Summary, "skillsync apply "+id) {
		t.Errorf("webhook body: %s", got.body)
	}
	select {
	case r := <-hook.got:
		t.Errorf("a second notification: %s", r.body)
	default:
	}

	out := run(exitOK, "runs", "show", id)
	if !regexp.MustCompile(`(?m)^hook\s+refused\s+sent\s+1\s+-$`).MatchString(out) {
		t.Errorf("runs show does not list the delivery:\n%s", out)
	}
	var detail runDetailView
	if err := json.Unmarshal([]byte(run(exitOK, "runs", "show", id, "--format", "json")), &detail); err != nil {
		t.Fatal(err)
	}
	if len(detail.Notifications) != 1 || detail.Notifications[0].Status != "sent" || detail.Notifications[0].Sink != "hook" ||
		detail.Notifications[0].Event != "refused" || detail.Notifications[0].Attempts != 1 {
		t.Errorf("runs show --format json: %+v", detail.Notifications)
	}
	for _, secret := range []string{hookPath, hookSecret} {
		if strings.Contains(outputs.String(), secret) {
			t.Errorf("a command printed the secret %q", secret)
		}
	}
}

// TestDaemonSendsNotifications: the daemon sends in the background and
// counts what it sent in skillsync_notifications_total.
func TestDaemonSendsNotifications(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t)
	f := setup(t, `run_at_start: true
notify:
  sinks:
    - {name: hook, type: webhook, url: "${HOOK_URL}", events: [applied]}
`)
	lookup := f.lookup
	f.lookup = func(k string) (string, bool) {
		if k == "HOOK_URL" {
			return hook.URL + hookPath, true
		}
		return lookup(k)
	}
	d := f.startDaemon(&env{})
	res := d.nextRun()
	got := hook.next(t)
	var body notify.WebhookBody
	if err := json.Unmarshal(got.body, &body); err != nil || body.Event != "applied" || body.RunID != res.Run.ID {
		t.Fatalf("webhook body %s (%v), want applied for run %d", got.body, err, res.Run.ID)
	}
	// The counter is set once the attempt is recorded, just after the
	// answer: wait for it.
	_, metrics, _ := d.do("GET", "/metrics", "")
	if !strings.Contains(metrics, `skillsync_notifications_total{event="applied",sink="hook",status="failed"} 0`) {
		t.Errorf("the failed series of the sink does not exist at 0 from the start")
	}
	want := regexp.MustCompile(`skillsync_notifications_total\{event="applied",sink="hook",status="sent"\} 1\n`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, metrics, _ := d.do("GET", "/metrics", "")
		if want.MatchString(metrics) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := d.stop(); code != exitOK {
		t.Errorf("exit %d", code)
	}
	if strings.Contains(d.stderr.String(), hookPath) {
		t.Error("the daemon logged the sink URL")
	}
}

// TestConfigCheckNotify: config check names the key of every notify
// problem, and prints the sink URLs and secrets redacted.
func TestConfigCheckNotify(t *testing.T) {
	t.Parallel()
	f := setup(t, `notify:
  public_url: https://skillsync.example.com
  sinks:
    - {name: chat, type: email, url: "https://hooks.example.com/services/T1/B1/s3cr3tp4th"}
    - {name: chat, type: webhook, url: "http://hooks.example.com/s3cr3tp4th", events: [refused, exploded]}
    - {name: ok, type: webhook, url: "https://hooks.example.com/s3cr3tp4th", secret: "webhook-secret-xyz"}
`)
	code, stdout, stderr := f.run("config", "check")
	if code != exitError {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{
		`config.yaml:21: notify.sinks[0].type: "email" is not a sink type`,
		`config.yaml:22: notify.sinks[1].name: "chat" is also the name of notify.sinks[0]`,
		`config.yaml:22: notify.sinks[1].url: plain http:// to hooks.example.com`,
		`notify.sinks[1].events[1]: "exploded" is not an event`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("config check lacks %q:\n%s", want, stderr)
		}
	}
	for _, secret := range []string{"s3cr3tp4th", "webhook-secret-xyz"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("config check shows %q:\n%s%s", secret, stdout, stderr)
		}
	}
	if n := strings.Count(stdout, "url: '[redacted]'"); n != 3 {
		t.Errorf("%d sink URLs printed redacted, want 3:\n%s", n, stdout)
	}
}

// TestRunThatPanicsIsAnnounced: a run recorded failed after a panic is
// announced as failed.
func TestRunThatPanicsIsAnnounced(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t)
	f := setup(t, `notify:
  sinks:
    - {name: hook, type: webhook, url: "${HOOK_URL}"}
`)
	lookup := f.lookup
	f.lookup = func(k string) (string, bool) {
		if k == "HOOK_URL" {
			return hook.URL + hookPath, true
		}
		return lookup(k)
	}
	f.httpClient = &http.Client{Transport: &panicOnce{base: f.srv.Client().Transport}}
	d := f.startDaemon(&env{})
	if code, body, _ := d.do("POST", "/v1/runs?wait=false", testTriggerToken); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	res := d.nextRun()
	got := hook.next(t)
	var body notify.WebhookBody
	if err := json.Unmarshal(got.body, &body); err != nil || body.Event != "failed" || body.RunID != res.Run.ID ||
		!strings.Contains(body.Reason, "panic: injected bug") {
		t.Errorf("webhook body %s (%v), want failed for run %d", got.body, err, res.Run.ID)
	}
}

// signalWriter closes printed at its first write.
type signalWriter struct {
	once    gosync.Once
	printed chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.printed) })
	return len(p), nil
}

// TestSyncPrintsBeforeItsNotifications: `skillsync sync` prints its result
// before it waits for its notifications, so a slow sink never holds the
// plan back: the receiver answers only once the result is printed, and
// the result was printed before the request's own timeout.
func TestSyncPrintsBeforeItsNotifications(t *testing.T) {
	t.Parallel()
	out := &signalWriter{printed: make(chan struct{})}
	answered := make(chan bool, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-out.printed:
			answered <- true
		case <-r.Context().Done():
			answered <- false
		}
	}))
	t.Cleanup(hook.Close)
	f := setup(t, "notify:\n  sinks:\n    - {name: hook, type: webhook, url: \""+hook.URL+"/hook\", events: [applied]}\n")
	var errOut bytes.Buffer
	e := f.env(nil, &errOut)
	e.stdout = out
	if code := runEnv(context.Background(), []string{"sync", "--config", f.configPath}, e); code != exitOK {
		t.Fatalf("sync: exit %d\n%s", code, errOut.String())
	}
	select {
	case ok := <-answered:
		if !ok {
			t.Error("sync waited for its notification before printing its result")
		}
	default:
		t.Error("the applied run's notification was not sent before sync exited")
	}
}
