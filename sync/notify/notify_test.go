package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgtest"
	"github.com/skillsync/skillsync/sync"
	"github.com/skillsync/skillsync/sync/notify"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var acct = notify.Account{Name: "default", ID: "12345678"}

// env is one database with a store on it.
type env struct {
	t   *testing.T
	url string
	st  *store.Store
}

func setup(t *testing.T) *env {
	t.Helper()
	url := pgtest.DB(t)
	return &env{t: t, url: url, st: open(t, url)}
}

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), url, store.Options{Account: acct.ID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// run records a finished run; deleted are skills its journal deleted.
func (e *env) run(mode store.Mode, outcome store.Outcome, errText string, counts store.Counts, deleted ...string) *sync.Result {
	e.t.Helper()
	ctx := e.t.Context()
	r, err := e.st.BeginRun(ctx, store.TriggerSchedule, mode)
	if err != nil {
		e.t.Fatal(err)
	}
	var ops []store.Operation
	for i, name := range deleted {
		id := int64(100 + i)
		ops = append(ops, store.Operation{Action: "delete", SkillName: name, SkillID: &id, State: store.OpDone})
	}
	if _, err := e.st.JournalAdd(ctx, r.ID, ops); err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	r.Outcome, r.Error, r.Counts, r.FinishedAt = outcome, errText, counts, &now
	if err := e.st.FinishRun(ctx, r); err != nil {
		e.t.Fatal(err)
	}
	res := &sync.Result{Run: r}
	if outcome == store.OutcomeRefused {
		res.Refusal = errText
	}
	return res
}

// receiver is a sink endpoint that records what it is sent.
type receiver struct {
	*httptest.Server
	mu   gosync.Mutex
	reqs []received
	// answer, when set, decides the status of the nth request (from 1).
	answer func(n int, w http.ResponseWriter, r *http.Request) bool
}

type received struct {
	body   []byte
	header http.Header
	path   string
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request) bool) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{body: body, header: r.Header.Clone(), path: r.URL.Path})
		n := len(rc.reqs)
		rc.mu.Unlock()
		if rc.answer != nil && rc.answer(n, w, r) {
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// fastSender retries at once and polls often.
func fastSender(cfg notify.Config, st notify.Store, opts notify.SenderOptions) *notify.Sender {
	if opts.Backoff == nil {
		opts.Backoff = []time.Duration{time.Millisecond}
	}
	opts.Poll = 20 * time.Millisecond
	return notify.NewSender(cfg, st, opts)
}

func flush(t *testing.T, s *notify.Sender, runID int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n, err := s.Flush(ctx, runID)
	if err != nil || n != 0 {
		t.Fatalf("flush run %d: %d left, %v", runID, n, err)
	}
}

func deliveries(t *testing.T, st *store.Store, runID int64) []store.Delivery {
	t.Helper()
	ds, err := st.RunDeliveries(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

const refusal = "source health: active headcount 100 is 92% below the last accepted 1200 (sync.max_active_drop_percent 20); fix the feed or the setting, then run again"

// TestEverySinkType sends a refusal to a receiver of each type and checks
// the body each one gets.
func TestEverySinkType(t *testing.T) {
	t.Parallel()
	e := setup(t)
	hook, slack, teams := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	cfg := notify.Config{PublicURL: "https://skillsync.example.com/", Sinks: []notify.Sink{
		{Name: "hook", Type: "webhook", URL: secret.Secret(hook.URL + "/in"), Secret: "whsec-0123456789"},
		{Name: "chat", Type: "slack", URL: secret.Secret(slack.URL + "/services/T0/B0/x")},
		{Name: "teams", Type: "teams", URL: secret.Secret(teams.URL + "/webhookb2/y")},
	}}
	counts := map[string]int{}
	var mu gosync.Mutex
	observe := func(sink, event, status string) {
		mu.Lock()
		counts[sink+"/"+event+"/"+status]++
		mu.Unlock()
	}
	n := notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{Observe: observe})
	res := e.run(store.ModeApply, store.OutcomeRefused, refusal, store.Counts{})
	n.OnRunEnd(t.Context(), res)
	flush(t, fastSender(cfg, e.st, notify.SenderOptions{Observe: observe}), res.Run.ID)

	id := strconv.FormatInt(res.Run.ID, 10)
	runURL := "https://skillsync.example.com/runs/" + id

	h := hook.got()
	if len(h) != 1 {
		t.Fatalf("webhook got %d requests, want 1", len(h))
	}
	var body map[string]any
	if err := json.Unmarshal(h[0].body, &body); err != nil {
		t.Fatal(err)
	}
	keys := []string{"event", "account", "run_id", "outcome", "summary", "reason", "url", "at"}
	if len(body) != len(keys) {
		t.Errorf("webhook body has keys %v, want exactly %v", body, keys)
	}
	for _, k := range keys {
		if _, ok := body[k]; !ok {
			t.Errorf("webhook body lacks %q: %s", k, h[0].body)
		}
	}
	if body["event"] != "refused" || body["account"] != "default" || body["run_id"] != float64(res.Run.ID) ||
		body["outcome"] != "refused" || body["reason"] != refusal || body["url"] != runURL {
		t.Errorf("webhook body: %s", h[0].body)
	}
	if _, err := time.Parse(time.RFC3339, body["at"].(string)); err != nil {
		t.Errorf("at: %v", err)
	}
	if s := body["summary"].(string); !strings.Contains(s, "skillsync apply "+id) || !strings.Contains(s, "92%") {
		t.Errorf("summary lacks what to do or the numbers: %s", s)
	}
	if got, want := h[0].header.Get(notify.SignatureHeader), notify.Sign("whsec-0123456789", h[0].body); got != want || !strings.HasPrefix(got, "sha256=") {
		t.Errorf("signature %q, want %q", got, want)
	}

	s := slack.got()
	if len(s) != 1 {
		t.Fatalf("slack got %d requests, want 1", len(s))
	}
	var sm struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct {
				Type, Text string
			} `json:"text"`
			Elements []struct{ Type, Text string } `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(s[0].body, &sm); err != nil {
		t.Fatal(err)
	}
	if sm.Text == "" || len(sm.Blocks) < 3 || sm.Blocks[0].Type != "header" {
		t.Errorf("slack message: %s", s[0].body)
	}
	if !bytes.Contains(s[0].body, []byte("skillsync apply "+id)) || !bytes.Contains(s[0].body, []byte("<"+runURL+"|")) ||
		!bytes.Contains(s[0].body, []byte("92%")) {
		t.Errorf("slack message lacks the approval, the link or the numbers: %s", s[0].body)
	}
	if s[0].header.Get(notify.SignatureHeader) != "" {
		t.Error("a slack message carries a signature")
	}

	tm := teams.got()
	if len(tm) != 1 {
		t.Fatalf("teams got %d requests, want 1", len(tm))
	}
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string           `json:"type"`
				Version string           `json:"version"`
				Body    []map[string]any `json:"body"`
				Actions []map[string]any `json:"actions"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(tm[0].body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
		msg.Attachments[0].Content.Type != "AdaptiveCard" || len(msg.Attachments[0].Content.Actions) != 1 ||
		msg.Attachments[0].Content.Actions[0]["url"] != runURL {
		t.Errorf("teams message: %s", tm[0].body)
	}
	if !bytes.Contains(tm[0].body, []byte("skillsync apply "+id)) {
		t.Errorf("teams message lacks the approval: %s", tm[0].body)
	}

	for _, d := range deliveries(t, e.st, res.Run.ID) {
		if d.Status != store.DeliverySent || d.Attempts != 1 {
			t.Errorf("delivery %+v", d)
		}
	}
	for _, k := range []string{"hook/refused/sent", "chat/refused/sent", "teams/refused/sent"} {
		if counts[k] != 1 {
			t.Errorf("metric %s = %d, want 1 (%v)", k, counts[k], counts)
		}
	}
}

// TestRetriesUntilDelivered: a receiver that fails twice gets the message
// on the third attempt; each attempt is recorded.
func TestRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) bool {
		if n <= 2 {
			http.Error(w, "upstream busy", http.StatusBadGateway)
			return true
		}
		return false
	})
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	var statuses []string
	var mu gosync.Mutex
	observe := func(_, _, status string) { mu.Lock(); statuses = append(statuses, status); mu.Unlock() }
	res := e.run(store.ModeApply, store.OutcomeFailed, "read HR source: connection refused", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	flush(t, fastSender(cfg, e.st, notify.SenderOptions{Observe: observe}), res.Run.ID)

	if n := len(rc.got()); n != 3 {
		t.Fatalf("receiver got %d requests, want 3", n)
	}
	ds := deliveries(t, e.st, res.Run.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliverySent || ds[0].Attempts != 3 || ds[0].LastError != "" {
		t.Fatalf("deliveries %+v", ds)
	}
	as, err := e.st.DeliveryAttempts(t.Context(), ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 || *as[0].HTTPStatus != 502 || !strings.Contains(as[0].Error, "HTTP 502: upstream busy") || *as[2].HTTPStatus != 200 || as[2].Error != "" {
		t.Errorf("attempts %+v", as)
	}
	if strings.Join(statuses, ",") != "retry,retry,sent" {
		t.Errorf("metric statuses %v", statuses)
	}
}

// TestHangingReceiverTimesOut: each attempt ends at the request timeout;
// after three the message is given up, and the run was never waited for.
func TestHangingReceiverTimesOut(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	})
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "slow", Type: "slack", URL: secret.Secret(rc.URL + "/services/T/B/hangs")}}}
	res := e.run(store.ModeApply, store.OutcomeFailed, "boom", store.Counts{})
	start := time.Now()
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("queueing took %s", d)
	}
	flush(t, fastSender(cfg, e.st, notify.SenderOptions{Timeout: 200 * time.Millisecond}), res.Run.ID)
	ds := deliveries(t, e.st, res.Run.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryFailed || ds[0].Attempts != 3 || !strings.Contains(ds[0].LastError, "timeout") {
		t.Fatalf("deliveries %+v", ds)
	}
	if strings.Contains(ds[0].LastError, "hangs") || strings.Contains(ds[0].LastError, rc.URL) {
		t.Errorf("the error names the sink URL: %s", ds[0].LastError)
	}
	if n := len(rc.got()); n != 3 {
		t.Errorf("receiver got %d requests, want 3", n)
	}
}

