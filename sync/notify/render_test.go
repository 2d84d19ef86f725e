package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/skillsync/skillsync/store"
)

// FuzzRender: whatever a reason or a skill name holds, every sink type gets
// valid JSON; the webhook body has exactly its eight keys, and Slack's
// header and sections stay within Slack's limits.
func FuzzRender(f *testing.F) {
	f.Add("source health: active headcount 100 is 92% below 1200", "Sales & <Support>", int64(42))
	f.Add("", "", int64(1))
	f.Add(strings.Repeat("é", 4000), "a\x00b\xff", int64(-1))
	f.Fuzz(func(t *testing.T, reason, skill string, id int64) {
		run := store.Run{ID: id, Mode: store.ModeApply, Outcome: store.OutcomeRefused, Error: reason, Counts: store.Counts{Summary: store.Summary{Delete: 1}}}
		msgs := BuildMessages(RunFacts{Run: run, Refusal: reason, Deleted: []string{skill}}, Account{Name: "default", ID: "1"},
			"https://s.example.com", time.Unix(0, 0))
		for _, m := range msgs {
			for _, kind := range []string{TypeWebhook, TypeSlack, TypeTeams} {
				b, err := render(kind, m)
				if err != nil || !json.Valid(b) {
					t.Fatalf("%s %s: %v\n%s", kind, m.Event, err, b)
				}
				switch kind {
				case TypeWebhook:
					var body map[string]any
					if err := json.Unmarshal(b, &body); err != nil || len(body) != 8 {
						t.Fatalf("webhook body: %s", b)
					}
				case TypeSlack:
					var sm struct {
						Blocks []struct {
							Text struct{ Text string } `json:"text"`
						} `json:"blocks"`
					}
					if err := json.Unmarshal(b, &sm); err != nil {
						t.Fatal(err)
					}
					for i, bl := range sm.Blocks {
						if n := utf8.RuneCountInString(bl.Text.Text); (i == 0 && n > slackHeaderMax) || n > slackSectionMax {
							t.Fatalf("block %d has %d characters", i, n)
						}
					}
				}
			}
		}
	})
}
