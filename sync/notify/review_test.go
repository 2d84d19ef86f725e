package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
	"github.com/skillsync/skillsync/sync/notify"
)

// TestDriftingReasonStaysQuiet: a refusal that persists run after run
// with numbers that move (the headcount falls one more person, another
// record is the first example of a missing field) is the same state:
// announced once per repeat_after, not at every run. Another guard, or
// another missing field, is news.
func TestDriftingReasonStaysQuiet(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	n := notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{})
	const drop = "source health: active headcount fell from %d to %d (%s%%), more than sync.max_active_drop_percent (20%%) against the last accepted snapshot; fix the feed or the setting, then run again"
	const field = "source health: %d of %d records lack required field %q (sync.required_fields), e.g. record %s (hr.csv:%d); fix the feed or the setting, then run again"
	steps := []struct {
		reason string
		want   int
	}{
		{sprintf(drop, 1200, 900, "25.0"), 1},
		{sprintf(drop, 1200, 899, "25.1"), 0}, // one more person gone: the same state
		{sprintf(drop, 1210, 850, "29.8"), 0},
		{sprintf(field, 12, 900, "email", "E1001", 4), 1}, // another guard
		{sprintf(field, 13, 901, "email", "E0417", 2), 0}, // other numbers, another example
		{sprintf(field, 13, 901, "team", "E0417", 2), 1},  // another field
		{"assignments: 40 of 100 users would lose skills (40.0%), more than assignments.max_changes_percent (10%)", 1},
		{"assignments: 41 of 100 users would lose skills (41.0%), more than assignments.max_changes_percent (10%)", 0},
	}
	for i, s := range steps {
		res := e.run(store.ModeApply, store.OutcomeRefused, s.reason, store.Counts{})
		got, err := n.Enqueue(t.Context(), res)
		if err != nil || got != s.want {
			t.Errorf("step %d: queued %d, %v; want %d (%s)", i, got, err, s.want, s.reason)
		}
	}
	// A failure that persists, quoting the server's request id and time.
	const failure = `read skills: GET /api/account/123/configuration/le-users/skills: HTTP 503: {"requestId":"%s","time":"%s"}`
	failed := []struct {
		reason string
		want   int
	}{
		{sprintf(failure, "9f1c2e3a-77d0-4b9e-a1f2-0c3d4e5f6a7b", "2026-12-02T03:00:00Z"), 1},
		{sprintf(failure, "b04a7c1d-e2f3-4a5b-8c6d-7e8f9a0b1c2d", "2026-12-02T04:00:01Z"), 0},
		{sprintf(failure, "ab12cd34ef", "2026-12-02T05:00:00Z"), 0},
		{"read skills: GET /api/account/123/configuration/le-users/skills: HTTP 401: unauthorized", 1},
	}
	for i, s := range failed {
		res := e.run(store.ModeApply, store.OutcomeFailed, s.reason, store.Counts{})
		got, err := n.Enqueue(t.Context(), res)
		if err != nil || got != s.want {
			t.Errorf("step %d: queued %d, %v; want %d (%s)", i, got, err, s.want, s.reason)
		}
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// TestEchoedURLPartsAreRedacted: a receiver that quotes the sink's URL
// back the way JSON encoders of some languages write it (slashes escaped),
// or only the token part of its path or query, leaves no secret in the
// recorded error.
func TestEchoedURLPartsAreRedacted(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const token, sig = "xoxoPathToken0123456789", "Zm9vYmFyc2lnbmF0dXJlc2VjcmV0dmFsdWU"
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		escaped := strings.ReplaceAll(r.URL.Path, "/", `\/`)
		switch n {
		case 1:
			http.Error(w, `{"error":"no such hook \/`+strings.TrimPrefix(escaped, `\/`)+`"}`, http.StatusNotFound)
		case 2:
			http.Error(w, `{"error":"invalid token `+token+`, sig `+r.URL.Query().Get("sig")+`"}`, http.StatusNotFound)
		}
		return true
	})
	url := rc.URL + "/services/T0AB12/B0CD34/" + token + "?api-version=2016-06-01&sig=" + sig
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "a", Type: "webhook", URL: secret.Secret(url)}}}
	res := e.run(store.ModeApply, store.OutcomeFailed, "boom", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	res2 := e.run(store.ModeApply, store.OutcomeFailed, "another boom", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res2)
	s := fastSender(cfg, e.st, notify.SenderOptions{})
	for _, id := range []int64{res.Run.ID, res2.Run.ID} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, _ = s.Flush(ctx, id)
		cancel()
	}
	conn, err := pgx.Connect(t.Context(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var dump string
	if err := conn.QueryRow(t.Context(), `SELECT string_agg(error, E'\n') FROM notify_attempts`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dump, "HTTP 404") {
		t.Fatalf("attempts not recorded: %q", dump)
	}
	for _, s := range []string{token, sig} {
		if strings.Contains(dump, s) {
			t.Errorf("a recorded error holds a part of the sink URL (%q):\n%s", s, dump)
		}
	}
}

// TestReplicasAnnounceOnce: replicas ending runs with the same refusal at
// the same moment (each with its own connection pool) queue it once.
func TestReplicasAnnounceOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)},
		{Name: "chat", Type: "slack", URL: secret.Secret(rc.URL)}}}
	for round := range 5 {
		const replicas = 6
		var results [replicas]*sync.Result
		for i := range replicas {
			results[i] = e.run(store.ModeApply, store.OutcomeRefused, fmt.Sprintf("source health: round %c", 'a'+round), store.Counts{})
		}
		start := make(chan struct{})
		counts := make(chan int, replicas)
		var wg gosync.WaitGroup
		for i := range replicas {
			st := open(t, e.url)
			n := notify.NewNotifier(cfg, acct, st, notify.NotifierOptions{})
			wg.Go(func() {
				<-start
				got, err := n.Enqueue(t.Context(), results[i])
				if err != nil {
					t.Error(err)
				}
				counts <- got
			})
		}
		close(start)
		wg.Wait()
		close(counts)
		total := 0
		for c := range counts {
			total += c
		}
		if total != 2 {
			t.Errorf("round %d: %d messages queued by %d replicas, want 2 (one per sink)", round, total, replicas)
		}
	}
}