// TestTwoReplicasSendEachOnce: two senders on two pools of one database
// share the outbox; every message arrives exactly once.
func TestTwoReplicasSendEachOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	other := open(t, e.url)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	res := e.run(store.ModeApply, store.OutcomeApplied, "", store.Counts{Summary: store.Summary{Create: 1}})
	const n = 60
	ds := make([]store.NewDelivery, n)
	for i := range ds {
		ds[i] = store.NewDelivery{RunID: res.Run.ID, AccountID: acct.ID, Sink: "hook", Event: "applied",
			Payload: json.RawMessage(`{"event":"applied","run_id":` + strconv.FormatInt(res.Run.ID, 10) + `}`)}
	}
	if _, err := e.st.EnqueueDeliveries(t.Context(), acct.ID, false, ds); err != nil {
		t.Fatal(err)
	}
	var wg gosync.WaitGroup
	for _, st := range []*store.Store{e.st, other} {
		s := fastSender(cfg, st, notify.SenderOptions{Batch: 4})
		wg.Go(func() { flush(t, s, res.Run.ID) })
	}
	wg.Wait()
	seen := map[string]int{}
	for _, r := range rc.got() {
		seen[r.header.Get("X-Skillsync-Delivery")]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages arrived, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("message %s arrived %d times", id, c)
		}
	}
	for _, d := range deliveries(t, e.st, res.Run.ID) {
		if d.Status != store.DeliverySent || d.Attempts != 1 {
			t.Errorf("delivery %d: %s after %d attempts", d.ID, d.Status, d.Attempts)
		}
	}
}

