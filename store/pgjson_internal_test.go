package store

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzPGJSON: whatever text a plan quotes, pgJSON keeps the plan valid
// JSON that reads back as the text with each NUL as U+FFFD, and leaves
// alone a plan without a NUL escape (the text `\u0000` included: its
// backslash is escaped, it is no NUL).
func FuzzPGJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "a \x00 b", `\u0000`, `\\u0000`, "\\\x00", `\\\u0000`, "\x00\x00", `"\u0000"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := json.Marshal(map[string]string{"w": s})
		if err != nil {
			t.Skip()
		}
		got := pgJSON(doc)
		var back map[string]string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("pgJSON(%s) = %s: %v", doc, got, err)
		}
		var want map[string]string
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		if w := strings.ReplaceAll(want["w"], "\x00", "\uFFFD"); back["w"] != w {
			t.Errorf("pgJSON(%s) reads back %q, want %q", doc, back["w"], w)
		}
		if !strings.Contains(s, "\x00") && string(got) != string(doc) {
			t.Errorf("pgJSON(%s) = %s, want it unchanged", doc, got)
		}
	})
}
