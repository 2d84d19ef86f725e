package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

// indentPieces indents src given in pieces cut at cuts.
func indentPieces(src []byte, cuts ...int) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriterSize(&out, 16) // small, so that it flushes midway
	iw := newIndentWriter(bw)
	prev := 0
	for _, c := range cuts {
		if c > prev && c < len(src) {
			iw.write(src[prev:c])
			prev = c
		}
	}
	iw.write(src[prev:])
	_ = bw.Flush()
	return out.Bytes()
}

var indentCases = []string{
	`{}`, `[]`, `null`, `"x"`, `-1.5e+10`, `true`,
	`{"a":1,"b":[],"c":{},"d":[1,2,{"e":null}],"f":"g"}`,
	`[[[]],[{}],{"a":[{"b":{}}]}]`,
	`{"s":"a,b:c{d}[e]\"f\\\\","t":"\\\"","u":"\u2028 été <&>"}`,
	`{"deep":{"a":{"b":{"c":[1,[2,[3,[]]]]}}},"x":false}`,
	` { "spaced" : [ 1 , 2 ] , "k" : "v w" } `,
}

// TestIndentWriterMatchesIndent: the streaming indenter writes what
// json.Indent(dst, src, "", "  ") does, wherever the text is cut.
func TestIndentWriterMatchesIndent(t *testing.T) {
	t.Parallel()
	for _, c := range indentCases {
		src := []byte(c)
		var want bytes.Buffer
		if err := json.Indent(&want, src, "", "  "); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		wantText := bytes.TrimRight(want.Bytes(), " ") // Indent keeps trailing space
		for cut := 0; cut <= len(src); cut++ {
			for cut2 := cut; cut2 <= len(src); cut2 += 3 {
				got := bytes.TrimRight(indentPieces(src, cut, cut2), " ")
				if !bytes.Equal(got, wantText) {
					t.Fatalf("%s cut at %d, %d:\n got %q\nwant %q", c, cut, cut2, got, wantText)
				}
			}
		}
	}
}

func FuzzIndentWriter(f *testing.F) {
	for _, c := range indentCases {
		f.Add([]byte(c), 3, 7)
	}
	f.Fuzz(func(t *testing.T, src []byte, cut1, cut2 int) {
		if !json.Valid(src) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, src); err != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		n := compact.Len() + 1
		got := indentPieces(compact.Bytes(), (cut1%n+n)%n, (cut2%n+n)%n)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%s:\n got %q\nwant %q", compact.Bytes(), got, want.Bytes())
		}
	})
}

// TestResultJSONRecordedPlan: a result whose run recorded its plan
// encoded (as the runner records every run with a plan) prints the same
// document as one printed from the plan alone, indented as json.Indent
// indents it, compact on one line.
func TestResultJSONRecordedPlan(t *testing.T) {
	t.Parallel()
	plan := &sync.Plan{
		Policy: "managed",
		Changes: []sync.Change{
			{Action: sync.ActionCreate, Skill: `Sales "EMEA" {a,b}:[c]`, Rule: "dept", Key: "k"},
			{Action: sync.ActionDelete, Skill: "Old", SkillID: 42, Rule: "dept"},
		},
		Warnings: []string{"a, b: c"},
	}
	recorded, err := plan.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	run := store.Run{ID: 7, Mode: store.ModePlan, Outcome: store.OutcomePlanned}
	withRecord := run
	withRecord.Plan = recorded
	for _, compact := range []bool{true, false} {
		var fromPlan, fromRecord bytes.Buffer
		same := func(s string) string { return s }
		if err := writeResultJSON(&fromPlan, &sync.Result{Run: run, Plan: plan}, nil, same, "", compact); err != nil {
			t.Fatal(err)
		}
		if err := writeResultJSON(&fromRecord, &sync.Result{Run: withRecord, Plan: plan}, nil, same, "", compact); err != nil {
			t.Fatal(err)
		}
		if fromPlan.String() != fromRecord.String() {
			t.Errorf("compact %v: from the recorded plan\n%s\nfrom the plan\n%s", compact, fromRecord.String(), fromPlan.String())
		}
		var want bytes.Buffer
		if err := json.Compact(&want, fromPlan.Bytes()); err != nil {
			t.Fatal(err)
		}
		if !compact {
			var indented bytes.Buffer
			if err := json.Indent(&indented, want.Bytes(), "", "  "); err != nil {
				t.Fatal(err)
			}
			want = indented
		}
		want.WriteByte('\n')
		if fromPlan.String() != want.String() {
			t.Errorf("compact %v:\n%s\nwant\n%s", compact, fromPlan.String(), want.String())
		}
	}
}
