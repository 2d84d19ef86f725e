// Package notify tells people when skillsync needs one: at the end of a
// run it queues messages in PostgreSQL (an outbox) for the configured
// sinks (a signed JSON webhook, Slack, Microsoft Teams), and a background
// Sender delivers them with retries, once across replicas. Nothing here can
// delay or change a run.
//
// In the house (README, Layout; e2e/layout_test.go), it imports sync, store and internal/secret.
package notify

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/skillsync/skillsync/internal/secret"
)

// Sink types.
const (
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
	TypeTeams   = "teams"
)

// Events a sink may subscribe to.
const (
	// EventRefused: a guard refused an apply run; the message says why,
	// with the numbers, and how to approve the run's plan.
	EventRefused = "refused"
	// EventFailed: an apply run failed.
	EventFailed = "failed"
	// EventPartial: an apply run made some changes and some failed.
	EventPartial = "partial"
	// EventRecovered: the first apply run that went well after a refused,
	// failed or partial one.
	EventRecovered = "recovered"
	// EventDeleted: an apply run deleted skills (their names).
	EventDeleted = "deleted"
	// EventApplied: an apply run changed something.
	EventApplied = "applied"
)

// Events lists every event, in the README's order.
func Events() []string {
	return []string{EventRefused, EventFailed, EventPartial, EventRecovered, EventDeleted, EventApplied}
}

// DefaultEvents are a sink's events when it lists none.
func DefaultEvents() []string {
	return []string{EventRefused, EventFailed, EventPartial, EventRecovered}
}

// DefaultRepeatAfter is how often a lasting state is announced again.
const DefaultRepeatAfter = 24 * time.Hour

// lasting are the events that describe a state that may persist over many
// runs: announced once per repeat_after while their reason stays the same.
// The others (recovered, deleted, applied) are news each time.
var lasting = map[string]bool{EventRefused: true, EventFailed: true, EventPartial: true}

// Config is the `notify:` block.
type Config struct {
	// PublicURL is the base of the links in messages: a run's page is
	// PublicURL + "/runs/ID". Empty: messages carry no link.
	PublicURL string `yaml:"public_url"`
	Sinks     []Sink `yaml:"sinks"`
}

// Sink is one destination of messages.
type Sink struct {
	// Name identifies the sink in the database, metrics and `runs show`.
	Name string `yaml:"name"`
	Type string `yaml:"type"` // webhook | slack | teams
	// URL is where messages are posted. It is a secret (a Slack or Teams
	// incoming-webhook URL is its own credential): never logged, printed
	// or stored.
	URL secret.Secret `yaml:"url"`
	// Secret, for a webhook, signs each body: X-Skillsync-Signature:
	// sha256=<hex HMAC-SHA256 of the body>.
	Secret secret.Secret `yaml:"secret"`
	// Events are the events sent to this sink (DefaultEvents when unset).
	Events []string `yaml:"events"`
	// RepeatAfter: a refused, failed or partial state whose reason stays
	// the same is announced again at most this often.
	RepeatAfter time.Duration `yaml:"repeat_after"`
}

// Enabled reports whether any sink is configured.
func (c Config) Enabled() bool { return len(c.Sinks) > 0 }

// WithDefaults fills each sink's events and repeat_after.
func (c Config) WithDefaults() Config {
	c.Sinks = slices.Clone(c.Sinks)
	for i := range c.Sinks {
		s := &c.Sinks[i]
		if s.Events == nil {
			s.Events = DefaultEvents()
		}
		if s.RepeatAfter == 0 {
			s.RepeatAfter = DefaultRepeatAfter
		}
	}
	return c
}

// urlTokenMin is the length from which a sink URL's path segment or query
// value is taken for a token, hidden on its own: long enough that no word
// of an answer ("services", "IncomingWebhook", "2016-06-01") is.
const urlTokenMin = 16

