package store_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/store"
)

// TestPlanWithEscapedBackslashU0000IsStored: a plan quoting the text
// `\u0000` (six characters, as an API error body or an HR value may hold
// it) has it encoded as `\\u0000`: the escape of a backslash, then
// "u0000". That is no NUL, and the plan must be stored as it is, valid
// JSON that reads back to the same text.
func TestPlanWithEscapedBackslashU0000IsStored(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := t.Context()
	for _, text := range []string{`LivePerson answered {"error":"bad \u0000"}`, `\\u0000`, "a \x00 and a \\u0000", `\\\u0000`} {
		r, err := st.BeginRun(ctx, store.TriggerManual, store.ModeApply)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := json.Marshal(map[string][]string{"warnings": {text}})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		r.Outcome, r.FinishedAt, r.Plan = store.OutcomeFailed, &now, plan
		if err := st.FinishRun(ctx, r); err != nil {
			t.Fatalf("finish a run whose plan quotes %q: %v", text, err)
		}
		got, _, err := st.GetRun(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string][]string
		if err := json.Unmarshal(got.Plan, &back); err != nil {
			t.Fatalf("stored plan %s: %v", got.Plan, err)
		}
		want := strings.ReplaceAll(text, "\x00", "\uFFFD")
		if len(back["warnings"]) != 1 || back["warnings"][0] != want {
			t.Errorf("plan quoting %q read back as %q, want %q", text, back["warnings"], want)
		}
	}
}

// TestPlanStoredInEveryQueryExecMode: database.url may choose pgx's
// query execution mode (default_query_exec_mode, e.g. for a pooler); the
// plan is JSON text in every one of them, never bytea.
func TestPlanStoredInEveryQueryExecMode(t *testing.T) {
	t.Parallel()
	_, url := setup(t)
	ctx := t.Context()
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		st := open(t, withParam(t, url, "default_query_exec_mode", mode), store.Options{})
		r, err := st.BeginRun(ctx, store.TriggerManual, store.ModePlan)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		now := time.Now()
		r.Outcome, r.FinishedAt, r.Plan = store.OutcomePlanned, &now, []byte(`{"format_version":1,"warnings":["a \u0000"]}`)
		if err := st.FinishRun(ctx, r); err != nil {
			t.Errorf("%s: finish run: %v", mode, err)
			continue
		}
		got, _, err := st.GetRun(ctx, r.ID)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if !strings.HasPrefix(string(got.Plan), `{"format_version":1`) {
			t.Errorf("%s: stored plan %q", mode, got.Plan)
		}
	}
}
