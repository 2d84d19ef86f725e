package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	gosync "sync"
	"testing"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// daemonHandle is a `skillsync run` started in-process.
type daemonHandle struct {
	t      *testing.T
	addr   string
	cancel context.CancelFunc
	exited chan struct{} // closed when run has returned code
	code   int
	runs   chan *sync.Result
	stderr *lockedBuffer
}

// lockedBuffer is a bytes.Buffer safe for the daemon's goroutines.
type lockedBuffer struct {
	mu  gosync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDaemon runs `skillsync run` until the test ends or stop is called.
// e may set hooks; its outputs and lookups are filled in here.
func (f *fixture) startDaemon(e *env) *daemonHandle {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemonHandle{t: f.t, cancel: cancel, exited: make(chan struct{}), runs: make(chan *sync.Result, 100), stderr: &lockedBuffer{}}
	listening := make(chan string, 1)
	e.stdin, e.stdout, e.stderr = strings.NewReader(""), io.Discard, d.stderr
	e.lookupEnv, e.lpHTTPClient = f.lookup, f.httpClient
	e.onListen = func(addr string) { listening <- addr }
	e.afterRun = func(res *sync.Result, _ error) {
		select {
		case d.runs <- res:
		default: // nobody is waiting for that many runs
		}
	}
	go func() {
		defer close(d.exited)
		d.code = runEnv(ctx, []string{"run", "--config", f.configPath, "--log-format", "json", "--log-level", "debug"}, e)
	}()
	f.t.Cleanup(func() { d.stop() })
	select {
	case d.addr = <-listening:
	case <-d.exited:
		f.t.Fatalf("the daemon exited with %d before serving:\n%s", d.code, d.stderr.String())
	}
	return d
}

// stop cancels the daemon's context (SIGTERM) and returns its exit status.
func (d *daemonHandle) stop() int {
	d.cancel()
	<-d.exited
	return d.code
}

// nextRun waits for the next finished run.
func (d *daemonHandle) nextRun() *sync.Result {
	d.t.Helper()
	select {
	case res := <-d.runs:
		if res == nil {
			d.t.Fatalf("a run returned no result; logs:\n%s", d.stderr.String())
		}
		return res
	case <-d.exited:
		d.t.Fatalf("the daemon exited with %d:\n%s", d.code, d.stderr.String())
	}
	return nil
}

func (d *daemonHandle) do(method, path, token string) (int, string, http.Header) {
	d.t.Helper()
	req, err := http.NewRequest(method, "http://"+d.addr+path, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func TestDaemonScheduledRunsAndEndpoints(t *testing.T) {
	t.Parallel()
	f := setup(t, "schedule: \"@every 1s\"\n")
	d := f.startDaemon(&env{})

	first := d.nextRun()
	if first.Run.Trigger != store.TriggerSchedule || first.Run.Mode != store.ModeApply || first.Run.Outcome != store.OutcomeApplied {
		t.Fatalf("first scheduled run: %+v", first.Run)
	}
	second := d.nextRun()
	if second.Run.Trigger != store.TriggerSchedule || second.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("second scheduled run: %+v", second.Run)
	}

	if code, body, _ := d.do("GET", "/livez", ""); code != 200 || body != "ok\n" {
		t.Errorf("/livez: %d %q", code, body)
	}
	if code, body, _ := d.do("GET", "/readyz", ""); code != 200 {
		t.Errorf("/readyz: %d %q", code, body)
	}

	code, body, _ := d.do("GET", "/status", "")
	var st statusView
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/status: %d %v\n%s", code, err, body)
	}
	if st.LastRun == nil || st.LastSuccess == nil || st.NextRun == nil || st.Schedule != "@every 1s" || st.PendingDeletes == nil {
		t.Errorf("/status lacks fields:\n%s", body)
	}
	if st.NextRun != nil && st.NextRun.Before(first.Run.StartedAt) {
		t.Errorf("next run %s is before the first run", st.NextRun)
	}

	code, body, _ = d.do("GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`skillsync_runs_total\{mode="apply",outcome="applied"\} 1\n`,
		`skillsync_runs_total\{mode="apply",outcome="no_changes"\} [1-9]`,
		`skillsync_changes_total\{action="create",phase="applied"\} 14\n`,
		`skillsync_last_success_timestamp_seconds \d\.\d+e\+09\n`,
		`skillsync_liveperson_requests_total\{endpoint="skills",method="POST",status="201"\} 1\n`,
		`skillsync_liveperson_requests_total\{endpoint="skills",method="GET",status="200"\} [1-9]`,
		`skillsync_hr_records\{state="active"\} 1233\n`,
		`skillsync_hr_records\{state="all"\} 1470\n`,
		`skillsync_run_duration_seconds_count [1-9]`,
	} {
		if !regexp.MustCompile(want).MatchString(body) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if code := d.stop(); code != exitOK {
		t.Errorf("exit %d after cancellation, want 0", code)
	}
	logs := d.stderr.String()
	for _, want := range []string{`"msg":"skillsync started"`, `"next_run":`, `"msg":"run finished"`, `"msg":"skillsync stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	// Every line of a run carries its run_id once, the LivePerson client's
	// included. (hrsource logs its "hr source read" line without the run's
	// context, so it has none yet.)
	checked := 0
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"run `) || strings.Contains(line, `"msg":"liveperson request"`) {
			checked++
			if strings.Count(line, `"run_id":`) != 1 {
				t.Errorf("run log line without exactly one run_id: %s", line)
			}
		}
	}
	if checked < 6 {
		t.Errorf("only %d run log lines checked", checked)
	}
}

// gate holds matching LivePerson requests until opened.
type gate struct {
	mu      gosync.Mutex
	armed   bool
	reached chan struct{}
	open    chan struct{}
}

func (g *gate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.reached, g.open = true, make(chan struct{}), make(chan struct{})
}

// hold blocks the first request after arm until open is closed.
func (g *gate) hold() {
	g.mu.Lock()
	if !g.armed {
		g.mu.Unlock()
		return
	}
	g.armed = false
	reached, open := g.reached, g.open
	g.mu.Unlock()
	close(reached)
	<-open
}

type hookTransport struct {
	base  http.RoundTripper
	match func(*http.Request) bool
	hook  func()
}

func (h hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.match(r) {
		h.hook()
	}
	return h.base.RoundTrip(r)
}

func isSkillsRequest(method string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method && strings.HasSuffix(r.URL.Path, "/skills") }
}

