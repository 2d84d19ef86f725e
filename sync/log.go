package sync

import (
	"context"
	"log/slog"
	"slices"
	gosync "sync"
)

// runIDAttr is the log attribute key of a run's id.
const runIDAttr = "run_id"

// runIDKey is the context key of a run's id.
type runIDKey struct{}

// WithRunID returns a copy of ctx that carries the id of the run it
// belongs to. RunOnce sets it for everything a run does; code that logs
// with the *Context methods of log/slog then gets the run id on its lines
// through LogHandler, without knowing about runs.
func WithRunID(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, runIDKey{}, id)
}

// RunIDFrom returns the run id carried by ctx, if any.
func RunIDFrom(ctx context.Context) (int64, bool) {
	id, ok := ctx.Value(runIDKey{}).(int64)
	return id, ok
}

// LogHandler wraps h so that every record logged with a context carrying
// a run id (WithRunID) gets a top-level run_id attribute, also when it is
// logged through a logger with open groups. Records that already carry a
// top-level run_id (from Logger.With or the record itself) and records
// without a run id in their context pass through unchanged.
func LogHandler(h slog.Handler) slog.Handler {
	return &runIDHandler{base: h, inner: h}
}

// runIDHandler is the handler of LogHandler. Attributes added after a group
// was opened belong to that group, so run_id, which belongs at the top,
// cannot be added to the record once a group is open: base keeps the
// handler as it was before the first group and ops what was done since, to
// be replayed on top of base plus run_id.
type runIDHandler struct {
	base     slog.Handler // h with the attributes added before any group
	inner    slog.Handler // base with ops applied
	ops      []handlerOp  // WithGroup and WithAttrs calls from the first group on
	hasRunID bool         // base already has a top-level run_id

	// cache holds the handler for the last run id seen when ops is not
	// empty, so that a grouped logger does not rebuild it for every line.
	mu    gosync.Mutex
	cache *cachedHandler
}

type handlerOp struct {
	group string // WithGroup(group) when attrs is nil
	attrs []slog.Attr
}

type cachedHandler struct {
	id int64
	h  slog.Handler
}

func (h *runIDHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *runIDHandler) Handle(ctx context.Context, r slog.Record) error {
	id, ok := RunIDFrom(ctx)
	if !ok || h.hasRunID {
		return h.inner.Handle(ctx, r)
	}
	if len(h.ops) > 0 {
		return h.withRunID(id).Handle(ctx, r)
	}
	has := false
	r.Attrs(func(a slog.Attr) bool {
		has = a.Key == runIDAttr
		return !has
	})
	if has {
		return h.inner.Handle(ctx, r)
	}
	// run_id first: it is what one greps for.
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(slog.Int64(runIDAttr, id))
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.inner.Handle(ctx, out)
}

// withRunID returns base with run_id added and then ops replayed.
func (h *runIDHandler) withRunID(id int64) slog.Handler {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cache != nil && h.cache.id == id {
		return h.cache.h
	}
	out := h.base.WithAttrs([]slog.Attr{slog.Int64(runIDAttr, id)})
	for _, op := range h.ops {
		if op.attrs != nil {
			out = out.WithAttrs(op.attrs)
		} else {
			out = out.WithGroup(op.group)
		}
	}
	h.cache = &cachedHandler{id: id, h: out}
	return out
}

func (h *runIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	if len(h.ops) == 0 {
		base := h.base.WithAttrs(attrs)
		has := h.hasRunID || slices.ContainsFunc(attrs, func(a slog.Attr) bool { return a.Key == runIDAttr })
		return &runIDHandler{base: base, inner: base, hasRunID: has}
	}
	return &runIDHandler{base: h.base, inner: h.inner.WithAttrs(attrs), hasRunID: h.hasRunID,
		ops: append(slices.Clip(h.ops), handlerOp{attrs: slices.Clone(attrs)})}
}

func (h *runIDHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &runIDHandler{base: h.base, inner: h.inner.WithGroup(name), hasRunID: h.hasRunID,
		ops: append(slices.Clip(h.ops), handlerOp{group: name})}
}
