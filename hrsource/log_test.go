package hrsource

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// ctxKey marks the context given to Read.
type ctxKey struct{}

// ctxHandler records, for every line, its message and whether the context
// it was logged with is the one given to Read (run_id is taken from there).
type ctxHandler struct {
	mu    *sync.Mutex
	lines *[]string
}

func (h ctxHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	mark, _ := ctx.Value(ctxKey{}).(string)
	*h.lines = append(*h.lines, fmt.Sprintf("%s ctx=%q", r.Message, mark))
	return nil
}

func (h ctxHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h ctxHandler) WithGroup(string) slog.Handler      { return h }

// TestLogContext checks that every line a source logs carries the context
// given to Read: the daemon's handler reads run_id from it.
func TestLogContext(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case n == 1:
			http.Error(w, "busy", http.StatusServiceUnavailable) // one retry
		case r.URL.Query().Get("page") == "":
			w.Header().Set("Link", `</report?page=2>; rel="next"`)
			fmt.Fprint(w, `[{"id": "1"}]`)
		default:
			fmt.Fprint(w, `[{"id": "2"}]`)
		}
	})
	csvPath := filepath.Join(t.TempDir(), "staff.csv")
	if err := os.WriteFile(csvPath, []byte("id\n1\n2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		opts Options
		want []string // messages, in order
	}{
		{
			name: "file",
			cfg:  Config{Type: TypeCSV, Path: csvPath},
			want: []string{"hr source read"},
		},
		{
			name: "http with a retry and two pages",
			cfg: Config{
				Type: TypeHTTP, URL: srv.URL + "/report",
				RetryDelays: []time.Duration{time.Millisecond},
			},
			opts: Options{HTTPClient: srv.Client()},
			want: []string{"hr request failed, retrying", "hr page read", "hr page read"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var lines []string
			tt.opts.Logger = slog.New(ctxHandler{mu: new(sync.Mutex), lines: &lines})
			tt.cfg.Fields = FieldsConfig{ID: "id"}
			src, err := New(tt.cfg, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.WithValue(t.Context(), ctxKey{}, "the read's")
			if _, err := src.Read(ctx); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, msg := range tt.want {
				want = append(want, msg+` ctx="the read's"`)
			}
			if !slices.Equal(lines, want) {
				t.Errorf("logged:\n%q\nwant:\n%q", lines, want)
			}
		})
	}
}