// TestAbandonedLastAttemptIsCounted: a message whose sender died during its
// last attempt is given up, and counted failed (the
// SkillsyncNotificationsFailing alert watches that count) with the attempt
// recorded, as a message whose last attempt failed is.
func TestAbandonedLastAttemptIsCounted(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	res := e.run(store.ModeApply, store.OutcomeFailed, "boom", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	// Three senders died mid-attempt, one after the other.
	for range notify.MaxAttempts {
		for {
			ds, err := e.st.ClaimDeliveries(t.Context(), 1, time.Millisecond, notify.MaxAttempts, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) == 1 {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	var mu gosync.Mutex
	var seen []string
	s := fastSender(cfg, e.st, notify.SenderOptions{Observe: func(sink, event, status string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, sink+"/"+event+"/"+status)
	}})
	if _, err := s.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	ds := deliveries(t, e.st, res.Run.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryFailed {
		t.Fatalf("deliveries %+v", ds)
	}
	if len(rc.got()) != 0 {
		t.Errorf("sent a fourth time")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, ",") != "hook/failed/failed" {
		t.Errorf("observed %v, want the given-up message counted failed", seen)
	}
	as, err := e.st.DeliveryAttempts(t.Context(), ds[0].ID)
	if err != nil || len(as) != 1 || as[0].Attempt != notify.MaxAttempts || as[0].Error == "" {
		t.Errorf("attempts %+v %v: want the last one recorded", as, err)
	}
}

// TestGoodRunEndsStateEvenUnheard: a run that went well ends a lasting
// state even when its own end-of-run hook queued nothing (the process was
// killed right after recording it, or it was made by a `skillsync sync`
// whose configuration has no sink): the next refusal is news.
func TestGoodRunEndsStateEvenUnheard(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	n := notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{})
	if got, err := n.Enqueue(t.Context(), e.run(store.ModeApply, store.OutcomeRefused, refusal, store.Counts{})); err != nil || got != 1 {
		t.Fatalf("first refusal: %d %v", got, err)
	}
	e.run(store.ModeApply, store.OutcomeApplied, "", store.Counts{Summary: store.Summary{Create: 1}}) // never reaches Enqueue
	if got, err := n.Enqueue(t.Context(), e.run(store.ModeApply, store.OutcomeRefused, refusal, store.Counts{})); err != nil || got != 1 {
		t.Errorf("the refusal after a good run: queued %d, %v; want 1", got, err)
	}
	// A dry run, or a bad one, in between does not end it.
	e.run(store.ModePlan, store.OutcomeNoChanges, "", store.Counts{})
	e.run(store.ModeApply, store.OutcomeInterrupted, "", store.Counts{})
	if got, err := n.Enqueue(t.Context(), e.run(store.ModeApply, store.OutcomeRefused, refusal, store.Counts{})); err != nil || got != 0 {
		t.Errorf("the same refusal after a dry run: queued %d, %v; want 0", got, err)
	}
}

// TestRepeatAfterUsesTheDatabaseClock: repeat_after is measured on the
// database's clock, not each replica's: a replica whose clock runs an hour
// ahead does not silence the others for that hour more.
func TestRepeatAfterUsesTheDatabaseClock(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL), RepeatAfter: time.Second}}}
	ahead := notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	onTime := notify.NewNotifier(cfg, acct, open(t, e.url), notify.NotifierOptions{})
	if got, err := ahead.Enqueue(t.Context(), e.run(store.ModeApply, store.OutcomeRefused, refusal, store.Counts{})); err != nil || got != 1 {
		t.Fatalf("first: %d %v", got, err)
	}
	time.Sleep(1500 * time.Millisecond)
	if got, err := onTime.Enqueue(t.Context(), e.run(store.ModeApply, store.OutcomeRefused, refusal, store.Counts{})); err != nil || got != 1 {
		t.Errorf("repeat_after (1s) after the first: queued %d, %v; want 1", got, err)
	}
}

