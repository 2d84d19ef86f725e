package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"

	"github.com/skillsync/skillsync/sync"
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

// isTerminal says whether w is a character device (a terminal), without a
// dependency on x/term: enough to choose colours and the log format.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newLogger builds the process logger: tint for people on a terminal, JSON
// for log collectors, every line passed through a redactor so that none of
// secrets (and no attribute named like a secret) is ever written.
func newLogger(w io.Writer, format, level string, secrets []string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %w", err)
	}
	tty := isTerminal(w)
	var h slog.Handler
	switch format {
	case "", "auto":
		if tty {
			h = tint.NewTextHandler(w, &tint.Options{Level: lvl, TimeFormat: time.TimeOnly})
		} else {
			h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})
		}
	case "text":
		h = tint.NewTextHandler(w, &tint.Options{Level: lvl, TimeFormat: time.DateTime, NoColor: !tty})
	case "json":
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})
	default:
		return nil, fmt.Errorf("log format %q: want auto, text or json", format)
	}
	return slog.New(newRedactHandler(h, newReplacer(secrets))), nil
}

// newRedactHandler is the guard in front of every log line: it replaces
// the known secret values wherever they appear (messages, strings, errors,
// URLs), hides the passwords and secret query values of URLs and
// connection strings, and hides attributes whose key names a secret.
func newRedactHandler(inner slog.Handler, secrets *strings.Replacer) slog.Handler {
	return sync.RedactHandler(inner, func(s string) string { return secrets.Replace(redactURL(s)) }, secretKey)
}

func newReplacer(secrets []string) *strings.Replacer {
	secrets = dedupSecrets(secrets)
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, redacted)
	}
	return strings.NewReplacer(pairs...)
}
