package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
	"github.com/skillsync/skillsync/sync/notify"
)

// defaultAccount is the name of the one account of a configuration
// without `accounts:` (design §7.1).
const defaultAccount = "default"

// notifyFlushTimeout bounds how long `skillsync sync` waits, after its
// run, for the run's notifications to go out; what is left is sent by the
// daemon (or the next sync).
const notifyFlushTimeout = 15 * time.Second

// notifier is the notification side of an app: the end-of-run hook that
// queues messages, and the sender that delivers them.
type notifier struct {
	queue  *notify.Notifier
	sender *notify.Sender
	// via, when set, is the sender that runs for this one (sendVia).
	via atomic.Pointer[notify.Sender]
}

// newNotifier wires notifications for a, nil when no sink is configured.
// poll, when not 0, replaces how often the sender looks for messages it
// was not woken for (tests).
func newNotifier(a *app, poll time.Duration) *notifier {
	cfg := a.cfg.Notify
	if !cfg.Enabled() {
		return nil
	}
	observe := func(sink, event, status string) {
		a.metrics.notifications.WithLabelValues(sink, event, status).Inc()
	}
	// Every series a sink can have exists from the start, at 0: increase()
	// then sees the first failure after a restart.
	for _, sink := range cfg.WithDefaults().Sinks {
		for _, event := range sink.Events {
			for _, status := range []string{notify.StatusSent, notify.StatusRetry, notify.StatusFailed, notify.StatusSuppressed} {
				a.metrics.notifications.WithLabelValues(sink.Name, event, status)
			}
		}
	}
	n := &notifier{sender: notify.NewSender(cfg, a.store, notify.SenderOptions{Logger: a.log, Observe: observe, Redact: a.redact,
		UserAgent: "skillsync/" + currentBuild().Version, Poll: poll})}
	n.queue = notify.NewNotifier(cfg, notify.Account{Name: a.acct.Name, ID: a.acct.ID()}, a.store,
		notify.NotifierOptions{Logger: a.log, Redact: a.redact, Observe: observe, Wake: n.wake})
	return n
}

// wake tells the sender that runs for n that messages were queued.
func (n *notifier) wake() {
	if s := n.via.Load(); s != nil {
		s.Wake()
		return
	}
	n.sender.Wake()
}

// sendVia has o's running sender deliver what n queues, at once: the
// outbox is one for every account and a sender claims messages by sink,
// whatever their account, so a daemon runs one sender for all its
// accounts. Without it, the queue would wake a sender that does not run,
// and the message would wait for o's next look at the outbox.
func (n *notifier) sendVia(o *notifier) {
	if n != nil && o != nil && n != o {
		n.via.Store(o.sender)
	}
}

// startNotifications runs the first account's sender for every account
// of the daemon until the returned stop is called (see start).
func (d *daemon) startNotifications(ctx context.Context) (stop func()) {
	for _, a := range d.apps {
		a.notify.sendVia(d.app.notify)
	}
	return d.app.notify.start(ctx)
}

// runEnded is the runner's end-of-run hook (sync.Deps.OnRunEnd): it
// queues the run's notifications; without sinks (n is nil) it does
// nothing. Another listener can call it from a hook of its own.
func (n *notifier) runEnded(ctx context.Context, res *sync.Result) {
	if n == nil {
		return
	}
	n.queue.OnRunEnd(ctx, res)
}

// start runs the sender in the background until the returned stop is
// called; stop waits for it. Messages a process queued and could not send
// before it stopped (or died) are sent by the next one, or by a replica.
func (n *notifier) start(ctx context.Context) (stop func()) {
	if n == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.sender.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// flushNotifications sends the notifications of an apply run the CLI
// just made (and any others due), for at most notifyFlushTimeout. A dry
// run queues none, and sends none.
func (a *app) flushNotifications(ctx context.Context, res *sync.Result) {
	if a.notify == nil || res == nil || res.Run.ID == 0 || res.Run.Mode != store.ModeApply {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, notifyFlushTimeout)
	defer cancel()
	left, err := a.notify.sender.Flush(ctx, res.Run.ID)
	switch {
	case err != nil:
		a.log.Warn("notifications of the run could not be sent now; the daemon (or the next sync) sends them", "run_id", res.Run.ID, "err", err)
	case left > 0:
		a.log.Warn("notifications of the run still waiting; the daemon (or the next sync) sends them",
			"run_id", res.Run.ID, "waiting", left, "waited", notifyFlushTimeout)
	}
}

// newNotificationsCounter is skillsync_notifications_total.
func newNotificationsCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skillsync_notifications_total",
		Help: "Notifications by sink, event and status (sent; retry: an attempt failed and another follows; failed: the last attempt failed; suppressed: the same state was announced less than repeat_after ago).",
	}, []string{"sink", "event", "status"})
}

// notifySinkURL matches the key paths of sink URLs.
var notifySinkURL = regexp.MustCompile(`^notify\.sinks\[\d+\]\.url$`)

// hideNotifyURLs prints every notify.sinks[].url as [redacted], and passes
// it to found: a Slack or Teams incoming-webhook URL is its own
// credential, so the whole value is a secret.
func hideNotifyURLs(doc *yaml.Node, found func(string)) {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	sinks := mappingValue(mappingValue(root, "notify"), "sinks")
	if sinks == nil || sinks.Kind != yaml.SequenceNode {
		return
	}
	for _, s := range sinks.Content {
		if u := mappingValue(s, "url"); u != nil {
			hideScalar(u, true, found)
		}
	}
}

// mappingValue is the value of key in mapping n, nil when absent.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// deliveryView is the JSON of one notification in `runs show`.
type deliveryView struct {
	Sink      string               `json:"sink"`
	Event     string               `json:"event"`
	Status    store.DeliveryStatus `json:"status"`
	Attempts  int                  `json:"attempts"`
	LastError string               `json:"last_error,omitempty"`
	QueuedAt  time.Time            `json:"queued_at"`
	SentAt    *time.Time           `json:"sent_at,omitempty"`
}

func newDeliveryViews(ds []store.Delivery, redact func(string) string) []deliveryView {
	out := make([]deliveryView, len(ds))
	for i, d := range ds {
		out[i] = deliveryView{Sink: d.Sink, Event: d.Event, Status: d.Status, Attempts: d.Attempts,
			LastError: redact(d.LastError), QueuedAt: d.CreatedAt, SentAt: d.SentAt}
	}
	return out
}

// writeDeliveries lists a run's notifications under its journal.
func writeDeliveries(w io.Writer, ds []deliveryView) error {
	if len(ds) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nnotifications")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tEVENT\tSTATUS\tATTEMPTS\tLAST ERROR")
	for _, d := range ds {
		last := d.LastError
		if last == "" {
			last = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Sink, d.Event, d.Status, strconv.Itoa(d.Attempts), firstLine(last, 80))
	}
	return tw.Flush()
}
