package hrsource

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

// Helpers shared by the fakes of the vendor connectors' tests.

// fakeServer starts a TLS server for h.
func fakeServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// readVendor reads cfg (its URL relative to the server) through the
// server's trusting client, with fast retries, the given rule columns and
// a logger writing to logs when set.
func readVendor(t *testing.T, srv *httptest.Server, cfg Config, columns []string, logs io.Writer) (*Snapshot, error) {
	t.Helper()
	src, err := newVendorSource(t, srv, cfg, columns, logs)
	if err != nil {
		t.Fatal(err)
	}
	return src.Read(context.Background())
}

func newVendorSource(t *testing.T, srv *httptest.Server, cfg Config, columns []string, logs io.Writer) (Source, error) {
	t.Helper()
	if cfg.URL != "" {
		cfg.URL = srv.URL + cfg.URL
	}
	if cfg.Auth.TokenURL != "" {
		cfg.Auth.TokenURL = srv.URL + cfg.Auth.TokenURL
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{time.Millisecond, time.Millisecond}
	}
	opts := Options{HTTPClient: srv.Client(), Columns: columns}
	if logs != nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return New(cfg, opts)
}

// syncBuffer is a bytes buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu gosync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requestLog records what a fake was asked, for the assertions.
type requestLog struct {
	mu    gosync.Mutex
	reqs  []*http.Request
	times []time.Time
}

func (l *requestLog) add(r *http.Request) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
	l.times = append(l.times, time.Now())
	return len(l.reqs)
}

func (l *requestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

func (l *requestLog) at(i int) (*http.Request, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reqs[i], l.times[i]
}

// fakeToken is an OAuth 2.0 token endpoint (RFC 6749): the refresh_token
// grant (Workday's API clients for integrations) and client_credentials,
// the client authenticating with HTTP basic or in the form.
type fakeToken struct {
	clientID, clientSecret, refreshToken string
	// expiresIn is the lifetime it announces (seconds).
	expiresIn int

	mu     gosync.Mutex
	issued []string
}

func (f *fakeToken) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != f.clientID || secret != f.clientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "refresh_token":
		if r.PostForm.Get("refresh_token") != f.refreshToken {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
	case "client_credentials":
		if f.refreshToken != "" {
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	f.mu.Lock()
	tok := fmt.Sprintf("access-token-%d-0123456789abcdef", len(f.issued)+1)
	f.issued = append(f.issued, tok)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": f.expiresIn})
}

// valid says whether an Authorization header carries a token it issued.
func (f *fakeToken) valid(header string) bool {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.issued {
		if ok && tok == t {
			return true
		}
	}
	return false
}

func (f *fakeToken) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.issued)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error": %q}`, code)
}

// checkNoSecret fails when text holds one of the secrets.
func checkNoSecret(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("secret %q leaks: %s", s, text)
		}
	}
}