// Secrets lists the values that must never be shown: every sink's URL
// (its path and query are its credential) and secret.
func (c Config) Secrets() []string {
	var out []string
	for _, s := range c.Sinks {
		if raw := s.URL.Reveal(); raw != "" {
			out = append(out, raw)
			if u, err := url.Parse(raw); err == nil && u.Host != "" {
				// The part after the host may be printed on its own (an
				// error naming the path).
				if rest := strings.TrimPrefix(raw, u.Scheme+"://"+u.Host); len(rest) >= 8 {
					// As written, and as JSON encoders that escape
					// slashes quote it back.
					out = append(out, rest, strings.ReplaceAll(rest, "/", `\/`))
				}
				// A receiver may quote only the token: a long path segment
				// (Slack's, Teams') or query value (a Workflows URL's sig).
				for _, seg := range strings.Split(u.EscapedPath(), "/") {
					if len(seg) >= urlTokenMin {
						out = append(out, seg)
						if v, err := url.PathUnescape(seg); err == nil && v != seg {
							out = append(out, v)
						}
					}
				}
				for _, vs := range u.Query() {
					for _, v := range vs {
						if len(v) >= urlTokenMin {
							out = append(out, v, url.QueryEscape(v))
						}
					}
				}
			}
		}
		if s.Secret != "" {
			out = append(out, s.Secret.Reveal())
		}
	}
	return out
}

// Validate returns every problem of the block, each starting with its key
// path (notify.sinks[1].url: ...). Secrets are never quoted.
func (c Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("notify.public_url", "%q is not an absolute http(s) URL such as https://skillsync.example.com", c.PublicURL)
		} else if u.User != nil || u.RawQuery != "" {
			add("notify.public_url", "must be a plain base URL, without credentials or a query: it is shown in every message")
		}
	}
	seen := map[string]int{}
	for i, s := range c.Sinks {
		key := fmt.Sprintf("notify.sinks[%d]", i)
		switch {
		case strings.TrimSpace(s.Name) == "":
			add(key+".name", "required: a name for this sink (it is shown in `runs show` and metrics)")
		case seen[s.Name] > 0:
			add(key+".name", "%q is also the name of notify.sinks[%d]: sink names must be unique", s.Name, seen[s.Name]-1)
		default:
			seen[s.Name] = i + 1
		}
		switch s.Type {
		case TypeWebhook, TypeSlack, TypeTeams:
		case "":
			add(key+".type", "required: webhook, slack or teams")
		default:
			add(key+".type", "%q is not a sink type: want webhook, slack or teams", s.Type)
		}
		if msg := checkSinkURL(s.URL.Reveal()); msg != "" {
			add(key+".url", "%s", msg)
		}
		if s.Secret != "" && s.Type != TypeWebhook && s.Type != "" {
			add(key+".secret", "only webhook sinks sign their bodies; a %s incoming-webhook URL is its own credential: remove the secret", s.Type)
		}
		if s.Events != nil && len(s.Events) == 0 {
			add(key+".events", "lists no event: leave the key out for the default (%s), or remove the sink", strings.Join(DefaultEvents(), ", "))
		}
		for j, e := range s.Events {
			if !slices.Contains(Events(), e) {
				add(fmt.Sprintf("%s.events[%d]", key, j), "%q is not an event: want one of %s", e, strings.Join(Events(), ", "))
			}
		}
		if s.RepeatAfter < 0 {
			add(key+".repeat_after", "must be a positive duration such as 24h")
		}
	}
	return errs
}

// checkSinkURL says what is wrong with a sink URL ("" when nothing is),
// without quoting it: it is a secret.
func checkSinkURL(raw string) string {
	if raw == "" {
		return "required: the URL messages are posted to (a Slack or Teams incoming-webhook URL, or your endpoint)"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "not an absolute http(s) URL (the value is a secret and not shown)"
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return "plain http:// to " + u.Hostname() + " would send messages and their signature unencrypted: use https:// (http:// is accepted for localhost only)"
	}
	return ""
}

// loopback reports whether host is this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// subscribed reports whether sink s wants event e.
func (s Sink) subscribed(e string) bool {
	events := s.Events
	if events == nil {
		events = DefaultEvents()
	}
	return slices.Contains(events, e)
}
