package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// This file runs skillsync for the soak: in-process (sync.Runner wired as
// the binary wires it, to the same configuration file, lpsim and
// database), or as the real binary; and it intercepts every request to
// lpsim to attribute it, fire the run's hand edits and disruptions, and
// record the writes.

// processHeader carries the in-process process's name on every request it
// sends, so that the soak can tell whose write LivePerson received (the
// binary's requests carry none: at most one binary runs at a time).
const processHeader = "X-Soak-Process"

// soakFileConfig is the part of the configuration file an in-process
// process reads: the sections the runner, the client and the source get.
type soakFileConfig struct {
	Database struct {
		URL string `yaml:"url"`
	} `yaml:"database"`
	LivePerson  liveperson.Config      `yaml:"liveperson"`
	HR          hrsource.Config        `yaml:"hr"`
	Skills      sync.SkillsConfig      `yaml:"skills"`
	Assignments sync.AssignmentsConfig `yaml:"assignments"`
	Sync        sync.SyncConfig        `yaml:"sync"`
}

// loadSoakConfig reads the fixture's configuration file as the binary does:
// ${VARS} from the binary's environment, sync and assignments decoded on
// top of their defaults.
func loadSoakConfig(f *fixture) (soakFileConfig, error) {
	b, err := os.ReadFile(f.cfgPath)
	if err != nil {
		return soakFileConfig{}, err
	}
	vars := map[string]string{}
	for _, kv := range f.env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	text := os.Expand(string(b), func(k string) string { return vars[k] })
	cfg := soakFileConfig{Sync: sync.DefaultSyncConfig(), Assignments: sync.DefaultAssignmentsConfig()}
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		return soakFileConfig{}, fmt.Errorf("%s: %w", f.cfgPath, err)
	}
	return cfg, nil
}

// knowsEmployeeIDField says whether this build's HR configuration can map
// a column onto the LivePerson user's employeeId (hr.fields.employee_id,
// which issue 11 asks for): then the soak maps it, and a user update has
// what it needs to keep the masked field.
func knowsEmployeeIDField() bool {
	dec := yaml.NewDecoder(strings.NewReader("employee_id: id\n"))
	dec.KnownFields(true)
	var fc hrsource.FieldsConfig
	return dec.Decode(&fc) == nil
}

// tcpProxy stands between an in-process process and PostgreSQL, so that
// killing the process cuts its database sessions as the death of a
// process would (and no session can be opened after).
type tcpProxy struct {
	ln     net.Listener
	target string

	mu     gosync.Mutex
	conns  []net.Conn
	closed bool
}

func newTCPProxy(target string) (*tcpProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &tcpProxy{ln: ln, target: target}
	go p.serve()
	return p, nil
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		d, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(c, d) {
			continue
		}
		go func() { _, _ = io.Copy(d, c); _ = d.Close() }()
		go func() { _, _ = io.Copy(c, d); _ = c.Close() }()
	}
}

func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

