package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// Store is what notifications need of the database (*store.Store).
type Store interface {
	EnqueueDeliveries(ctx context.Context, accountID string, clearState bool, ds []store.NewDelivery) ([]bool, error)
	DeletedSkillNames(ctx context.Context, runID int64) ([]string, error)
	PreviousApplyOutcome(ctx context.Context, runID int64) (store.Outcome, error)
	GiveUpAbandoned(ctx context.Context, maxAttempts int) ([]store.Delivery, error)
	ClaimDeliveries(ctx context.Context, limit int, lease time.Duration, maxAttempts int, sinks []string, orphanAfter time.Duration) ([]store.Delivery, error)
	FinishAttempt(ctx context.Context, a store.Attempt) (store.DeliveryStatus, error)
	OpenDeliveries(ctx context.Context, runID int64) (int, time.Time, error)
}

// Observer counts notifications: status is sent, retry (an attempt failed,
// another follows), failed (the last attempt failed) or suppressed (the
// same state was announced less than repeat_after ago).
type Observer func(sink, event, status string)

// Metric statuses.
const (
	StatusSent       = "sent"
	StatusRetry      = "retry"
	StatusFailed     = "failed"
	StatusSuppressed = "suppressed"
)

// enqueueTimeout bounds the queueing at the end of a run.
const enqueueTimeout = 5 * time.Second

// Notifier queues the messages of each finished run. Its OnRunEnd is the
// runner's end-of-run hook (sync.Deps.OnRunEnd).
type Notifier struct {
	cfg     Config
	account Account
	store   Store
	log     *slog.Logger
	now     func() time.Time
	redact  func(string) string
	observe Observer
	// wake, when set, tells this process's Sender that messages wait.
	wake func()
}

// NotifierOptions are a Notifier's optional parts.
type NotifierOptions struct {
	Logger *slog.Logger
	// Now is the time messages carry (at); repeat_after is measured on
	// the database's clock, which every replica shares.
	Now func() time.Time
	// Redact hides secrets in the texts of a message (a run's error may
	// quote a server that repeated a credential back).
	Redact  func(string) string
	Observe Observer
	// Wake is called after messages were queued.
	Wake func()
}

// NewNotifier returns a Notifier for one account.
func NewNotifier(cfg Config, acct Account, st Store, opts NotifierOptions) *Notifier {
	n := &Notifier{cfg: cfg.WithDefaults(), account: acct, store: st, log: opts.Logger, now: opts.Now,
		redact: opts.Redact, observe: opts.Observe, wake: opts.Wake}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.now == nil {
		n.now = time.Now
	}
	n.redact = chainRedact(n.redact, n.cfg.Secrets())
	if n.observe == nil {
		n.observe = func(string, string, string) {}
	}
	return n
}

// OnRunEnd queues the run's messages. It never fails the run: a problem is
// logged, and the messages of that run are lost (the run itself is
// recorded as it ended).
func (n *Notifier) OnRunEnd(ctx context.Context, res *sync.Result) {
	if res == nil || !n.cfg.Enabled() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	if _, err := n.Enqueue(ctx, res); err != nil {
		n.log.ErrorContext(ctx, "notifications of the run could not be queued", "run_id", res.Run.ID, "error", n.redact(err.Error()))
	}
}

// Enqueue queues the messages of a finished run for every sink that wants
// them and returns how many it queued. Lasting states (refused, failed,
// partial) are queued for a sink only when their reason changed (beyond
// its numbers and examples: reasonKey) or repeat_after has passed since
// the sink was told; an apply run that went well ends them all.
func (n *Notifier) Enqueue(ctx context.Context, res *sync.Result) (int, error) {
	run := res.Run
	if run.Mode != store.ModeApply || run.Outcome == store.OutcomeInterrupted || run.Outcome == store.OutcomeRunning {
		return 0, nil
	}
	facts := RunFacts{Run: run, Refusal: res.Refusal}
	var err error
	if facts.Previous, err = n.store.PreviousApplyOutcome(ctx, run.ID); err != nil {
		return 0, err
	}
	if run.Counts.Delete > 0 {
		if facts.Deleted, err = n.store.DeletedSkillNames(ctx, run.ID); err != nil {
			return 0, err
		}
	}
	now := n.now()
	msgs := BuildMessages(facts, n.account, n.cfg.PublicURL, now)
	var ds []store.NewDelivery
	for _, m := range msgs {
		m.Summary, m.Reason, m.Title = n.redact(m.Summary), n.redact(m.Reason), n.redact(m.Title)
		payload, err := json.Marshal(m)
		if err != nil {
			return 0, fmt.Errorf("encode %s message: %w", m.Event, err)
		}
		for _, s := range n.cfg.Sinks {
			if !s.subscribed(m.Event) {
				continue
			}
			ds = append(ds, store.NewDelivery{RunID: run.ID, AccountID: n.account.ID, Sink: s.Name, Event: m.Event, Payload: payload,
				Dedupe: lasting[m.Event], Reason: reasonKey(m.Reason), RepeatAfter: s.RepeatAfter})
		}
	}
	clear := good(run.Outcome)
	if len(ds) == 0 && !clear {
		return 0, nil
	}
	queued, err := n.store.EnqueueDeliveries(ctx, n.account.ID, clear, ds)
	if err != nil {
		return 0, err
	}
	count := 0
	for i, ok := range queued {
		d := ds[i]
		if !ok {
			n.observe(d.Sink, d.Event, StatusSuppressed)
			n.log.InfoContext(ctx, "notification not sent again: the sink was told of the same state less than repeat_after ago",
				"run_id", run.ID, "sink", d.Sink, "event", d.Event, "repeat_after", d.RepeatAfter)
			continue
		}
		count++
	}
	if count > 0 {
		n.log.InfoContext(ctx, "notifications queued", "run_id", run.ID, "count", count)
		if n.wake != nil {
			n.wake()
		}
	}
	return count, nil
}

// chainRedact hides secrets (literally, whatever their length: a sink's
// URL and secret) after what redact hides.
func chainRedact(redact func(string) string, secrets []string) func(string) string {
	set := secret.NewSet(secrets...)
	return func(s string) string {
		if redact != nil {
			s = redact(s)
		}
		return set.Replace(s)
	}
}
