package hrsource

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/skillsync/skillsync/internal/secret"
)

// New validates cfg (after applying its defaults), compiles the hr.active
// expression once and returns the source of cfg.Type.
func New(cfg Config, opts Options) (Source, error) {
	cfg = cfg.WithDefaults()
	errs := cfg.validate()
	active, err := compileActive(cfg.Active, cfg.MultiValue)
	if err != nil {
		errs = append(errs, err)
	}
	if err := joinConfigErrors(errs); err != nil {
		return nil, err
	}
	cfg.loc = opts.Location
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// A server may quote a credential back in an error body (a 403
	// repeating the API key): no error of a source carries one.
	base := reader{cfg: cfg, active: active, log: opts.Logger, secrets: secret.NewSet(configSecrets(cfg)...)}
	switch cfg.Type {
	case TypeHTTP, TypeWorkday, TypeBambooHR, TypeSuccessFactors:
		src, err := newHTTPSource(base, opts)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return src, nil
	case TypePostgres:
		return &postgresSource{reader: base}, nil
	default:
		return &fileSource{reader: base}, nil
	}
}

// ReadFile reads the csv, json or jsonl file at path with the other settings
// of cfg; an empty cfg.Type is picked from the extension (.json, .jsonl or
// .ndjson, else csv).
func ReadFile(ctx context.Context, path string, cfg Config) (*Snapshot, error) {
	cfg.Path = path
	if cfg.Type == "" {
		switch filepath.Ext(path) {
		case ".json":
			cfg.Type = TypeJSON
		case ".jsonl", ".ndjson":
			cfg.Type = TypeJSONL
		default:
			cfg.Type = TypeCSV
		}
	}
	src, err := New(cfg, Options{})
	if err != nil {
		return nil, err
	}
	return src.Read(ctx)
}

// reader holds what every source shares.
type reader struct {
	cfg    Config
	active *activeExpr
	log    *slog.Logger
	// secrets hides the configured credentials (and those learnt at run
	// time) in errors and logs.
	secrets *secret.Set
}

func (r reader) collector() *collector { return newCollector(&r.cfg, r.active) }

func (r reader) delimiter() rune {
	d, _ := utf8.DecodeRuneInString(r.cfg.Delimiter)
	return d
}

// fileSource reads a CSV, JSON or JSON Lines file.
type fileSource struct{ reader }

// Read reads and validates the whole file.
func (s *fileSource) Read(ctx context.Context) (*Snapshot, error) {
	f, err := os.Open(s.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("read hr source (hr.path): %w", err)
	}
	defer f.Close()
	c := s.collector()
	if st, err := f.Stat(); err == nil {
		c.sizeHint = st.Size()
	}
	name := filepath.Base(s.cfg.Path)
	in := ctxReader{ctx: ctx, r: f}
	switch s.cfg.Type {
	case TypeCSV:
		c.headerWhere = name + ":1"
		c.columns = c.readCSV(in, name, s.delimiter())
	case TypeJSON:
		// Read whole and walked in place, as an HTTP page is: half the CPU
		// and a quarter of the allocations of the streaming decoder, which
		// now only reports a file that is not JSON (BenchmarkJSON100k).
		buf := bytes.NewBuffer(make([]byte, 0, c.sizeHint+bytes.MinRead))
		if _, err := buf.ReadFrom(in); err != nil {
			// The decoder meets the error where reading stopped, and
			// reports it as it always has.
			reread := func() (io.ReadCloser, error) { return os.Open(s.cfg.Path) }
			c.readJSON(io.MultiReader(bytes.NewReader(buf.Bytes()), in), reread, name, s.cfg.RecordsPath, "")
			break
		}
		c.readJSONBytes(buf.Bytes(), name, s.cfg.RecordsPath, "")
	case TypeJSONL:
		c.readJSONL(in, name)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap, err := c.finish(s.cfg.Path)
	if err != nil {
		return nil, err
	}
	s.log.DebugContext(ctx, "hr source read", "path", s.cfg.Path, "records", snap.Stats.Records, "active", snap.Stats.Active)
	return snap, nil
}

// ctxReader stops a long read when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
