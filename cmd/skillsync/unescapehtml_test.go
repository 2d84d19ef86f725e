package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestUnescapeHTML: the escapes json.Marshal makes of <, > and & are
// undone and the document means the same; an escaped backslash before the
// text "u003c" is left alone.
func TestUnescapeHTML(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "a<b>&c", `back\slash`, `\u003c as text`, `\\u0026`, "x\u2028y", `"quoted<"`, "&&&<<<>>>", `\`} {
		doc, err := json.Marshal(map[string]any{"warnings": []string{s, "secret " + s}})
		if err != nil {
			t.Fatal(err)
		}
		got := unescapeHTML(doc)
		var back map[string][]string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is no JSON: %v", s, got, err)
		}
		if back["warnings"][0] != s {
			t.Errorf("%q came back as %q", s, back["warnings"][0])
		}
		if !strings.Contains(s, `\`) && (bytes.Contains(got, []byte(`\u003c`)) || bytes.Contains(got, []byte(`\u003e`)) || bytes.Contains(got, []byte(`\u0026`))) {
			t.Errorf("%q: %s keeps an escape of <, > or &", s, got)
		}
	}
	if doc := []byte(`{"a":"\\u003c"}`); !bytes.Equal(unescapeHTML(doc), doc) {
		t.Errorf("an escaped backslash before u003c was changed: %s", unescapeHTML(doc))
	}
}

// FuzzUnescapeHTML: whatever the text, the document undone means what
// json.Marshal's meant.
func FuzzUnescapeHTML(f *testing.F) {
	for _, s := range []string{"a<b", `\u003c`, `\\`, "&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := json.Marshal([]string{s})
		if err != nil {
			return
		}
		var want, got []string
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(unescapeHTML(doc), &got); err != nil || got[0] != want[0] {
			t.Fatalf("%q: %q, %v", s, got, err)
		}
	})
}