// kill stops accepting and closes every connection.
func (p *tcpProxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	_ = p.ln.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// soakTransport names the sync under way on each request and fails every
// request once the process is dead.
type soakTransport struct {
	base *http.Transport
	p    *inproc
}

func (t *soakTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.p.dead.Load() {
		return nil, errors.New("soak: the process is dead")
	}
	r = r.Clone(r.Context())
	r.Header.Set(processHeader, t.p.cur.Load().name)
	return t.base.RoundTrip(r)
}

// recordingStore is the real store; it notes the run each sync begins and
// when (the run lock is held from before then).
type recordingStore struct {
	*store.Store
	p *inproc
}

func (s recordingStore) BeginRun(ctx context.Context, trigger store.Trigger, mode store.Mode) (store.Run, error) {
	locked := time.Now()
	run, err := s.Store.BeginRun(ctx, trigger, mode)
	if err == nil {
		s.p.cur.Load().begun(run.ID, locked)
	}
	return run, err
}

// inproc is one in-process skillsync process. Like the daemon, it may run
// many syncs, one at a time.
type inproc struct {
	st     *store.Store
	lp     *liveperson.Client
	runner *sync.Runner
	proxy  *tcpProxy
	tr     *http.Transport
	dead   atomic.Bool
	cur    atomic.Pointer[invocation] // the sync under way (or the last)
	// config is the configuration file the process was built from.
	config string
}

// die kills the process: from now on it reaches neither LivePerson nor
// PostgreSQL, and its database sessions (its run lock) end.
func (p *inproc) die() {
	p.dead.Store(true)
	p.proxy.kill()
	p.tr.CloseIdleConnections()
}

// invocation is one sync the soak runs: in-process or the binary.
type invocation struct {
	name   string
	binary bool
	plan   runPlan

	started chan struct{} // proc or bin is set
	began   chan struct{} // its run began (in-process syncs)
	done    chan struct{}
	proc    *inproc
	bin     *proc

	mu       gosync.Mutex
	requests int
	writes   int
	runID    int64
	// lockStart is when the process held the run lock (before its run
	// began); lockEnd when it ended: the process ended or died, or the
	// lock's session was ended under it.
	lockStart, lockEnd time.Time
	lockLost           string // why lockEnd came before the process's end
	end                time.Time
	res                *sync.Result
	err                error
	code               int
	// trapNames are the names of a create that died with the process
	// before LivePerson applied it.
	trapNames []string
	// lagArmed: the lost create of lostCreateLag has been set up.
	lagArmed bool
	// successor is the second replica started when this sync lost its
	// lock: this sync's requests from then on wait until it has begun,
	// so that whatever this sync still sends meets a sync that holds the
	// lock.
	successor *invocation
}

func (inv *invocation) begun(runID int64, at time.Time) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.runID == 0 {
		close(inv.began)
	}
	inv.runID, inv.lockStart = runID, at
}

// lose ends the process's hold on the run lock at now, if it held it.
func (inv *invocation) lose(why string, now time.Time) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	// A binary's hold starts when its run began, which the soak reads
	// from the database afterwards.
	if (!inv.binary && inv.lockStart.IsZero()) || !inv.lockEnd.IsZero() || !inv.end.IsZero() {
		return false
	}
	inv.lockEnd, inv.lockLost = now, why
	return true
}

func (inv *invocation) finish(res *sync.Result, err error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.end = time.Now()
	if inv.lockEnd.IsZero() {
		inv.lockEnd = inv.end
	}
	inv.res, inv.err = res, err
}

// held returns the interval during which the process held the run lock
// (zero start: never).
func (inv *invocation) held() (time.Time, time.Time) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.lockStart, inv.lockEnd
}

func (s *seedRun) newInvocation(plan runPlan, binary bool) *invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := "p"
	if binary {
		kind = "bin"
	}
	inv := &invocation{name: fmt.Sprintf("%s%d", kind, len(s.invs)+1), binary: binary, plan: plan,
		started: make(chan struct{}), began: make(chan struct{}), done: make(chan struct{})}
	s.invs = append(s.invs, inv)
	s.byName[inv.name] = inv
	return inv
}

// newProcess wires an in-process skillsync as the binary does: the store,
// the LivePerson client, the HR source and the runner, from the
// configuration file.
func (s *seedRun) newProcess() (*inproc, error) {
	text, err := os.ReadFile(s.f.cfgPath)
	if err != nil {
		return nil, err
	}
	cfg, err := loadSoakConfig(s.f)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	proxy, err := newTCPProxy(u.Host)
	if err != nil {
		return nil, err
	}
	u.Host = proxy.ln.Addr().String()
	s.mu.Lock()
	s.procSeq++
	name := fmt.Sprintf("process %d", s.procSeq)
	s.mu.Unlock()
	p := &inproc{proxy: proxy, config: string(text)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if p.st, err = store.Open(ctx, u.String(), store.Options{Account: account}); err != nil {
		proxy.kill()
		return nil, err
	}
	log := slog.New(sync.LogHandler(slog.NewJSONHandler(&s.log, &slog.HandlerOptions{Level: slog.LevelInfo}))).With("process", name)
	p.tr = s.f.lp.Client().Transport.(*http.Transport).Clone()
	hc := &http.Client{Transport: &soakTransport{base: p.tr, p: p}}
	// Retry and 429 waits run at a twentieth of their length: the
	// schedule is LivePerson's, the soak's seconds are not.
	p.lp, err = liveperson.New(cfg.LivePerson, liveperson.Options{HTTPClient: hc, Logger: log,
		Delay: func(d time.Duration) time.Duration { return d / 20 }})
	if err != nil {
		p.close()
		return nil, err
	}
	src, err := hrsource.New(cfg.HR, hrsource.Options{Logger: log})
	if err != nil {
		p.close()
		return nil, err
	}
	p.runner, err = sync.NewRunner(sync.Deps{
		Source: src, Skills: p.lp, Users: p.lp, Store: recordingStore{Store: p.st, p: p},
		Logger: log, BatchSize: cfg.LivePerson.BatchSize,
	}, sync.Config{Skills: cfg.Skills, Assignments: cfg.Assignments, Sync: cfg.Sync})
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *inproc) close() {
	if p.lp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.lp.Close(ctx)
		cancel()
	}
	if p.st != nil {
		p.st.Close()
	}
	p.proxy.kill()
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
}

