package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// TestResultJSONMergesPlan: the result document is the head's members,
// then the plan's that the head does not have, in the plan's order; the
// compact form is one line and the indented form the same document.
func TestResultJSONMergesPlan(t *testing.T) {
	t.Parallel()
	plan := &sync.Plan{
		Policy: "managed",
		Changes: []sync.Change{
			{Action: sync.ActionCreate, Skill: `Sales <EMEA> & "Co" ` + "\u2028 été", Rule: "dept", Key: "k<1>"},
			{Action: sync.ActionDelete, Skill: "Old", SkillID: 42, Rule: "dept"},
		},
		Warnings: []string{"a <b> warning"},
	}
	res := &sync.Result{Run: store.Run{ID: 7, Mode: store.ModePlan, Outcome: store.OutcomePlanned}, Plan: plan}
	planDoc, err := plan.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, compact := range []bool{true, false} {
		var out bytes.Buffer
		if err := writeResultJSON(&out, res, errors.New("changes pending"), func(s string) string { return s }, "emea", compact); err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(out.String(), "\n"); compact != (lines == 1) {
			t.Errorf("compact %v: %d lines", compact, lines)
		}
		keys := objectKeys(t, out.Bytes())
		want := []string{"format_version", "account", "run_id", "mode", "outcome", "error"}
		if len(keys) < len(want) || strings.Join(keys[:len(want)], ",") != strings.Join(want, ",") {
			t.Fatalf("compact %v: keys %v, want the head's %v first", compact, keys, want)
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("compact %v: key %q twice", compact, k)
			}
			seen[k] = true
		}
		var got, fromPlan map[string]json.RawMessage
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(planDoc, &fromPlan); err != nil {
			t.Fatal(err)
		}
		var planKeys []string
		for _, k := range objectKeys(t, planDoc) {
			if k == "format_version" || k == "run_id" {
				continue // the head's
			}
			planKeys = append(planKeys, k)
			var a, b any
			_ = json.Unmarshal(got[k], &a)
			_ = json.Unmarshal(fromPlan[k], &b)
			if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
				t.Errorf("compact %v: %s is %s, want the plan's %s", compact, k, ja, jb)
			}
		}
		if rest := keys[len(want):]; strings.Join(rest, ",") != strings.Join(planKeys, ",") {
			t.Errorf("compact %v: after the head, keys %v; want the plan's %v in its order", compact, rest, planKeys)
		}
	}
}

func objectKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", doc)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// BenchmarkResultJSON prints the result of a plan of 100,000 changes, as
// `plan --format json` does (indented) and as with several accounts
// (compact).
func BenchmarkResultJSON(b *testing.B) {
	plan := &sync.Plan{Policy: "managed"}
	for i := range 100_000 {
		plan.Changes = append(plan.Changes, sync.Change{Action: sync.ActionCreate, Skill: "Dept " + strings.Repeat("x", i%20) + " / Team",
			Fields: []string{"name", "description"}, Rule: "team", Key: "k" + strings.Repeat("y", i%7)})
	}
	res := &sync.Result{Run: store.Run{ID: 7, Mode: store.ModePlan, Outcome: store.OutcomePlanned}, Plan: plan}
	for _, compact := range []bool{false, true} {
		name := "indented"
		if compact {
			name = "compact"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := writeResultJSON(io.Discard, res, nil, func(s string) string { return s }, "emea", compact); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