func TestDaemonTriggerEndpoint(t *testing.T) {
	t.Parallel()
	f := setup(t, "run_at_start: true\n")
	g := &gate{}
	f.httpClient = &http.Client{Transport: hookTransport{base: f.srv.Client().Transport, match: isSkillsRequest("GET"), hook: g.hold}}
	d := f.startDaemon(&env{})

	if res := d.nextRun(); res.Run.Trigger != store.TriggerSchedule || res.Run.Outcome != store.OutcomeApplied {
		t.Fatalf("run_at_start: %+v", res.Run)
	}

	tests := []struct {
		name, method, path, token string
		status                    int
		want                      string
	}{
		{"no token", "POST", "/v1/runs", "", 401, `"unauthorized"`},
		{"wrong token", "POST", "/v1/runs", "not-the-token", 401, `"unauthorized"`},
		{"token prefix", "POST", "/v1/runs", testTriggerToken[:5], 401, `"unauthorized"`},
		{"bad mode", "POST", "/v1/runs?mode=destroy", testTriggerToken, 400, "mode must be plan or apply"},
		{"plan", "POST", "/v1/runs?mode=plan", testTriggerToken, 200, `"mode": "plan"`},
		{"apply", "POST", "/v1/runs", testTriggerToken, 200, `"outcome": "no_changes"`},
		{"GET is not a trigger", "GET", "/v1/runs", testTriggerToken, 405, ""},
	}
	for _, tc := range tests {
		code, body, hdr := d.do(tc.method, tc.path, tc.token)
		if code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %s", tc.name, code, body, tc.status, tc.want)
		}
		if code == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
		if code == 200 {
			if res := d.nextRun(); res.Run.Trigger != store.TriggerAPI {
				t.Errorf("%s: trigger %s, want api", tc.name, res.Run.Trigger)
			}
		}
	}

	// A run in progress: the next trigger is refused with 409.
	g.arm()
	if code, body, _ := d.do("POST", "/v1/runs?wait=false", testTriggerToken); code != 202 {
		t.Fatalf("wait=false: %d %s", code, body)
	}
	<-g.reached
	if code, body, _ := d.do("POST", "/v1/runs", testTriggerToken); code != 409 || !strings.Contains(body, "run_in_progress") {
		t.Errorf("trigger during a run: %d %s", code, body)
	}
	_, body, _ := d.do("GET", "/status", "")
	if !strings.Contains(body, `"run_in_progress": true`) {
		t.Errorf("/status during a run:\n%s", body)
	}
	close(g.open)
	if res := d.nextRun(); res.Run.Trigger != store.TriggerAPI || res.Run.Outcome != store.OutcomeNoChanges {
		t.Errorf("background run: %+v", res.Run)
	}
	if code := d.stop(); code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// TestDaemonShutdownMidRun cancels the daemon while a run is sending its
// first create batch: the batch completes, the run stops there, is
// recorded as interrupted, and the daemon exits 0.
func TestDaemonShutdownMidRun(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.lookup = envMap("DB_URL", f.dbURL, "LP_CLIENT_SECRET", testClientSecret, "TRIGGER_TOKEN", testTriggerToken, "BATCH_SIZE", "2")
	g := &gate{}
	g.arm()
	f.httpClient = &http.Client{Transport: hookTransport{base: f.srv.Client().Transport, match: isSkillsRequest("POST"), hook: g.hold}}
	stopping := make(chan struct{})
	d := f.startDaemon(&env{onStopping: func() { close(stopping) }})

	if code, body, _ := d.do("POST", "/v1/runs?wait=false", testTriggerToken); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	<-g.reached // the first create batch is about to leave
	exited := make(chan int, 1)
	go func() { exited <- d.stop() }()
	<-stopping // the daemon has asked the run to stop
	close(g.open)
	if code := <-exited; code != exitOK {
		t.Fatalf("exit %d after SIGTERM mid-run, want 0; logs:\n%s", code, d.stderr.String())
	}

	st, err := store.Open(context.Background(), f.dbURL, store.Options{Account: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	last, err := st.LastRun(context.Background())
	if err != nil || last == nil {
		t.Fatalf("last run: %v", err)
	}
	if last.Outcome != store.OutcomeInterrupted || last.FinishedAt == nil || last.Counts.Create != 2 {
		t.Errorf("run after shutdown: outcome %s, finished %v, created %d; want interrupted, finished, 2 (one batch)",
			last.Outcome, last.FinishedAt, last.Counts.Create)
	}
	if n := len(f.sim.Skills(false)); n != 2 {
		t.Errorf("LivePerson has %d skills, want the 2 of the batch in flight", n)
	}
	if !strings.Contains(d.stderr.String(), `"msg":"skillsync stopped"`) {
		t.Errorf("no clean stop in the logs")
	}
}

func TestTriggerDisabledWithoutToken(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	d := newDaemon(&app{cfg: &cfg, metrics: newMetrics()}, &env{})
	rec := httptest.NewRecorder()
	d.handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/runs", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST /v1/runs with no trigger_token: %d, want 404", rec.Code)
	}
}