// TestRestartSendsWhatWasQueued: a process that queued messages and died,
// one of them mid-attempt, leaves them to the next process.
func TestRestartSendsWhatWasQueued(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL), Events: notify.Events()}}}
	// The first process: it queues and dies before sending, having
	// claimed one message (a short lease: it dies mid-attempt).
	first := open(t, e.url)
	res := e.run(store.ModeApply, store.OutcomeApplied, "", store.Counts{Summary: store.Summary{Delete: 2}}, "Sales", "Support")
	if n, err := notify.NewNotifier(cfg, acct, first, notify.NotifierOptions{}).Enqueue(t.Context(), res); err != nil || n != 2 {
		t.Fatalf("queued %d, %v; want deleted and applied", n, err)
	}
	claimed, err := first.ClaimDeliveries(t.Context(), 1, 50*time.Millisecond, notify.MaxAttempts, nil, 0)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	first.Close()
	if len(rc.got()) != 0 {
		t.Fatal("sent before the restart")
	}
	// The next process.
	flush(t, fastSender(cfg, open(t, e.url), notify.SenderOptions{}), res.Run.ID)
	events := map[string]int{}
	for _, r := range rc.got() {
		var b notify.WebhookBody
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatal(err)
		}
		events[b.Event]++
		if b.Event == "deleted" && !strings.Contains(b.Summary, "Sales, Support") {
			t.Errorf("the deleted message does not name the skills: %s", b.Summary)
		}
	}
	if events["deleted"] != 1 || events["applied"] != 1 || len(events) != 2 {
		t.Errorf("after the restart the receiver got %v", events)
	}
}

