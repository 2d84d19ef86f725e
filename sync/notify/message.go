package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/skillsync/skillsync/store"
)

// Message is what one event says, as queued in the outbox; each sink type
// renders it its own way (render.go).
type Message struct {
	Event     string        `json:"event"`
	Account   string        `json:"account"`
	AccountID string        `json:"account_id,omitempty"`
	RunID     int64         `json:"run_id"`
	Outcome   store.Outcome `json:"outcome"`
	// Title is one line: what happened.
	Title string `json:"title"`
	// Summary is the whole message as plain text: what happened, the
	// counts, the skills deleted and what to do.
	Summary string `json:"summary"`
	// Reason is the guard's refusal or the run's error, with its numbers.
	Reason string `json:"reason,omitempty"`
	// Action says what a person should do ("" when nothing).
	Action  string       `json:"action,omitempty"`
	URL     string       `json:"url,omitempty"`
	At      time.Time    `json:"at"`
	Counts  store.Counts `json:"counts"`
	Deleted []string     `json:"deleted,omitempty"`
}

// RunFacts is what the events of a finished run are made from.
type RunFacts struct {
	Run store.Run
	// Refusal is the guard's reason for a refused run.
	Refusal string
	// Previous is the outcome of the apply run before this one (passing
	// over interrupted ones); "" when there was none.
	Previous store.Outcome
	// Deleted are the names of the skills the run deleted.
	Deleted []string
}

// bad are the outcomes after which a good run is a recovery.
var bad = map[store.Outcome]bool{store.OutcomeRefused: true, store.OutcomeFailed: true, store.OutcomePartial: true}

// good reports whether an apply run went well.
func good(o store.Outcome) bool { return o == store.OutcomeApplied || o == store.OutcomeNoChanges }

// BuildMessages returns the events of a finished run, in the order they
// are sent: its state (refused, failed, partial or recovered), then
// deleted, then applied. Dry runs (mode plan) announce nothing: the person
// who ran one reads its result; so do interrupted runs, whose next run
// says how things stand. publicURL is notify.public_url.
func BuildMessages(f RunFacts, acct Account, publicURL string, at time.Time) []Message {
	r := f.Run
	if r.Mode != store.ModeApply {
		return nil
	}
	base := Message{Account: acct.Name, AccountID: acct.ID, RunID: r.ID, Outcome: r.Outcome, At: at.UTC(),
		Counts: r.Counts, Deleted: f.Deleted, URL: runURL(publicURL, r.ID)}
	var out []Message
	add := func(event, title, reason, action string) {
		m := base
		m.Event, m.Title, m.Reason, m.Action = event, title, reason, action
		m.Summary = summary(m)
		out = append(out, m)
	}
	id := strconv.FormatInt(r.ID, 10)
	switch r.Outcome {
	case store.OutcomeRefused:
		reason := f.Refusal
		if reason == "" {
			reason = r.Error
		}
		add(EventRefused, fmt.Sprintf("skillsync refused run %d of account %s", r.ID, acct.label()), reason,
			"If the change is intended, approve this run's plan: skillsync apply "+id+
				" (otherwise fix the HR feed or the setting named above; the next run checks again)")
	case store.OutcomeFailed:
		add(EventFailed, fmt.Sprintf("skillsync run %d of account %s failed", r.ID, acct.label()), r.Error,
			"See skillsync runs show "+id+"; the next scheduled run tries again")
	case store.OutcomePartial:
		add(EventPartial, fmt.Sprintf("skillsync run %d of account %s was partly applied", r.ID, acct.label()), r.Error,
			"See the failed operations in skillsync runs show "+id+"; the next run tries them again")
	}
	if good(r.Outcome) && bad[f.Previous] {
		add(EventRecovered, fmt.Sprintf("skillsync run %d of account %s went well again", r.ID, acct.label()),
			fmt.Sprintf("the apply run before it ended %s; this one ended %s", f.Previous, r.Outcome), "")
	}
	if len(f.Deleted) > 0 {
		add(EventDeleted, fmt.Sprintf("skillsync run %d deleted %d skill%s of account %s", r.ID, len(f.Deleted), plural(len(f.Deleted)), acct.label()), "", "")
	}
	if r.Outcome == store.OutcomeApplied {
		add(EventApplied, fmt.Sprintf("skillsync run %d changed account %s", r.ID, acct.label()), "", "")
	}
	return out
}

// runURL is the run's page, "" without a public URL.
func runURL(base string, id int64) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/runs/" + strconv.FormatInt(id, 10)
}

// summary is the whole message as plain text.
func summary(m Message) string {
	var b strings.Builder
	b.WriteString(m.Title)
	b.WriteString(".")
	if m.Reason != "" {
		b.WriteString(" Reason: ")
		b.WriteString(m.Reason)
		if !strings.HasSuffix(m.Reason, ".") {
			b.WriteString(".")
		}
	}
	b.WriteString(" ")
	b.WriteString(countsLine(m.Counts))
	b.WriteString(".")
	if len(m.Deleted) > 0 {
		b.WriteString(" Deleted: ")
		b.WriteString(deletedList(m.Deleted))
		b.WriteString(".")
	}
	if m.Action != "" {
		b.WriteString(" ")
		b.WriteString(m.Action)
		b.WriteString(".")
	}
	if m.URL != "" {
		b.WriteString(" ")
		b.WriteString(m.URL)
	}
	return b.String()
}

// countsLine says what the run did in LivePerson.
func countsLine(c store.Counts) string {
	if c.Create+c.Update+c.Delete+c.Assign+c.Unassign+c.Failed == 0 {
		s := "No change was made in LivePerson"
		if c.PendingDelete > 0 {
			s += fmt.Sprintf("; %d skill%s pending deletion", c.PendingDelete, plural(c.PendingDelete))
		}
		return s
	}
	s := fmt.Sprintf("Created %d, updated %d, deleted %d skills; assigned %d, unassigned %d; %d operation%s failed",
		c.Create, c.Update, c.Delete, c.Assign, c.Unassign, c.Failed, plural(c.Failed))
	if c.PendingDelete > 0 {
		s += fmt.Sprintf("; %d pending deletion", c.PendingDelete)
	}
	return s
}

// maxListed bounds the skill names a message lists.
const maxListed = 20

func deletedList(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxListed)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Account is the LivePerson account a run is for.
type Account struct {
	// Name is the account's name in the configuration ("default" with a
	// single account).
	Name string
	// ID is the LivePerson account id.
	ID string
}

func (a Account) label() string {
	if a.ID == "" || a.ID == a.Name {
		return a.Name
	}
	return a.Name + " (" + a.ID + ")"
}
