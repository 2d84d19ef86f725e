package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	gosync "sync"
	"time"
	"unicode"

	"github.com/skillsync/skillsync/store"
)

// MaxAttempts is how many times a message is tried before it is given up.
const MaxAttempts = 3

// Defaults of SenderOptions.
const (
	TimeoutDefault = 10 * time.Second
	PollDefault    = 5 * time.Second
	BatchDefault   = 20
	// maxRetryAfter caps a sink's Retry-After.
	maxRetryAfter = 10 * time.Minute
	// recordTimeout bounds the recording of an attempt.
	recordTimeout = 5 * time.Second
	// orphanAfter is how long a message to a sink this sender does not
	// know is left to replicas that may (a rolling deploy adding it);
	// after that it is given up as no longer configured.
	orphanAfter = time.Hour
)

// BackoffDefault are the waits before the second and the third attempt.
var BackoffDefault = []time.Duration{5 * time.Second, 30 * time.Second}

// SenderOptions tune a Sender. The zero value is usable.
type SenderOptions struct {
	Logger *slog.Logger
	// HTTPClient sends the messages (default: a client of its own that
	// follows no redirect: a message goes where it is configured to).
	HTTPClient *http.Client
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// Backoff are the waits before the second and later attempts
	// (default 5s, 30s); its last value repeats.
	Backoff []time.Duration
	// Poll is how often the database is looked at for messages that other
	// processes queued or that are due again (default 5s).
	Poll time.Duration
	// Lease is how long a claimed message is this sender's before another
	// may take it, should this process die mid-attempt (default: Timeout
	// plus 30s; never less than Timeout plus the 5s its recording may
	// take).
	Lease time.Duration
	// Batch is how many messages are claimed, and sent at once, per pass.
	Batch   int
	Observe Observer
	// Redact hides secrets in recorded and logged errors.
	Redact func(string) string
	// UserAgent is sent with every request (default "skillsync").
	UserAgent string
}

// Sender delivers queued messages. Any number of senders (replicas) may
// share a database: each message is claimed by one (FOR UPDATE SKIP
// LOCKED) and sent once.
type Sender struct {
	store  Store
	sinks  map[string]Sink
	names  []string // of sinks
	opts   SenderOptions
	client *http.Client
	log    *slog.Logger
	redact func(string) string
	wake   chan struct{}
}

// NewSender returns a Sender for the sinks of cfg.
func NewSender(cfg Config, st Store, opts SenderOptions) *Sender {
	cfg = cfg.WithDefaults()
	opts.Timeout = cmp.Or(opts.Timeout, TimeoutDefault)
	opts.Poll = cmp.Or(opts.Poll, PollDefault)
	// A claim outlasts the request and its recording, or another
	// replica would send the message again while it is in flight.
	opts.Lease = max(cmp.Or(opts.Lease, opts.Timeout+30*time.Second), opts.Timeout+recordTimeout+time.Second)
	opts.Batch = cmp.Or(opts.Batch, BatchDefault)
	opts.UserAgent = cmp.Or(opts.UserAgent, "skillsync")
	if opts.Backoff == nil {
		opts.Backoff = BackoffDefault
	}
	if opts.Observe == nil {
		opts.Observe = func(string, string, string) {}
	}
	s := &Sender{store: st, sinks: map[string]Sink{}, names: []string{}, opts: opts, client: opts.HTTPClient, log: opts.Logger,
		redact: chainRedact(opts.Redact, cfg.Secrets()), wake: make(chan struct{}, 1)}
	for _, sk := range cfg.Sinks {
		s.sinks[sk.Name] = sk
		s.names = append(s.names, sk.Name)
	}
	if s.client == nil {
		s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Wake tells a running Sender that messages were queued.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends messages until ctx is done: at once when woken, else every
// Poll. A message being sent when ctx ends is recorded as an attempt that
// failed, and tried again later (by this process after a restart, or by
// another replica).
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		for {
			n, err := s.SendDue(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("notifications: could not read the outbox; trying again", "error", s.redact(err.Error()), "in", s.opts.Poll)
			}
			if n < s.opts.Batch || err != nil || ctx.Err() != nil {
				break
			}
		}
		t.Reset(s.opts.Poll)
	}
}

// SendDue claims the messages that are due (up to Batch), sends them at
// once, records each attempt and returns how many it tried.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	gone, err := s.store.GiveUpAbandoned(ctx, MaxAttempts)
	if err != nil {
		return 0, err
	}
	for _, d := range gone {
		s.opts.Observe(d.Sink, d.Event, StatusFailed)
		s.log.Error("notification not delivered; given up", "sink", d.Sink, "event", d.Event, "run_id", d.RunID,
			"attempts", d.Attempts, "error", d.LastError)
	}
	ds, err := s.store.ClaimDeliveries(ctx, s.opts.Batch, s.opts.Lease, MaxAttempts, s.names, orphanAfter)
	if err != nil {
		return 0, err
	}
	var wg gosync.WaitGroup
	for _, d := range ds {
		wg.Go(func() { s.deliver(ctx, d) })
	}
	wg.Wait()
	return len(ds), nil
}

