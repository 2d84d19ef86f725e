package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
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

func (s refusingCreates) CreateSkills(context.Context, []liveperson.Skill) ([]liveperson.Skill, error) {
	return nil, &liveperson.APIError{Method: "POST", Path: "/skills", Status: 400, Body: s.body}
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

func TestRedactHandlerKeepsErrorChains(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	redact := strings.NewReplacer("s3cret", "[hidden]").Replace
	l := slog.New(RedactHandler(slog.NewTextHandler(&logs, nil), redact, nil)).With("k", "with s3cret").WithGroup("g")
	err := fmt.Errorf("wrap s3cret: %w", context.Canceled)
	l.Error("msg s3cret", "err", err, slog.Group("sub", "v", "s3cret"))
	if s := logs.buf.String(); strings.Contains(s, "s3cret") || strings.Count(s, "[hidden]") != 4 {
		t.Errorf("logged: %s", s)
	}

	// What a handler behind it is given: ReplaceAttr sees each value as is.
	var got []error
	capture := slog.NewTextHandler(io.Discard, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if e, ok := a.Value.Any().(error); ok {
			got = append(got, e)
		}
		return a
	}})
	slog.New(RedactHandler(capture, redact, nil)).Error("x", "err", err, "plain", errors.New("no secret here"))
	if len(got) != 2 {
		t.Fatalf("error attributes handed on: %v, want 2 errors", got)
	}
	if !errors.Is(got[0], context.Canceled) || strings.Contains(got[0].Error(), "s3cret") {
		t.Errorf("redacted error %v (errors.Is Canceled: %v)", got[0], errors.Is(got[0], context.Canceled))
	}
	if got[1].Error() != "no secret here" {
		t.Errorf("an error with nothing to redact became %v", got[1])
	}
}

// TestRedactHandlerHidesSecretKeys: with hideKey, an attribute (or a group)
// whose key names a secret is written as Redacted whatever its value,
// wherever it is given (the line, a group, With); an empty string is kept,
// as it hides nothing; without hideKey keys are not looked at.
func TestRedactHandlerHidesSecretKeys(t *testing.T) {
	t.Parallel()
	hideKey := func(k string) bool { return k == "password" || k == "token" }
	redact := strings.NewReplacer("s3cret", "[hidden]").Replace
	tests := []struct {
		name    string
		hideKey func(string) bool
		log     func(*slog.Logger)
		want    string
	}{
		{"secret key", hideKey, func(l *slog.Logger) { l.Info("m", "password", "pw-1") }, `msg=m password=[redacted]`},
		{"secret key, not a string", hideKey, func(l *slog.Logger) { l.Info("m", "token", 42) }, `msg=m token=[redacted]`},
		{"secret key, empty", hideKey, func(l *slog.Logger) { l.Info("m", "password", "") }, `msg=m password=""`},
		{"in a group", hideKey, func(l *slog.Logger) { l.Info("m", slog.Group("db", "user", "u", "password", "pw-1")) }, `msg=m db.user=u db.password=[redacted]`},
		{"a secret-named group", hideKey, func(l *slog.Logger) { l.Info("m", slog.Group("token", "v", "x")) }, `msg=m token=[redacted]`},
		{"with attrs", hideKey, func(l *slog.Logger) { l.With("token", "tok-1").Info("m") }, `msg=m token=[redacted]`},
		{"with group", hideKey, func(l *slog.Logger) { l.WithGroup("g").Info("m", "password", "pw-1", "v", "s3cret") }, `msg=m g.password=[redacted] g.v=[hidden]`},
		{"other keys redacted", hideKey, func(l *slog.Logger) { l.Info("m s3cret", "user", "u s3cret") }, `msg="m [hidden]" user="u [hidden]"`},
		{"no hideKey", nil, func(l *slog.Logger) { l.Info("m", "password", "pw-1") }, `msg=m password=pw-1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			inner := slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
					return slog.Attr{}
				}
				return a
			}})
			tc.log(slog.New(RedactHandler(inner, redact, tc.hideKey)))
			if got := strings.TrimSpace(logs.buf.String()); got != tc.want {
				t.Errorf("logged %s\nwant     %s", got, tc.want)
			}
		})
	}
}