// TestFlushDoesNotWaitPastItsDeadline: when the next attempt of a run's
// message comes after the flush's deadline (the sink failed, the back-off
// is longer than what is left), skillsync sync exits at once instead of
// idling until the deadline.
func TestFlushDoesNotWaitPastItsDeadline(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "down", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	res := e.run(store.ModeApply, store.OutcomeFailed, "boom", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()
	start := time.Now()
	s := fastSender(cfg, e.st, notify.SenderOptions{Backoff: []time.Duration{100 * time.Millisecond, 30 * time.Second}})
	left, err := s.Flush(ctx, res.Run.ID)
	if err != nil || left != 1 {
		t.Fatalf("flush: %d left, %v; want 1 left", left, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("flush took %s, though the third attempt is 30 s away", d)
	}
	if n := len(rc.got()); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

// TestLeaseOutlastsTheRequest: a claim never lapses while its request may
// still be in flight, whatever Lease a caller asks for: a slow receiver is
// not sent the message a second time by another replica.
func TestLeaseOutlastsTheRequest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		time.Sleep(700 * time.Millisecond)
		return false
	})
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "slow", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	res := e.run(store.ModeApply, store.OutcomeFailed, "boom", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	var wg gosync.WaitGroup
	for _, st := range []*store.Store{e.st, open(t, e.url)} {
		s := fastSender(cfg, st, notify.SenderOptions{Timeout: 2 * time.Second, Lease: 100 * time.Millisecond})
		wg.Go(func() { flush(t, s, res.Run.ID) })
	}
	wg.Wait()
	if n := len(rc.got()); n != 1 {
		t.Errorf("the slow receiver got the message %d times", n)
	}
}

// flakyStore is the real store whose first recordings of an attempt fail,
// as when the database blinks right after a message went out.
type flakyStore struct {
	*store.Store
	mu    gosync.Mutex
	fails int
}

func (f *flakyStore) FinishAttempt(ctx context.Context, a store.Attempt) (store.DeliveryStatus, error) {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return "", fmt.Errorf("notification %d attempt %d: record attempt: connection reset by peer", a.DeliveryID, a.Attempt)
	}
	return f.Store.FinishAttempt(ctx, a)
}