// TestRepeatAfter: the same refusal is announced once per repeat_after;
// another reason is news at once.
func TestRepeatAfter(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL), RepeatAfter: time.Hour}}}
	conn, err := pgx.Connect(t.Context(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Time passes on the database's clock: what was announced moves back.
	pass := func(d time.Duration) {
		t.Helper()
		if _, err := conn.Exec(t.Context(), `UPDATE notify_state SET announced_at = announced_at - $1::bigint * interval '1 microsecond'`,
			d.Microseconds()); err != nil {
			t.Fatal(err)
		}
	}
	var suppressed int
	n := notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{
		Observe: func(_, _, status string) {
			if status == notify.StatusSuppressed {
				suppressed++
			}
		}})
	steps := []struct {
		after  time.Duration
		reason string
		want   int
	}{
		{0, refusal, 1},
		{10 * time.Minute, refusal, 0},                    // the same state: suppressed
		{10 * time.Minute, "source health: 0 records", 1}, // another reason
		{10 * time.Minute, "source health: 0 records", 0}, // suppressed
		{50 * time.Minute, "source health: 0 records", 1}, // an hour after it was announced
		{time.Minute, refusal, 1},                         // the first reason again: its state was replaced
	}
	for i, s := range steps {
		pass(s.after)
		res := e.run(store.ModeApply, store.OutcomeRefused, s.reason, store.Counts{})
		got, err := n.Enqueue(t.Context(), res)
		if err != nil || got != s.want {
			t.Fatalf("step %d: queued %d, %v; want %d", i, got, err, s.want)
		}
	}
	if suppressed != 2 {
		t.Errorf("suppressed counted %d times, want 2", suppressed)
	}
}

// TestRecovered: the first good apply run after bad ones is announced, once,
// and ends the bad state: the same refusal again is news.
func TestRecovered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	n := notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{})
	steps := []struct {
		mode    store.Mode
		outcome store.Outcome
		want    []string
	}{
		{store.ModeApply, store.OutcomeNoChanges, nil},
		{store.ModeApply, store.OutcomeRefused, []string{"refused"}},
		{store.ModePlan, store.OutcomeNoChanges, nil},                  // dry runs announce nothing, nor end a state
		{store.ModeApply, store.OutcomeInterrupted, nil},               // passed over
		{store.ModeApply, store.OutcomeRefused, nil},                   // the same refusal: suppressed
		{store.ModeApply, store.OutcomeApplied, []string{"recovered"}}, // applied is not among the default events
		{store.ModeApply, store.OutcomeNoChanges, nil},
		{store.ModeApply, store.OutcomeRefused, []string{"refused"}}, // a new bad state
		{store.ModeApply, store.OutcomeNoChanges, []string{"recovered"}},
	}
	for i, s := range steps {
		errText := ""
		if s.outcome == store.OutcomeRefused {
			errText = refusal
		}
		res := e.run(s.mode, s.outcome, errText, store.Counts{Summary: store.Summary{Create: 1}})
		n.OnRunEnd(t.Context(), res)
		var got []string
		for _, d := range deliveries(t, e.st, res.Run.ID) {
			got = append(got, d.Event)
		}
		if strings.Join(got, ",") != strings.Join(s.want, ",") {
			t.Errorf("step %d (%s %s): queued %v, want %v", i, s.mode, s.outcome, got, s.want)
		}
	}
}

