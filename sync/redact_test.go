package sync

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/store"
)

// refusingCreates answers every create with a 400 whose body quotes a
// secret, as a server repeating a credential would.
type refusingCreates struct {
	SkillsAPI
	body string
}

func (s refusingCreates) CreateSkills(_ context.Context, rev string, _ []liveperson.Skill) ([]liveperson.Skill, string, error) {
	return nil, rev, &liveperson.APIError{Method: "POST", Path: "/skills", Status: 400, Body: s.body}
}

// TestRunRedactsWhatItStores: with Deps.Redact set, a secret quoted in a
// source error or in a LivePerson refusal reaches neither the stored run
// (error, plan), nor the journal, nor the logs; without it, it does (the
// test would not notice a redaction that never ran).
func TestRunRedactsWhatItStores(t *testing.T) {
	t.Parallel()
	const secret = "api-key-6d0e2b97"
	redact := strings.NewReplacer(secret, "[hidden]").Replace
	tests := []struct {
		name   string
		source func(e *testEnv) RecordSource
		skills func(e *testEnv) SkillsAPI
		want   store.Outcome
	}{
		{
			name: "source error",
			source: func(*testEnv) RecordSource {
				return funcSource(func(context.Context) (*hrsource.Snapshot, error) {
					return nil, fmt.Errorf("GET https://hr/people: 403 Forbidden (%q)", "key "+secret+" is not valid")
				})
			},
			want: store.OutcomeFailed,
		},
		{
			name: "create refused by LivePerson, quoting the secret",
			skills: func(e *testEnv) SkillsAPI {
				return refusingCreates{SkillsAPI: e.client, body: `{"error":"token ` + secret + ` may not create skills"}`}
			},
			want: store.OutcomePartial,
		},
	}
	for _, tt := range tests {
		for _, redacting := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/redact=%v", tt.name, redacting), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				var logs lockedBuffer
				logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				e := setup(t, baseHR, Config{}, withLogger(logger))
				cfg := Config{Skills: SkillsConfig{Static: []Static{{Name: "Escalations"}}}, Sync: DefaultSyncConfig()}
				deps := Deps{Skills: e.client, Store: e.store, Logger: logger}
				if redacting {
					deps.Redact = redact
				}
				if tt.source != nil {
					deps.Source = tt.source(e)
				} else {
					src, err := hrsource.New(hrsource.Config{Type: "csv", Path: e.hrPath, Fields: hrsource.FieldsConfig{ID: "id"}}, hrsource.Options{})
					if err != nil {
						t.Fatal(err)
					}
					deps.Source = src
				}
				if tt.skills != nil {
					deps.Skills = tt.skills(e)
				}
				r, err := NewRunner(deps, cfg)
				if err != nil {
					t.Fatal(err)
				}
				res, runErr := r.RunOnce(ctx, store.ModeApply, store.TriggerManual)
				if res == nil || res.Run.Outcome != tt.want {
					t.Fatalf("run: %+v, %v; want outcome %s", res, runErr, tt.want)
				}
				run, ops, err := e.store.GetRun(ctx, res.Run.ID)
				if err != nil {
					t.Fatal(err)
				}
				stored := run.Error + "\n" + string(run.Plan)
				for _, op := range ops {
					stored += "\n" + op.Request + "\n" + op.Error
				}
				if !redacting {
					if !strings.Contains(stored, secret) {
						t.Fatalf("the secret is not quoted even without redaction: the test checks nothing:\n%s", stored)
					}
					return
				}
				if strings.Contains(stored, secret) || !strings.Contains(stored, "[hidden]") {
					t.Errorf("stored texts:\n%s", stored)
				}
				if strings.Contains(res.Run.Error, secret) {
					t.Errorf("result's run error %q", res.Run.Error)
				}
				if strings.Contains(logs.buf.String(), secret) || !strings.Contains(logs.buf.String(), "[hidden]") {
					t.Errorf("logs:\n%s", logs.buf.String())
				}
				// The caller gets the original error, to print through its
				// own redaction (and to tell it apart with errors.As).
				if tt.want == store.OutcomeFailed && (runErr == nil || !strings.Contains(runErr.Error(), secret)) {
					t.Errorf("returned error %v", runErr)
				}
			})
		}
	}
}

func TestPlanRedactedLeavesThePlanAlone(t *testing.T) {
	t.Parallel()
	redact := strings.NewReplacer("s3cret", "[hidden]").Replace
	p := &Plan{
		Changes:     []Change{{Action: ActionDelete, Skill: "A", Reason: "said s3cret"}},
		Problems:    []RecordProblem{{RecordID: "1", Origin: "page 1 s3cret", RuleID: "r", Msg: "bad s3cret"}},
		Warnings:    []string{"w s3cret"},
		Unconfirmed: []CreateResolution{{Skill: "B", Note: "n s3cret"}},
		Assignments: &AssignmentPlan{Notes: []string{"note s3cret"}},
	}
	got := p.redacted(redact)
	b, err := got.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cret") || strings.Count(string(b), "[hidden]") != 6 {
		t.Errorf("redacted plan: %s", b)
	}
	orig, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(orig), "s3cret") != 6 {
		t.Errorf("the original plan changed: %s", orig)
	}
}
