package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestHandlerKeepsErrorChains(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	redact := strings.NewReplacer("s3cret", "[hidden]").Replace
	l := slog.New(Handler(slog.NewTextHandler(&logs, nil), redact, nil)).With("k", "with s3cret").WithGroup("g")
	err := fmt.Errorf("wrap s3cret: %w", context.Canceled)
	l.Error("msg s3cret", "err", err, slog.Group("sub", "v", "s3cret"))
	if s := logs.String(); strings.Contains(s, "s3cret") || strings.Count(s, "[hidden]") != 4 {
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
	slog.New(Handler(capture, redact, nil)).Error("x", "err", err, "plain", errors.New("no secret here"))
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

// TestHandlerHidesSecretKeys: with hideKey, an attribute (or a group)
// whose key names a secret is written as Redacted whatever its value,
// wherever it is given (the line, a group, With); an empty string is kept,
// as it hides nothing; without hideKey keys are not looked at.
func TestHandlerHidesSecretKeys(t *testing.T) {
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
		{"Key as hideKey", Key, func(l *slog.Logger) { l.Info("m", "client_secret", "cs-1", "user", "u") }, `msg=m client_secret=[redacted] user=u`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			inner := slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
					return slog.Attr{}
				}
				return a
			}})
			tc.log(slog.New(Handler(inner, redact, tc.hideKey)))
			if got := strings.TrimSpace(logs.String()); got != tc.want {
				t.Errorf("logged %s\nwant     %s", got, tc.want)
			}
		})
	}
}
