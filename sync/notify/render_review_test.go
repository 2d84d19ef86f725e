package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store"
)

// hostile are skill names and a reason that try to ping a channel, link
// elsewhere or format the message.
var hostile = []string{"<!channel>", "<!here|here>", "<https://evil.example|Reset your password>",
	"[Reset your password](https://evil.example)", "*Sales*_EMEA_", "`code`", "@here", "a & b"}

func hostileMessage() Message {
	run := store.Run{ID: 7, Mode: store.ModeApply, Outcome: store.OutcomePartial, Error: "operation on <!everyone> [x](https://evil.example) failed",
		Counts: store.Counts{Summary: store.Summary{Delete: len(hostile)}, Failed: 1}}
	return BuildMessages(RunFacts{Run: run, Deleted: hostile}, Account{Name: "default", ID: "1"}, "https://s.example.com", time.Unix(0, 0))[0]
}

// TestSlackBodyIsInert: nothing a skill name or a reason holds pings a
// channel or makes a link in Slack, in the blocks nor in the text
// fallback (which Slack parses as mrkdwn and shows in notifications).
func TestSlackBodyIsInert(t *testing.T) {
	b, err := render(TypeSlack, hostileMessage())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<!channel>", "<!here", "<!everyone>", "<https://evil"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("the Slack body holds %q:\n%s", bad, b)
		}
	}
	// Mentions and links are not parsed out of what the run quotes:
	// verbatim mrkdwn (Slack's automatic parsing off).
	var sm struct {
		Text   string `json:"text"`
		Mrkdwn *bool  `json:"mrkdwn"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type, Text string
				Verbatim   bool
			} `json:"text"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(b, &sm); err != nil {
		t.Fatal(err)
	}
	if sm.Mrkdwn == nil || *sm.Mrkdwn {
		t.Errorf("the text fallback is parsed as mrkdwn: %s", b)
	}
	for _, bl := range sm.Blocks {
		if bl.Text != nil && bl.Text.Type == "mrkdwn" && !bl.Text.Verbatim && (strings.Contains(bl.Text.Text, "Sales") || strings.Contains(bl.Text.Text, "everyone")) {
			t.Errorf("a skill name or reason in a mrkdwn text Slack parses: %q", bl.Text.Text)
		}
	}
}

// TestTeamsCardIsInert: in Teams, TextBlocks and facts are Markdown: a skill
// name or a reason must not become a link or formatting there; they go in
// a RichTextBlock's TextRuns, which Teams shows as written.
func TestTeamsCardIsInert(t *testing.T) {
	b, err := render(TypeTeams, hostileMessage())
	if err != nil {
		t.Fatal(err)
	}
	var tm struct {
		Attachments []struct {
			Content struct {
				Body []map[string]any `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(b, &tm); err != nil {
		t.Fatal(err)
	}
	var markdown []string
	for _, el := range tm.Attachments[0].Content.Body {
		switch el["type"] {
		case "TextBlock":
			markdown = append(markdown, fmt.Sprint(el["text"]))
		case "FactSet":
			for _, f := range el["facts"].([]any) {
				markdown = append(markdown, fmt.Sprint(f.(map[string]any)["value"]))
			}
		}
	}
	for _, text := range markdown {
		if strings.Contains(text, "evil.example") || strings.Contains(text, "Sales") {
			t.Errorf("a skill name or reason in Markdown text: %q", text)
		}
	}
	if !strings.Contains(string(b), "[Reset your password](https://evil.example)") {
		t.Errorf("the names are not shown at all:\n%s", b)
	}
}

// TestBodiesWithinLimits: a run whose error is huge (a server's answer)
// and that deleted 500 long-named skills still fits Slack's (40,000
// characters of text, 3,000 per section, 50 blocks) and Teams' (28 KB)
// limits.
func TestBodiesWithinLimits(t *testing.T) {
	var names []string
	for i := range 500 {
		names = append(names, fmt.Sprintf("%s-%03d", strings.Repeat("Skill name ", 20), i))
	}
	run := store.Run{ID: 9, Mode: store.ModeApply, Outcome: store.OutcomePartial, Error: strings.Repeat("the server said: no. ", 5000),
		Counts: store.Counts{Summary: store.Summary{Delete: 500}, Failed: 3}}
	for _, m := range BuildMessages(RunFacts{Run: run, Deleted: names}, Account{Name: "default", ID: "1"}, "https://s.example.com", time.Unix(0, 0)) {
		b, err := render(TypeTeams, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 28*1024 {
			t.Errorf("%s: the Teams body has %d bytes, more than 28 KB", m.Event, len(b))
		}
		b, err = render(TypeSlack, m)
		if err != nil {
			t.Fatal(err)
		}
		var sm struct {
			Text   string `json:"text"`
			Blocks []any  `json:"blocks"`
		}
		if err := json.Unmarshal(b, &sm); err != nil {
			t.Fatal(err)
		}
		if n := len([]rune(sm.Text)); n > 40000 || len(sm.Blocks) > 50 {
			t.Errorf("%s: Slack text of %d characters, %d blocks", m.Event, n, len(sm.Blocks))
		}
	}
}
