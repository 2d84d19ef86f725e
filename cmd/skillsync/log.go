package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/term"

	"github.com/skillsync/skillsync/internal/secret"
)

// parseLevel reads a --log-level / log.level value.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// colorOn says whether what goes to w may be coloured: only on a terminal,
// and never when NO_COLOR is set to anything but "" (https://no-color.org).
func colorOn(w io.Writer, lookupEnv func(string) (string, bool)) bool {
	if v, ok := lookupEnv("NO_COLOR"); ok && v != "" {
		return false
	}
	return isTerminal(w)
}

// logDuration writes every time.Duration attribute as a Go duration
// string ("1.234s", "23.457ms"), in JSON as in text: slog's JSON handler
// would write integer nanoseconds. Durations of a second or more are
// rounded to the millisecond, shorter ones to the microsecond.
func logDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	d := a.Value.Duration()
	switch {
	case d >= time.Second || d <= -time.Second:
		d = d.Round(time.Millisecond)
	case d >= time.Millisecond || d <= -time.Millisecond:
		d = d.Round(time.Microsecond)
	}
	return slog.String(a.Key, d.String())
}

// newLogger builds the process logger: tint for people on a terminal, JSON
// for log collectors, every line passed through a redactor so that none of
// secrets (and no attribute named like a secret) is ever written. color
// allows colours, which tint uses only when w is a terminal (colorOn).
func newLogger(w io.Writer, format, level string, secrets []string, color bool) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %w", err)
	}
	tty := isTerminal(w)
	text := func(timeFormat string) slog.Handler {
		return tint.NewTextHandler(w, &tint.Options{Level: lvl, TimeFormat: timeFormat, NoColor: !(color && tty), ReplaceAttr: logDuration})
	}
	var h slog.Handler
	switch format {
	case "", "auto":
		if tty {
			h = text(time.TimeOnly)
		} else {
			h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: logDuration})
		}
	case "text":
		h = text(time.DateTime)
	case "json":
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: logDuration})
	default:
		return nil, fmt.Errorf("log format %q: want auto, text or json", format)
	}
	return slog.New(newRedactHandler(h, secret.NewSet(secrets...))), nil
}

// newRedactHandler is the guard in front of every log line: it replaces
// the known secret values wherever they appear (messages, strings, errors,
// URLs), hides the passwords and secret query values of URLs and
// connection strings, and hides attributes whose key names a secret.
func newRedactHandler(inner slog.Handler, secrets *secret.Set) slog.Handler {
	return secret.Handler(inner, func(s string) string { return secrets.Replace(secret.HideURL(s)) }, secret.Key)
}