// Flush sends what is due until no message of run runID waits any more,
// ctx ends (the CLI bounds it) or the next attempt comes after ctx's
// deadline: it returns how many are still waiting.
func (s *Sender) Flush(ctx context.Context, runID int64) (int, error) {
	for {
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			return 0, err
		}
		if ctx.Err() != nil {
			// Out of time: say how many wait, briefly.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			n, _, err := s.store.OpenDeliveries(cctx, runID)
			cancel()
			return n, err
		}
		n, next, err := s.store.OpenDeliveries(ctx, runID)
		if err != nil || n == 0 {
			return n, err
		}
		if dl, ok := ctx.Deadline(); ok && next.After(dl) {
			// The next attempt comes after the deadline: waiting for
			// it would only delay the caller.
			return n, nil
		}
		wait := max(time.Until(next), 50*time.Millisecond)
		select {
		case <-ctx.Done():
			return n, nil
		case <-time.After(min(wait, s.opts.Poll)):
		}
	}
}

// deliver makes one attempt at d and records it.
func (s *Sender) deliver(ctx context.Context, d store.Delivery) {
	start := time.Now()
	status, retryAfter, err := s.send(ctx, d)
	a := store.Attempt{DeliveryID: d.ID, Attempt: d.Attempts, Duration: time.Since(start)}
	if status > 0 {
		a.HTTPStatus = &status
	}
	metric := StatusSent
	if err != nil {
		a.Error = s.redact(err.Error())
		metric = StatusFailed
		if d.Attempts < MaxAttempts && retryable(status, err) {
			wait := s.opts.Backoff[min(d.Attempts-1, len(s.opts.Backoff)-1)]
			if retryAfter > wait {
				wait = min(retryAfter, maxRetryAfter)
			}
			a.RetryIn = &wait
			metric = StatusRetry
		}
	}
	// Recorded even when ctx ended (shutdown): the attempt happened.
	if ferr := s.record(ctx, a); ferr != nil {
		s.log.Warn("notifications: the attempt could not be recorded; the message is tried again once its claim lapses",
			"sink", d.Sink, "event", d.Event, "run_id", d.RunID, "error", s.redact(ferr.Error()))
		return
	}
	s.opts.Observe(d.Sink, d.Event, metric)
	switch metric {
	case StatusSent:
		s.log.Info("notification sent", "sink", d.Sink, "event", d.Event, "run_id", d.RunID, "attempt", d.Attempts)
	case StatusRetry:
		s.log.Warn("notification not delivered; trying again", "sink", d.Sink, "event", d.Event, "run_id", d.RunID,
			"attempt", d.Attempts, "retry_in", *a.RetryIn, "error", a.Error)
	default:
		s.log.Error("notification not delivered; given up", "sink", d.Sink, "event", d.Event, "run_id", d.RunID,
			"attempts", d.Attempts, "error", a.Error)
	}
}

// record records attempt a, trying again for up to recordTimeout: a
// message the sink took and left claimed would be sent again once its
// claim lapsed. The lease covers this time (NewSender).
func (s *Sender) record(ctx context.Context, a store.Attempt) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	for {
		_, err := s.store.FinishAttempt(rctx, a)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return err
		}
		select {
		case <-rctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// errPermanent marks an answer that another attempt would not change.
var errPermanent = errors.New("permanent")

// retryable says whether another attempt may succeed: transport errors,
// timeouts, 408, 429 and 5xx.
func retryable(status int, err error) bool {
	if errors.Is(err, errPermanent) {
		return false
	}
	return status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// send posts d to its sink; it returns the HTTP status (0: no answer), the
// sink's Retry-After and an error whose text never holds the URL.
func (s *Sender) send(ctx context.Context, d store.Delivery) (int, time.Duration, error) {
	sink, ok := s.sinks[d.Sink]
	if !ok {
		return 0, 0, fmt.Errorf("%w: sink %q is no longer configured", errPermanent, d.Sink)
	}
	var m Message
	if err := json.Unmarshal(d.Payload, &m); err != nil {
		return 0, 0, fmt.Errorf("%w: stored message: %v", errPermanent, err)
	}
	body, err := render(sink.Type, m)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", errPermanent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sink.URL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: the sink's URL is not valid", errPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.opts.UserAgent)
	if sink.Type == TypeWebhook {
		req.Header.Set("X-Skillsync-Event", m.Event)
		req.Header.Set("X-Skillsync-Delivery", strconv.FormatInt(d.ID, 10))
		if sink.Secret != "" {
			req.Header.Set(SignatureHeader, Sign(sink.Secret.Reveal(), body))
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, transportError(ctx, err, s.opts.Timeout)
	}
	defer resp.Body.Close()
	// A little of the answer says why it was refused.
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	var retryAfter time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	// Control characters (a NUL, which PostgreSQL's text refuses) are
	// spaces: the answer is recorded as text.
	if t := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(text), ""))); t != "" {
		msg += ": " + clip(strings.Join(strings.Fields(t), " "), 200)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += " (a redirect: skillsync posts only to the configured URL; configure the final one)"
	}
	return resp.StatusCode, retryAfter, errors.New(msg)
}

// transportError describes a request that got no answer, without the URL
// (net/http puts it in its errors; it is a secret).
func transportError(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s (timeout)", timeout)
	}
	if ctx.Err() != nil {
		return errors.New("stopped before an answer came (shutdown)")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("request: %v", ue.Err)
	}
	return fmt.Errorf("request: %v", err)
}
