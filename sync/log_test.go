package sync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	gosync "sync"
	"testing"
	"testing/slogtest"

	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
)

// lockedBuffer is a log sink written by a run's goroutines and read by the
// test after the run.
type lockedBuffer struct {
	mu  gosync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON lines written so far.
func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if n := strings.Count(sc.Text(), `"run_id"`); n > 1 {
			t.Errorf("run_id %d times in %s", n, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestRunIDContext(t *testing.T) {
	t.Parallel()
	if _, ok := RunIDFrom(context.Background()); ok {
		t.Error("RunIDFrom found a run id in an empty context")
	}
	if id, ok := RunIDFrom(WithRunID(context.Background(), 42)); !ok || id != 42 {
		t.Errorf("RunIDFrom = %d, %v; want 42, true", id, ok)
	}
}

// TestLogHandlerConformance: without a run id in the context, LogHandler
// is a well-behaved slog handler (groups, attributes, empty values).
func TestLogHandlerConformance(t *testing.T) {
	t.Parallel()
	var mu gosync.Mutex
	bufs := map[*testing.T]*bytes.Buffer{}
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		mu.Lock()
		defer mu.Unlock()
		bufs[t] = &bytes.Buffer{}
		return LogHandler(slog.NewJSONHandler(bufs[t], nil))
	}, func(t *testing.T) map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var m map[string]any
		if err := json.Unmarshal(bufs[t].Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func TestLogHandler(t *testing.T) {
	t.Parallel()
	run7 := WithRunID(context.Background(), 7)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want []string // JSON of each line's attributes (without time, level and msg)
	}{
		{"no run in the context", func(l *slog.Logger) { l.InfoContext(context.Background(), "m", "a", 1) },
			[]string{`{"a":1}`}},
		{"without a context", func(l *slog.Logger) { l.Info("m", "a", 1) },
			[]string{`{"a":1}`}},
		{"run in the context", func(l *slog.Logger) { l.InfoContext(run7, "m", "a", 1) },
			[]string{`{"run_id":7,"a":1}`}},
		{"logger attributes", func(l *slog.Logger) { l.With("a", 1).InfoContext(run7, "m", "b", 2) },
			[]string{`{"a":1,"run_id":7,"b":2}`}},
		{"groups keep run_id at the top", func(l *slog.Logger) {
			l.With("a", 1).WithGroup("g").With("b", 2).WithGroup("h").InfoContext(run7, "m", "c", 3)
		}, []string{`{"a":1,"run_id":7,"g":{"b":2,"h":{"c":3}}}`}},
		{"a grouped logger follows the context's run", func(l *slog.Logger) {
			g := l.WithGroup("g")
			g.InfoContext(WithRunID(context.Background(), 1), "m", "c", 1)
			g.InfoContext(WithRunID(context.Background(), 2), "m", "c", 2)
			g.InfoContext(context.Background(), "m", "c", 3)
			g.InfoContext(WithRunID(context.Background(), 1), "m", "c", 4)
		}, []string{`{"run_id":1,"g":{"c":1}}`, `{"run_id":2,"g":{"c":2}}`, `{"g":{"c":3}}`, `{"run_id":1,"g":{"c":4}}`}},
		{"empty group name", func(l *slog.Logger) { l.WithGroup("").InfoContext(run7, "m", "c", 3) },
			[]string{`{"run_id":7,"c":3}`}},
		{"run_id from the logger wins", func(l *slog.Logger) { l.With("run_id", 5).WithGroup("g").InfoContext(run7, "m", "c", 3) },
			[]string{`{"run_id":5,"g":{"c":3}}`}},
		{"run_id of the record wins", func(l *slog.Logger) { l.InfoContext(run7, "m", "run_id", 5) },
			[]string{`{"run_id":5}`}},
		{"run_id inside a group is another attribute", func(l *slog.Logger) { l.WithGroup("g").InfoContext(run7, "m", "run_id", 5) },
			[]string{`{"run_id":7,"g":{"run_id":5}}`}},
		{"levels are the inner handler's", func(l *slog.Logger) {
			l.DebugContext(run7, "hidden")
			l.WithGroup("g").DebugContext(run7, "hidden")
			l.With("a", 1).DebugContext(run7, "hidden")
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf lockedBuffer
			tt.log(slog.New(LogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
						return slog.Attr{}
					}
					return a
				},
			}))))
			got := strings.Split(strings.TrimSpace(buf.buf.String()), "\n")
			if len(tt.want) == 0 && buf.buf.Len() == 0 {
				return
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestRunLogsCarryRunID: with LogHandler, every line logged during a run
// carries the run's id: the engine's, and the LivePerson client's request
// and retry lines at debug level.
func TestRunLogsCarryRunID(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
	logger := slog.New(LogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	e := setup(t, baseHR, deptConfig(), withLogger(logger))
	r := e.runner(e.cfg)
	first := e.run(r, store.ModeApply)
	// A 5xx on the read: the client logs a retry.
	e.sim.InjectFault(lpsim.Fault{Method: "GET", PathPrefix: skillsPath, Status: 503})
	second := e.run(r, store.ModePlan)

	lines := buf.lines(t)
	requests, retries := 0, 0
	byRun := map[float64]int{}
	for _, l := range lines {
		id, ok := l["run_id"].(float64)
		if !ok {
			t.Errorf("line without run_id: %v", l)
			continue
		}
		byRun[id]++
		switch l["msg"] {
		case "liveperson request":
			requests++
			if l["level"] != "DEBUG" {
				t.Errorf("request line at %v", l["level"])
			}
		case "liveperson: retrying":
			retries++
			if id != float64(second.Run.ID) {
				t.Errorf("retry of run %d logged with run_id %v", second.Run.ID, id)
			}
		}
	}
	// The first run: discovery, token, skills GET, one create POST.
	if requests < 4 || retries != 1 {
		t.Errorf("%d request lines and %d retry lines; want at least 4 and 1:\n%s", requests, retries, buf.buf.String())
	}
	if len(byRun) != 2 || byRun[float64(first.Run.ID)] == 0 || byRun[float64(second.Run.ID)] == 0 {
		t.Errorf("lines by run id %v, want runs %d and %d", byRun, first.Run.ID, second.Run.ID)
	}
}

// BenchmarkLogHandler: the cost LogHandler adds to a line of a run, on a
// plain logger (record copied) and a grouped one (cached handler).
func BenchmarkLogHandler(b *testing.B) {
	ctx := WithRunID(context.Background(), 7)
	for _, bc := range []struct {
		name string
		wrap bool
		log  func(*slog.Logger) *slog.Logger
	}{
		{"direct", false, func(l *slog.Logger) *slog.Logger { return l }},
		{"wrapped", true, func(l *slog.Logger) *slog.Logger { return l }},
		{"wrapped_grouped", true, func(l *slog.Logger) *slog.Logger { return l.WithGroup("g") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var h slog.Handler = slog.NewJSONHandler(io.Discard, nil)
			if bc.wrap {
				h = LogHandler(h)
			}
			l := bc.log(slog.New(h))
			b.ReportAllocs()
			for b.Loop() {
				l.InfoContext(ctx, "liveperson request", "method", "GET", "endpoint", "skills", "status", 200)
			}
		})
	}
}