// TestDeliveredIsRecordedThroughABlip: a message the sink took is recorded
// sent even if the database fails the first recordings; it is not left
// claimed, to be sent again once its claim lapses.
func TestDeliveredIsRecordedThroughABlip(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	res := e.run(store.ModeApply, store.OutcomeFailed, "boom", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	s := fastSender(cfg, &flakyStore{Store: e.st, fails: 2}, notify.SenderOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if left, err := s.Flush(ctx, res.Run.ID); err != nil || left != 0 {
		t.Errorf("flush: %d left, %v", left, err)
	}
	ds := deliveries(t, e.st, res.Run.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliverySent || len(rc.got()) != 1 {
		t.Errorf("delivery %d: %s after %d attempts, %d received; want sent once", ds[0].ID, ds[0].Status, ds[0].Attempts, len(rc.got()))
	}
}

// TestBinaryAnswerIsRecorded: a receiver whose error answer holds a NUL
// byte (PostgreSQL's text refuses it) has its attempt recorded, not left
// claimed to be sent again when the claim lapses.
func TestBinaryAnswerIsRecorded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("bad\x00request\x01"))
		return true
	})
	cfg := notify.Config{Sinks: []notify.Sink{{Name: "hook", Type: "webhook", URL: secret.Secret(rc.URL)}}}
	res := e.run(store.ModeApply, store.OutcomeFailed, "boom", store.Counts{})
	notify.NewNotifier(cfg, acct, e.st, notify.NotifierOptions{}).OnRunEnd(t.Context(), res)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if left, err := fastSender(cfg, e.st, notify.SenderOptions{}).Flush(ctx, res.Run.ID); err != nil || left != 0 {
		t.Errorf("flush: %d left, %v", left, err)
	}
	ds := deliveries(t, e.st, res.Run.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryFailed || !strings.HasPrefix(ds[0].LastError, "HTTP 400: bad") {
		t.Errorf("delivery %s after %d attempts, last error %q; want failed (a 400), recorded", ds[0].Status, ds[0].Attempts, ds[0].LastError)
	}
}

// TestSinkUnknownToASenderIsLeftToOthers: during a rolling deploy that
// adds a sink, a replica still on the old configuration leaves the new
// sink's messages to the replicas that know it, instead of giving them up
// as "no longer configured"; a message of a sink that no sender knows any
// more is given up once it is old.
func TestSinkUnknownToASenderIsLeftToOthers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rc := newReceiver(t, nil)
	oldCfg := notify.Config{Sinks: []notify.Sink{{Name: "chat", Type: "webhook", URL: secret.Secret(rc.URL), Events: []string{"applied"}}}}
	newCfg := notify.Config{Sinks: append(oldCfg.Sinks, notify.Sink{Name: "pager", Type: "webhook", URL: secret.Secret(rc.URL), Events: []string{"applied"}})}
	res := e.run(store.ModeApply, store.OutcomeApplied, "", store.Counts{Summary: store.Summary{Create: 1}})
	if got, err := notify.NewNotifier(newCfg, acct, e.st, notify.NotifierOptions{}).Enqueue(t.Context(), res); err != nil || got != 2 {
		t.Fatalf("queued %d, %v", got, err)
	}
	if _, err := fastSender(oldCfg, e.st, notify.SenderOptions{}).SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, d := range deliveries(t, e.st, res.Run.ID) {
		want := map[string]store.DeliveryStatus{"chat": store.DeliverySent, "pager": store.DeliveryQueued}[d.Sink]
		if d.Status != want || (d.Sink == "pager" && d.Attempts != 0) {
			t.Errorf("%s: %s after %d attempts (%s); want %s", d.Sink, d.Status, d.Attempts, d.LastError, want)
		}
	}
	flush(t, fastSender(newCfg, open(t, e.url), notify.SenderOptions{}), res.Run.ID)
	if n := len(rc.got()); n != 2 {
		t.Errorf("%d messages arrived, want 2", n)
	}
}
