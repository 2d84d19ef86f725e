package secret

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler returns a slog.Handler that applies redact to the message and
// to every value of every line before inner sees it: strings, the members
// of groups, the attributes given to WithAttrs, and values of any other
// kind by the text they print as (errors, URLs, structs). An error whose
// text changes stays an error (an *Error): errors.Is and errors.As still
// see the original through it. When hideKey is not nil, an attribute (or
// a whole group) whose key it names is written as Redacted whatever its
// value, except an empty string, which is kept: it shows that the setting
// is unset and holds nothing to hide.
//
// The runner uses it with its Redact function, the command's logger with
// the configuration's secrets and Key: one guard for both, so that a fix
// reaches every line.
func Handler(inner slog.Handler, redact func(string) string, hideKey func(key string) bool) slog.Handler {
	return &handler{inner: inner, redact: redact, hideKey: hideKey}
}

type handler struct {
	inner   slog.Handler
	redact  func(string) string
	hideKey func(string) bool // nil: no key is hidden
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return &handler{inner: h.inner.WithAttrs(clean), redact: h.redact, hideKey: h.hideKey}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name), redact: h.redact, hideKey: h.hideKey}
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if h.hideKey != nil && h.hideKey(a.Key) && !(v.Kind() == slog.KindString && v.String() == "") {
		return slog.String(a.Key, Redacted)
	}
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = h.attr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		// Errors, URLs, structs: judge them by the text they print as.
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprint(x)
		}
		if clean := h.redact(s); clean != s {
			if err, ok := v.Any().(error); ok {
				return slog.Any(a.Key, Wrap(err, clean))
			}
			return slog.String(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