// startInProcess runs one in-process sync in the background, in the
// seed's long-lived process (started anew when it died, when the
// configuration changed, or when fresh says so).
func (s *seedRun) startInProcess(plan runPlan, fresh bool) *invocation {
	inv := s.newInvocation(plan, false)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(inv.done)
		p, err := s.process(fresh)
		if err != nil {
			close(inv.started)
			s.violate("setup", "process for %s could not start: %v", inv.name, err)
			inv.finish(nil, err)
			return
		}
		s.runIn(p, inv)
	}()
	return inv
}

// process returns the seed's long-lived process.
func (s *seedRun) process(fresh bool) (*inproc, error) {
	s.mu.Lock()
	p := s.daemon
	s.mu.Unlock()
	if p != nil {
		text, err := os.ReadFile(s.f.cfgPath)
		if err != nil {
			return nil, err
		}
		if p.dead.Load() || fresh || string(text) != p.config {
			p.close()
			p = nil
		}
	}
	if p == nil {
		var err error
		if p, err = s.newProcess(); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.daemon = p
	s.mu.Unlock()
	return p, nil
}

// runIn runs the sync inv in process p.
func (s *seedRun) runIn(p *inproc, inv *invocation) {
	defer func() {
		if r := recover(); r != nil {
			s.violate("panic", "sync %s panicked: %v", inv.name, r)
			inv.finish(nil, fmt.Errorf("panic: %v", r))
		}
	}()
	p.cur.Store(inv)
	inv.proc = p
	close(inv.started)
	for attempt := 1; ; attempt++ {
		res, err := p.runner.RunOnce(context.Background(), store.ModeApply, store.TriggerManual)
		if errors.Is(err, sync.ErrRunInProgress) && attempt < 20 && !p.dead.Load() {
			// A dead process's session may take a moment to end.
			s.waitLockFree()
			continue
		}
		inv.finish(res, err)
		return
	}
}

// prepareStandby builds, ahead of a lost lock, the second replica's
// process, so that its sync starts at once.
func (s *seedRun) prepareStandby() {
	p, err := s.newProcess()
	if err != nil {
		s.violate("setup", "the standby process could not start: %v", err)
		return
	}
	s.mu.Lock()
	s.standby = p
	s.mu.Unlock()
}

// startStandby runs one sync in the standby process (a new one when there
// is none), which ends with it.
func (s *seedRun) startStandby(p *inproc) *invocation {
	inv := s.newInvocation(runPlan{}, false)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(inv.done)
		if p == nil {
			var err error
			if p, err = s.newProcess(); err != nil {
				close(inv.started)
				s.violate("setup", "process for %s could not start: %v", inv.name, err)
				inv.finish(nil, err)
				return
			}
		}
		defer p.close()
		s.runIn(p, inv)
	}()
	return inv
}

// closeDaemon ends the seed's long-lived process.
func (s *seedRun) closeDaemon() {
	s.mu.Lock()
	p := s.daemon
	s.daemon = nil
	s.mu.Unlock()
	if p != nil {
		p.close()
	}
}

