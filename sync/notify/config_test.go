package notify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync/notify"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := notify.Sink{Name: "oncall", Type: "slack", URL: "https://hooks.slack.com/services/T/B/secretpart"}
	tests := []struct {
		name string
		cfg  notify.Config
		want []string // one per problem, each a substring
	}{
		{"valid", notify.Config{PublicURL: "https://skillsync.example.com", Sinks: []notify.Sink{ok,
			{Name: "local", Type: "webhook", URL: "http://127.0.0.1:8080/hook", Secret: "s3cret", Events: []string{"applied", "deleted"}},
			{Name: "lh", Type: "teams", URL: "http://localhost/x"}}}, nil},
		{"unknown type", notify.Config{Sinks: []notify.Sink{{Name: "a", Type: "email", URL: ok.URL}}},
			[]string{`notify.sinks[0].type: "email" is not a sink type`}},
		{"missing type and url", notify.Config{Sinks: []notify.Sink{{Name: "a"}}},
			[]string{"notify.sinks[0].type: required", "notify.sinks[0].url: required"}},
		{"unknown event", notify.Config{Sinks: []notify.Sink{{Name: "a", Type: "slack", URL: ok.URL, Events: []string{"refused", "exploded"}}}},
			[]string{`notify.sinks[0].events[1]: "exploded" is not an event`}},
		{"no events", notify.Config{Sinks: []notify.Sink{{Name: "a", Type: "slack", URL: ok.URL, Events: []string{}}}},
			[]string{"notify.sinks[0].events: lists no event"}},
		{"malformed url", notify.Config{Sinks: []notify.Sink{{Name: "a", Type: "webhook", URL: "hooks.example.com/x"}}},
			[]string{"notify.sinks[0].url: not an absolute http(s) URL"}},
		{"plain http", notify.Config{Sinks: []notify.Sink{{Name: "a", Type: "webhook", URL: "http://hooks.example.com/x"}}},
			[]string{"notify.sinks[0].url: plain http:// to hooks.example.com"}},
		{"duplicate names", notify.Config{Sinks: []notify.Sink{ok, ok}},
			[]string{`notify.sinks[1].name: "oncall" is also the name of notify.sinks[0]`}},
		{"secret on slack", notify.Config{Sinks: []notify.Sink{{Name: "a", Type: "slack", URL: ok.URL, Secret: "x"}}},
			[]string{"notify.sinks[0].secret: only webhook sinks"}},
		{"negative repeat", notify.Config{Sinks: []notify.Sink{{Name: "a", Type: "slack", URL: ok.URL, RepeatAfter: -time.Hour}}},
			[]string{"notify.sinks[0].repeat_after"}},
		{"public url", notify.Config{PublicURL: "skillsync.example.com"}, []string{"notify.public_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := tt.cfg.Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("got %v, want %d problems %v", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("problem %d: %v, want %q", i, errs[i], w)
				}
				if strings.Contains(errs[i].Error(), "secretpart") || strings.Contains(errs[i].Error(), "/x") {
					t.Errorf("problem %d quotes the URL: %v", i, errs[i])
				}
			}
			_ = errors.Join(errs...)
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := notify.Config{Sinks: []notify.Sink{{Name: "a"}}}.WithDefaults()
	if strings.Join(c.Sinks[0].Events, ",") != "refused,failed,partial,recovered" || c.Sinks[0].RepeatAfter != 24*time.Hour {
		t.Errorf("defaults: %+v", c.Sinks[0])
	}
}

func TestBuildMessages(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	run := func(mode store.Mode, o store.Outcome, c store.Counts) store.Run {
		return store.Run{ID: 42, Mode: mode, Outcome: o, Counts: c, Error: "3 operations failed; see the run's journal"}
	}
	tests := []struct {
		name  string
		facts notify.RunFacts
		want  []string
	}{
		{"dry run", notify.RunFacts{Run: run(store.ModePlan, store.OutcomeRefused, store.Counts{}), Refusal: refusal}, nil},
		{"refused", notify.RunFacts{Run: run(store.ModeApply, store.OutcomeRefused, store.Counts{}), Refusal: refusal}, []string{"refused"}},
		{"partial with deletes", notify.RunFacts{Run: run(store.ModeApply, store.OutcomePartial, store.Counts{Summary: store.Summary{Delete: 1}, Failed: 3}), Deleted: []string{"Sales"}},
			[]string{"partial", "deleted"}},
		{"recovered and applied", notify.RunFacts{Run: run(store.ModeApply, store.OutcomeApplied, store.Counts{Summary: store.Summary{Create: 2}}), Previous: store.OutcomeFailed},
			[]string{"recovered", "applied"}},
		{"no changes after good", notify.RunFacts{Run: run(store.ModeApply, store.OutcomeNoChanges, store.Counts{}), Previous: store.OutcomeApplied}, nil},
		{"interrupted", notify.RunFacts{Run: run(store.ModeApply, store.OutcomeInterrupted, store.Counts{}), Previous: store.OutcomeFailed}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msgs := notify.BuildMessages(tt.facts, acct, "https://s.example.com", at)
			var got []string
			for _, m := range msgs {
				got = append(got, m.Event)
				if m.URL != "https://s.example.com/runs/42" || m.RunID != 42 || m.Account != "default" || !m.At.Equal(at) {
					t.Errorf("%s: %+v", m.Event, m)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("events %v, want %v", got, tt.want)
			}
			for _, m := range msgs {
				switch m.Event {
				case "refused":
					if !strings.Contains(m.Summary, "skillsync apply 42") || !strings.Contains(m.Summary, "92% below the last accepted 1200") ||
						!strings.Contains(m.Summary, "No change was made") {
						t.Errorf("refused summary: %s", m.Summary)
					}
				case "partial":
					if !strings.Contains(m.Summary, "3 operations failed") || !strings.Contains(m.Summary, "skillsync runs show 42") {
						t.Errorf("partial summary: %s", m.Summary)
					}
				case "deleted":
					if !strings.Contains(m.Summary, "Deleted: Sales") {
						t.Errorf("deleted summary: %s", m.Summary)
					}
				case "applied":
					if !strings.Contains(m.Summary, "Created 2") {
						t.Errorf("applied summary: %s", m.Summary)
					}
				}
			}
		})
	}
}
