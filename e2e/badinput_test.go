package e2e

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBadHRInput replaces a good HR export with a broken one after a first
// sync: plan and sync must refuse it with a clear message and the exit
// status of the contract, and no write may reach LivePerson.
func TestBadHRInput(t *testing.T) {
	t.Parallel()
	good := staff(50, 2, 1) // 100 people
	goodCSV := hrCSV(good)
	lines := bytes.SplitAfter(goodCSV, []byte("\r\n"))
	tests := []struct {
		name string
		csv  []byte
		// code is the exit status of plan --detailed-exitcode and of sync.
		code int
		// want are substrings of stderr: what is wrong and where.
		want []string
	}{
		{
			name: "missing id column",
			csv:  bytes.Replace(goodCSV, []byte("id,email,"), []byte("employee,email,"), 1),
			code: exitError,
			want: []string{`"id"`},
		},
		{
			name: "duplicate ids",
			csv:  append(bytes.Clone(goodCSV), []byte("7,someone@example.com,Dept 01,Team 0001,active\r\n")...),
			code: exitError,
			want: []string{`duplicate id "7"`, "hr.csv:102"},
		},
		{
			name: "truncated mid-row",
			csv:  goodCSV[:len(goodCSV)-len(lines[len(lines)-2])/2-1],
			code: exitError,
			want: []string{"hr.csv:101", "fields"},
		},
		{
			name: "empty file",
			csv:  nil,
			code: exitError,
			want: []string{"empty"},
		},
		{
			name: "only the header",
			csv:  lines[0],
			code: exitRefused,
			want: []string{"refused"},
		},
		{
			// Cut at a row boundary: every row is well formed, only the
			// headcount betrays it.
			name: "shrank by 60%",
			csv:  bytes.Join(lines[:41], nil),
			code: exitRefused,
			want: []string{"refused", "40"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, options{people: good})
			f.mustRun(exitOK, "sync")
			before := liveSkills(f.sim)
			f.writeHRBytes(tc.csv)
			f.sim.ResetLog()
			for _, args := range [][]string{{"plan", "--detailed-exitcode"}, {"sync"}, {"sync", "--format", "json"}} {
				res := f.run(args...)
				if res.code != tc.code {
					t.Errorf("want exit %d, got %s", tc.code, res)
					continue
				}
				if args[0] == "sync" && len(args) == 1 {
					t.Logf("skillsync sync: exit %d: %s", res.code, lastLine(res.stderr))
				}
				for _, w := range tc.want {
					if !strings.Contains(res.stderr, w) {
						t.Errorf("stderr lacks %q: %s", w, res)
					}
				}
				if len(args) > 1 && args[1] == "--format" {
					// One JSON document, refused or failed alike, for jq.
					var doc struct {
						FormatVersion int    `json:"format_version"`
						Outcome       string `json:"outcome"`
						Refused       string `json:"refused"`
						Error         string `json:"error"`
					}
					dec := json.NewDecoder(strings.NewReader(res.stdout))
					if err := dec.Decode(&doc); err != nil || dec.More() || doc.FormatVersion != 1 || doc.Refused+doc.Error == "" {
						t.Errorf("sync --format json: stdout is not one JSON document with the reason (%v): %s", err, res)
					} else if want := map[int]string{exitRefused: "refused", exitError: "failed"}[tc.code]; doc.Outcome != want {
						t.Errorf("sync --format json: outcome %q, want %q", doc.Outcome, want)
					}
				}
			}
			if w := writes(f.sim); len(w) != 0 {
				t.Errorf("bad HR input led to writes in LivePerson: %+v", w)
			}
			if after := liveSkills(f.sim); len(after) != len(before) {
				t.Errorf("%d skills before, %d after", len(before), len(after))
			}
			runs := f.runs()
			last := runs[len(runs)-1]
			wantOutcome := "failed"
			if tc.code == exitRefused {
				wantOutcome = "refused"
			}
			if last.Outcome != wantOutcome || last.Error == "" {
				t.Errorf("the last run is recorded as %q (error %q), want %s with the reason", last.Outcome, last.Error, wantOutcome)
			}
			// The good export back: the guard's baseline was not moved by
			// the bad one, and nothing is pending.
			f.writeHRBytes(goodCSV)
			f.checkConverged(good, nil)
		})
	}
}

// lastLine is the last non-empty line of s (the error a command ends with).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