// runBinary runs `skillsync sync` to its end (or its kill).
func (s *seedRun) runBinary(plan runPlan) *invocation {
	s.waitLockFree()
	inv := s.newInvocation(plan, true)
	s.mu.Lock()
	s.binary = inv
	s.mu.Unlock()
	p := s.f.start("sync")
	inv.bin = p
	close(inv.started)
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		p.kill()
		s.violate("hang", "the binary's sync did not end within 3 minutes\n%s", tailOf(p.stderr.String(), 4000))
	}
	inv.mu.Lock()
	inv.code = p.code
	inv.mu.Unlock()
	inv.finish(nil, nil)
	close(inv.done)
	s.mu.Lock()
	s.binary = nil
	s.mu.Unlock()
	out := p.stderr.String()
	if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
		s.violate("panic", "the binary panicked:\n%s", tailOf(out, 4000))
	}
	// The seed's log has the binary's lines too.
	_, _ = s.log.Write([]byte(out))
	return inv
}

func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// processOf says which process sent r.
func (s *seedRun) processOf(r *http.Request) *invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name := r.Header.Get(processHeader); name != "" {
		return s.byName[name]
	}
	return s.binary
}

// writeRecord is one write request LivePerson received.
type writeRecord struct {
	inv    *invocation
	at     time.Time
	method string
	path   string
}

// intercept sees every request to lpsim: it counts each process's
// requests to the Skills and Users APIs, records writes, and fires the
// process's hand edits and disruptions at the drawn request.
func (s *seedRun) intercept(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !strings.HasPrefix(r.URL.Path, skillsPath) && !strings.HasPrefix(r.URL.Path, usersPath) {
		next.ServeHTTP(w, r)
		return
	}
	inv := s.processOf(r)
	if inv == nil {
		s.violate("harness", "a request no process of the soak sent: %s %s", r.Method, r.URL.Path)
		next.ServeHTTP(w, r)
		return
	}
	write := r.Method != http.MethodGet
	inv.mu.Lock()
	successor := inv.successor
	inv.mu.Unlock()
	if successor != nil {
		select {
		case <-successor.began:
		case <-successor.done:
		case <-time.After(10 * time.Second):
		}
	}
	inv.mu.Lock()
	inv.requests++
	n, wn := inv.requests, inv.writes
	if write {
		inv.writes++
		wn = inv.writes
	}
	inv.mu.Unlock()
	if write {
		s.mu.Lock()
		s.writes = append(s.writes, writeRecord{inv: inv, at: time.Now(), method: r.Method, path: r.URL.Path})
		s.mu.Unlock()
	}
	p := inv.plan
	for _, e := range p.edits[n] {
		s.handEdit(e)
	}
	if p.restartAt == n {
		s.restartPG(p.restartLate)
	}
	if p.killAt == n || (write && p.killAtWrite == wn) {
		s.kill(inv, w, r, next)
		return
	}
	if write && p.lostLockAt == wn {
		// The run waits for the lost lock and the second sync it starts
		// (chaosRun's s.wg), not only for this sync: LivePerson's answer
		// may be lost (a fault), and the sync may end before the session
		// is gone. A lost lock still under way when the next run began
		// terminated that run's session while the soak counted it as
		// holding the lock, and started a second replica beside it (seed
		// 443: p3's lost lock ended p5's session and started p6).
		// Added while the sync still waits for this request, so before
		// chaosRun waits.
		s.wg.Add(1)
		defer s.wg.Done()
	}
	lostCreate := false
	if p.lostCreateLag && r.Method == http.MethodPost && r.URL.Path == skillsPath {
		inv.mu.Lock()
		lostCreate, inv.lagArmed = !inv.lagArmed, true
		inv.mu.Unlock()
		if lostCreate {
			s.f.sim.InjectFault(lpsim.Fault{Method: http.MethodPost, PathPrefix: skillsPath, LoseResponse: true})
		}
	}
	next.ServeHTTP(w, r)
	if lostCreate {
		s.f.sim.InjectFault(lpsim.Fault{Method: http.MethodGet, PathPrefix: skillsPath, Lag: 1, Times: 2})
		s.count(disruptLostCreateLg)
	}
	if write && p.lostLockAt == wn {
		s.loseLock(inv)
	}
}

