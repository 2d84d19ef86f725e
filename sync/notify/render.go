package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// SignatureHeader carries a webhook body's signature when the sink has a
// secret: "sha256=" + hex HMAC-SHA256 of the body, keyed by the secret.
const SignatureHeader = "X-Skillsync-Signature"

// WebhookBody is the JSON a webhook sink receives (a contract).
type WebhookBody struct {
	Event   string `json:"event"`
	Account string `json:"account"`
	RunID   int64  `json:"run_id"`
	Outcome string `json:"outcome"`
	Summary string `json:"summary"`
	Reason  string `json:"reason"`
	URL     string `json:"url"`
	At      string `json:"at"`
}

// Sign returns the X-Skillsync-Signature value of body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// render encodes m as sink type kind expects it.
func render(kind string, m Message) ([]byte, error) {
	switch kind {
	case TypeWebhook:
		return marshal(WebhookBody{Event: m.Event, Account: m.Account, RunID: m.RunID, Outcome: string(m.Outcome),
			Summary: m.Summary, Reason: m.Reason, URL: m.URL, At: m.At.UTC().Format(time.RFC3339)})
	case TypeSlack:
		return marshal(slackMessage(m))
	case TypeTeams:
		return marshal(teamsMessage(m))
	}
	return nil, fmt.Errorf("unknown sink type %q", kind)
}

// marshal encodes v without escaping <, > and & (Slack's link syntax and
// reasons read as written), and without a trailing newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Slack limits: a header's text to 150 characters, a section's to 3000;
// the text fallback is kept as short as a section (Slack truncates it
// past 40,000). Teams takes a card of at most 28 KB: the reason and the
// names deleted are each kept under teamsTextMax characters.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackTextMax    = 3000
	teamsTextMax    = 3000
)

// slackMessage is an incoming-webhook message: text (the notification's
// fallback) plus Block Kit blocks. What the run quotes (a reason, skill
// names: they come from HR data and servers' answers) is escaped as Slack
// asks (&, <, >) and in verbatim mrkdwn, never parsed: no <!channel>,
// @here or link of its own reaches the channel. The text fallback is
// escaped too, and not formatted (mrkdwn: false).
func slackMessage(m Message) map[string]any {
	blocks := []any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": clip(m.Title, slackHeaderMax), "emoji": false}},
	}
	section := func(label, text string) {
		blocks = append(blocks, map[string]any{"type": "section",
			"text": map[string]any{"type": "mrkdwn", "text": label + slackClip(text, slackSectionMax-len(label)), "verbatim": true}})
	}
	if m.Reason != "" {
		section("*Reason:* ", m.Reason)
	}
	section("*What the run did:* ", countsLine(m.Counts))
	if len(m.Deleted) > 0 {
		section("*Deleted:* ", deletedList(m.Deleted))
	}
	if m.Action != "" {
		section("*What to do:* ", m.Action)
	}
	ctx := fmt.Sprintf("account %s · run %d · %s · %s", slackEscape(m.Account), m.RunID, m.Outcome, m.At.UTC().Format(time.RFC3339))
	if m.URL != "" {
		ctx += " · <" + m.URL + "|open run " + fmt.Sprint(m.RunID) + ">"
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": ctx}}})
	return map[string]any{"text": slackClip(m.Summary, slackTextMax), "mrkdwn": false, "blocks": blocks}
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackClip escapes s and keeps it within n characters, without cutting
// an entity in two.
func slackClip(s string, n int) string {
	e := slackEscape(s)
	r := []rune(e)
	if len(r) <= n {
		return e
	}
	cut := string(r[:n-1])
	if i := strings.LastIndexByte(cut, '&'); i >= 0 && !strings.Contains(cut[i:], ";") {
		cut = cut[:i]
	}
	return cut + "…"
}

// teamsMessage is a message with one Adaptive Card attachment, as Teams
// incoming webhooks (and Workflows) take it. TextBlocks and facts are
// Markdown in Teams; what the run quotes (a reason, skill names) goes in
// RichTextBlock TextRuns, which are not: shown as written, no link or
// formatting of their own.
func teamsMessage(m Message) map[string]any {
	body := []any{
		map[string]any{"type": "TextBlock", "text": m.Title, "weight": "Bolder", "size": "Medium", "wrap": true},
	}
	quoted := func(label, text string) {
		body = append(body, map[string]any{"type": "RichTextBlock", "inlines": []any{
			map[string]any{"type": "TextRun", "text": label, "weight": "Bolder"},
			map[string]any{"type": "TextRun", "text": clip(text, teamsTextMax)},
		}})
	}
	facts := []any{
		map[string]any{"title": "Account", "value": m.Account},
		map[string]any{"title": "Run", "value": fmt.Sprint(m.RunID)},
		map[string]any{"title": "Outcome", "value": string(m.Outcome)},
		map[string]any{"title": "Changes", "value": countsLine(m.Counts)},
	}
	if m.Reason != "" {
		quoted("Reason: ", m.Reason)
	}
	body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	if len(m.Deleted) > 0 {
		quoted("Deleted: ", deletedList(m.Deleted))
	}
	if m.Action != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": "What to do: " + m.Action, "wrap": true})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	if m.URL != "" {
		card["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": fmt.Sprintf("Open run %d", m.RunID), "url": m.URL}}
	}
	return map[string]any{
		"type":    "message",
		"summary": m.Title,
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