// TestNoSecretAnywhere: the sink URL and the webhook secret appear in no
// message, no row and no log line, even when a run's error and a
// receiver's answer quote them.
func TestNoSecretAnywhere(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const path, signKey = "/hooks/T0SECRET/B0SECRET/xoxo-path-secret", "whsec-do-not-leak-42"
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			http.Error(w, "unknown hook "+r.URL.Path+" signed "+r.Header.Get(notify.SignatureHeader), http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	sinkURL := rc.URL + path
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(sinkURL), Secret: signKey},
		{Name: "chat", Type: "slack", URL: secret.Secret(sinkURL)}}}
	var logs bytes.Buffer
	var mu gosync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res := e.run(store.ModeApply, store.OutcomeFailed, "post "+sinkURL+" with "+signKey+": refused", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{Logger: log}).OnRunEnd(t.Context(), res)
	flush(t, fastSender(cfg, e.st, notify.SenderOptions{Logger: log}), res.Run.ID)

	got := rc.got()
	if len(got) != 3 {
		t.Fatalf("receiver got %d requests, want 3 (one failure, then both sinks)", len(got))
	}
	check := func(where, text string) {
		t.Helper()
		for _, s := range []string{path, signKey, "T0SECRET"} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds a secret (%q):\n%s", where, s, text)
			}
		}
	}
	for _, r := range got {
		check("a message", string(r.body))
	}
	check("the log", logs.String())
	conn, err := pgx.Connect(t.Context(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, table := range []string{"notify_deliveries", "notify_attempts", "notify_state"} {
		var dump string
		if err := conn.QueryRow(t.Context(), `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM `+table+` t`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		check(table, dump)
	}
	var attemptErr string
	if err := conn.QueryRow(t.Context(), `SELECT error FROM notify_attempts WHERE http_status = 503`).Scan(&attemptErr); err != nil ||
		!strings.Contains(attemptErr, "HTTP 503: unknown hook [redacted]") {
		t.Errorf("the failed attempt is recorded redacted: %q %v", attemptErr, err)
	}
}

type lockedWriter struct {
	mu *gosync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestGivenUpIsNotTold: a refusal whose message was given up after its
// last attempt did not tell anybody: the same refusal at the next run is
// queued again, not suppressed; once one is delivered, the next is.
func TestGivenUpIsNotTold(t *testing.T) {
	t.Parallel()
	e := setup(t)
	down := true
	var mu gosync.Mutex
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
		return down
	})
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	n := notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{})
	s := fastSender(cfg, e.st, notify.SenderOptions{})
	want := []int{1, 1, 0} // given up; delivered; suppressed
	for i, w := range want {
		if i == 1 {
			mu.Lock()
			down = false
			mu.Unlock()
		}
		res := e.run(store.ModeApply, store.OutcomeRefused, refusal, store.Counts{})
		got, err := n.Enqueue(t.Context(), res)
		if err != nil || got != w {
			t.Fatalf("run %d: queued %d, %v; want %d", i, got, err, w)
		}
		flush(t, s, res.Run.ID)
	}
	if got := len(rc.got()); got != 4 {
		t.Errorf("receiver got %d requests, want 3 failed attempts and 1 delivery", got)
	}
}

// TestFlushIsBounded: the CLI's wait for a run's messages ends with its
// context, saying how many still wait; they stay queued for later.
func TestFlushIsBounded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	})
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "slow", Type: "teams", URL: secret.Secret(rc.URL)}}}
	res := e.run(store.ModeApply, store.OutcomeFailed, "boom", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	left, err := fastSender(cfg, e.st, notify.SenderOptions{Timeout: time.Minute}).Flush(ctx, res.Run.ID)
	if err != nil || left != 1 {
		t.Fatalf("flush: %d left, %v; want 1 left", left, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("flush took %s", d)
	}
	ds := deliveries(t, e.st, res.Run.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryQueued || ds[0].Attempts != 1 {
		t.Errorf("deliveries %+v: want queued for another attempt", ds)
	}
}