// kill kills the process that sent r while LivePerson has its request:
// LivePerson applies it first when the plan says so; the process never
// gets the answer.
func (s *seedRun) kill(inv *invocation, w http.ResponseWriter, r *http.Request, next http.Handler) {
	<-inv.started
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	inv.lose("killed", time.Now())
	if inv.binary {
		s.count(disruptKillBinary)
		inv.bin.kill()
	} else {
		s.count(disruptKillInProc)
		inv.proc.die()
	}
	if inv.plan.killApplied {
		next.ServeHTTP(httptest.NewRecorder(), r)
	} else if r.Method == http.MethodPost && r.URL.Path == skillsPath {
		var items []struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(body, &items) == nil {
			inv.mu.Lock()
			for _, it := range items {
				inv.trapNames = append(inv.trapNames, it.Name)
			}
			inv.mu.Unlock()
		}
	}
	panic(http.ErrAbortHandler)
}

// loseLock ends the database session that holds inv's run lock (as a
// PostgreSQL failover, idle_session_timeout or a proxy would) and starts a
// second sync at once.
func (s *seedRun) loseLock(inv *invocation) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pid, err := s.lockHolder(ctx)
	if err != nil || pid == 0 {
		s.notef("lost lock not injected for %s: no session holds the lock (%v)", inv.name, err)
		return
	}
	// The hold ends when the session is gone, not when it is asked to
	// end: pg_terminate_backend only signals the backend, which may answer
	// the process's lock check meanwhile (seed 410 took the signal for the
	// end, and a write the process sent after a successful check for a
	// write outside its hold). With a timeout it waits for the backend to
	// exit.
	if _, err := s.admin.Exec(ctx, `SELECT pg_terminate_backend($1, 20000)`, pid); err != nil {
		s.violate("harness", "pg_terminate_backend(%d): %v", pid, err)
		return
	}
	// Wait until the session is gone, so that the second sync finds the
	// lock free and nothing of the first runs with it meanwhile.
	if !pollUntil(ctx, func() bool {
		var n int
		return s.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n) == nil && n == 0
	}) {
		s.violate("harness", "session %d still alive 30 s after pg_terminate_backend", pid)
	}
	inv.lose("its session was terminated", time.Now())
	s.count(disruptLostLock)
	s.mu.Lock()
	standby := s.standby
	s.standby = nil
	s.mu.Unlock()
	b := s.startStandby(standby)
	inv.mu.Lock()
	inv.successor = b
	inv.mu.Unlock()
}

// restartPG restarts the seed's PostgreSQL: every session ends, and with
// it every run lock. With late, PostgreSQL comes back only once the chaos
// run is over.
func (s *seedRun) restartPG(late bool) {
	now := time.Now()
	s.mu.Lock()
	invs := append([]*invocation(nil), s.invs...)
	s.mu.Unlock()
	for _, inv := range invs {
		inv.lose("PostgreSQL restarted", now)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.cluster.Pause(ctx); err != nil {
		s.violate("harness", "pause PostgreSQL: %v", err)
	}
	s.count(disruptPGRestart)
	s.mu.Lock()
	s.restarted = true
	s.mu.Unlock()
	if late {
		s.mu.Lock()
		s.resumeLater = true
		s.mu.Unlock()
		return
	}
	if err := s.cluster.Resume(ctx); err != nil {
		s.violate("harness", "resume PostgreSQL: %v", err)
	}
}

// lockHolder returns the pid of the session holding the run lock in the
// seed's database (0: none).
func (s *seedRun) lockHolder(ctx context.Context) (int32, error) {
	var pid int32
	err := s.admin.QueryRow(ctx, `
		SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND (classid::bigint << 32) | objid::bigint = $1`, store.AccountLockKey(store.DefaultRunLockKey, account)).Scan(&pid)
	if err != nil && strings.Contains(err.Error(), "no rows") {
		return 0, nil
	}
	return pid, err
}

// waitLockFree waits until no session holds the run lock: a process the
// soak killed may leave its session for a moment.
func (s *seedRun) waitLockFree() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !pollUntil(ctx, func() bool {
		pid, err := s.lockHolder(ctx)
		return err == nil && pid == 0
	}) {
		s.notef("the run lock was still held 30 s after the last process ended")
	}
}

// pollUntil evaluates cond every 5 ms until it holds or ctx ends.
func pollUntil(ctx context.Context, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}
