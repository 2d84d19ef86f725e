package hrsource

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve starts a TLS test server and returns it with a count of requests.
func serve(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var count atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, int(count.Add(1)))
	}))
	// Handshakes refused on purpose (TestHTTPTLS) need not be logged.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &count
}

// readHTTP reads srv with cfg (type http, fast retries) through the
// server's trusting client.
func readHTTP(t *testing.T, srv *httptest.Server, cfg Config) (*Snapshot, error) {
	t.Helper()
	cfg.Type = TypeHTTP
	if cfg.URL == "" {
		cfg.URL = srv.URL + "/report"
	} else {
		cfg.URL = srv.URL + cfg.URL
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{time.Millisecond, time.Millisecond}
	}
	src, err := New(cfg, Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return src.Read(context.Background())
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		handler  func(w http.ResponseWriter, r *http.Request, n int)
		ids      []string
		active   []string
		origins  []string
		requests int
	}{
		{
			name: "Workday Report_Entry with a bearer token",
			cfg: Config{
				RecordsPath: "Report_Entry", Headers: map[string]string{"Authorization": "Bearer tok-123"},
				Fields: FieldsConfig{ID: "Employee_ID", Email: "Email"}, Active: `Status == "Active"`,
			},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				if r.Header.Get("Authorization") != "Bearer tok-123" || r.Header.Get("Accept") != "application/json" {
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
				fmt.Fprint(w, `{"Report_Entry": [{"Employee_ID": "E1", "Email": "a@x.io", "Status": "Active"}, {"Employee_ID": "E2", "Email": "b@x.io", "Status": "Terminated"}]}`)
			},
			ids: []string{"E1", "E2"}, active: []string{"E1"},
			origins:  []string{"page 1: Report_Entry[0]", "page 1: Report_Entry[1]"},
			requests: 1,
		},
		{
			name: "BambooHR employees with basic auth",
			cfg: Config{
				RecordsPath: "employees", Username: "api-key-1", Password: "x",
				Fields: FieldsConfig{ID: "id", Email: "workEmail", Name: "displayName"},
			},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				if u, p, ok := r.BasicAuth(); !ok || u != "api-key-1" || p != "x" {
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
				fmt.Fprint(w, `{"fields": [{"id": "displayName"}], "employees": [{"id": "4", "displayName": "Ann Lee", "workEmail": "ann@x.io"}, {"id": "5", "displayName": "Bo", "workEmail": null}]}`)
			},
			ids: []string{"4", "5"}, active: []string{"4", "5"}, requests: 1,
		},
		{
			name: "Link rel=next pagination with an auth header on every page",
			cfg:  Config{Headers: map[string]string{"X-Api-Key": "k"}, Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				if r.Header.Get("X-Api-Key") != "k" {
					http.Error(w, "no key", http.StatusForbidden)
					return
				}
				switch r.URL.Query().Get("page") {
				case "":
					w.Header().Set("Link", `<https://`+r.Host+`/report?page=2>; rel="next", <https://`+r.Host+`/report?page=3>; rel="last"`)
					fmt.Fprint(w, `[{"id": "1"}, {"id": "2"}]`)
				case "2":
					w.Header().Set("Link", `</report?page=3>; rel="next"`)
					fmt.Fprint(w, `[{"id": "3"}]`)
				default:
					fmt.Fprint(w, `[{"id": "4"}]`)
				}
			},
			ids: []string{"1", "2", "3", "4"}, active: []string{"1", "2", "3", "4"},
			origins:  []string{"page 1: [0]", "page 1: [1]", "page 2: [0]", "page 3: [0]"},
			requests: 3,
		},
		{
			name: "next-page field in the body",
			cfg:  Config{RecordsPath: "data", NextPagePath: "links.next", Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				if r.URL.Query().Get("cursor") == "" {
					fmt.Fprint(w, `{"links": {"self": "x", "next": "/report?cursor=abc"}, "data": [{"id": "1"}]}`)
					return
				}
				fmt.Fprint(w, `{"data": [{"id": "2"}], "links": {"next": null}}`)
			},
			ids: []string{"1", "2"}, active: []string{"1", "2"}, requests: 2,
		},
		{
			name: "500 then 200 is retried",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					http.Error(w, "busy", http.StatusInternalServerError)
					return
				}
				fmt.Fprint(w, `[{"id": "1"}]`)
			},
			ids: []string{"1"}, active: []string{"1"}, requests: 2,
		},
		{
			name: "dropped connection then 200 is retried",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
					return
				}
				fmt.Fprint(w, `[{"id": "1"}]`)
			},
			ids: []string{"1"}, active: []string{"1"}, requests: 2,
		},
		{
			name: "redirect on the same host is followed",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if r.URL.Path == "/report" {
					http.Redirect(w, r, "/v2/report", http.StatusMovedPermanently)
					return
				}
				fmt.Fprint(w, `[{"id": "1"}]`)
			},
			ids: []string{"1"}, active: []string{"1"}, requests: 2,
		},
		{
			name: "CSV pages",
			cfg:  Config{Format: "csv", Fields: FieldsConfig{ID: "id"}, Active: `dept != "Ops"`},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if r.Header.Get("Accept") != "text/csv" {
					http.Error(w, "want csv", http.StatusNotAcceptable)
					return
				}
				if n == 1 {
					w.Header().Set("Link", `</report?p=2>; rel="next"`)
					fmt.Fprint(w, "\uFEFFid,dept\r\n1,Ops\r\n2,Sales\r\n")
					return
				}
				fmt.Fprint(w, "id,dept\n3,Sales\n")
			},
			ids: []string{"1", "2", "3"}, active: []string{"2", "3"},
			origins:  []string{"page 1:2", "page 1:3", "page 2:2"},
			requests: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, count := serve(t, tt.handler)
			snap, err := readHTTP(t, srv, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(snap.Records); !slices.Equal(got, tt.ids) {
				t.Errorf("ids = %q, want %q", got, tt.ids)
			}
			if got := activeIDs(snap.Records); !slices.Equal(got, tt.active) {
				t.Errorf("active = %q, want %q", got, tt.active)
			}
			for i, o := range tt.origins {
				if snap.Records[i].Origin != o {
					t.Errorf("record %d origin = %q, want %q", i, snap.Records[i].Origin, o)
				}
			}
			if got := int(count.Load()); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		handler  func(w http.ResponseWriter, r *http.Request, n int)
		want     []string
		problems []want
		requests int
	}{
		{
			name: "5xx until the retries run out, URL without secrets",
			cfg:  Config{URL: "/report?token=s3cret-q", Username: "u", Password: "s3cret-p", Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Error(w, "maintenance", http.StatusServiceUnavailable)
			},
			want:     []string{"GET https://127.0.0.1:", "/report?token=…", "503 Service Unavailable", "maintenance"},
			requests: 3,
		},
		{
			name: "401 is not retried",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Error(w, "bad token", http.StatusUnauthorized)
			},
			want:     []string{"401 Unauthorized", "check the credentials"},
			requests: 1,
		},
		{
			name: "next page on another host",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				w.Header().Set("Link", `<https://elsewhere.example/report?page=2>; rel="next"`)
				fmt.Fprint(w, `[{"id": "1"}]`)
			},
			want:     []string{"https://elsewhere.example, another host"},
			requests: 1,
		},
		{
			name: "redirect to another host is not followed",
			cfg:  Config{Headers: map[string]string{"X-Api-Key": "s3cret-k"}, Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, "https://elsewhere.example/report", http.StatusFound)
			},
			want:     []string{"redirected to https://elsewhere.example, another host"},
			requests: 1,
		},
		{
			name: "pagination loop",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Link", `</report?page=1>; rel="next"`)
				fmt.Fprintf(w, `[{"id": "%d"}]`, n)
			},
			want:     []string{"page 3 points back to", "loops"},
			requests: 2,
		},
		{
			name: "bad records across pages are reported together",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Link", `</report?page=2>; rel="next"`)
					fmt.Fprint(w, `[{"id": "1"}, {"id": ""}]`)
					return
				}
				fmt.Fprint(w, `[{"id": "1"}, {"id": "2"}, {"id": "3",]`)
			},
			problems: []want{
				{"page 2: [2]", []string{"undecodable JSON at byte 39"}},
				{"page 1: [1]", []string{"empty id"}},
				{"page 2: [0]", []string{`duplicate id "1"`, "also at page 1: [0]"}},
			},
			requests: 2,
		},
		{
			name: "an HTML login page instead of JSON",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				fmt.Fprint(w, "<!DOCTYPE html><html><body>Sign in</body></html>")
			},
			problems: []want{{"page 1", []string{"HTML", "check hr.url"}}},
			requests: 1,
		},
		{
			name: "an error object answered with a 200 on a later page",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}, RecordsPath: "data", NextPagePath: "next"},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					fmt.Fprint(w, `{"data": [{"id": "1"}], "next": "/report?page=2"}`)
					return
				}
				fmt.Fprint(w, `{"error": "session expired", "data": null}`)
			},
			problems: []want{{"page 2", []string{`the server answered 200 OK with an error instead of records ("session expired")`}}},
			requests: 2,
		},
		{
			name: "each attempt times out",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}, Timeout: 200 * time.Millisecond},
			handler: func(w http.ResponseWriter, r *http.Request, _ int) {
				<-r.Context().Done()
				// Never answer: returning would send an empty 200, which
				// the client may still read after its deadline.
				panic(http.ErrAbortHandler)
			},
			want: []string{"GET https://127.0.0.1:", "context deadline exceeded"},
			// How many attempts reach the handler before their deadline
			// depends on the machine's load: not checked.
			requests: -1,
		},
		{
			name: "an empty page that links to a next one",
			cfg:  Config{Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Link", fmt.Sprintf(`</report?page=%d>; rel="next"`, n+1))
				if n == 2 {
					fmt.Fprint(w, `[]`)
					return
				}
				fmt.Fprintf(w, `[{"id": "%d"}]`, n)
			},
			problems: []want{{"page 2", []string{"no records, yet it links to a next page"}}},
			requests: 2,
		},
		{
			name: "CSV pages with different headers",
			cfg:  Config{Format: "csv", Fields: FieldsConfig{ID: "id"}},
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Link", `</report?page=2>; rel="next"`)
					fmt.Fprint(w, "id,dept\n1,Ops\n")
					return
				}
				fmt.Fprint(w, "id,team\n2,Ops\n")
			},
			problems: []want{{"page 2:1", []string{"header differs from page 1's"}}},
			requests: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, count := serve(t, tt.handler)
			snap, err := readHTTP(t, srv, tt.cfg)
			if err == nil || snap != nil {
				t.Fatalf("read = %v, %v; want an error and no snapshot", snap, err)
			}
			if tt.problems != nil {
				checkProblems(t, err, tt.problems)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q leaks a secret", err)
			}
			if got := int(count.Load()); tt.requests >= 0 && got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
		})
	}
}

// TestHTTPTLS checks that certificates are always verified, against the
// system roots plus hr.ca_file.
func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		fmt.Fprint(w, `[{"id": "1"}]`)
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, block, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Type: TypeHTTP, URL: srv.URL, Fields: FieldsConfig{ID: "id"}, RetryDelays: []time.Duration{}}

	untrusted, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = untrusted.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "set hr.ca_file") {
		t.Errorf("read without the CA = %v, want a certificate error pointing at hr.ca_file", err)
	}

	cfg.CAFile = caFile
	trusted, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := trusted.Read(context.Background())
	if err != nil || len(snap.Records) != 1 {
		t.Fatalf("read with hr.ca_file = %v, %v", snap, err)
	}
	if count.Load() != 1 {
		t.Errorf("%d requests reached the handler, want 1", count.Load())
	}

	cfg.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "hr.ca_file") {
		t.Errorf("New with a missing CA file = %v", err)
	}
	if err := os.WriteFile(cfg.CAFile, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("New with a bad CA file = %v", err)
	}
}

func TestHTTPCanceled(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Error(w, "down", http.StatusBadGateway)
	})
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{Type: TypeHTTP, URL: srv.URL, Fields: FieldsConfig{ID: "id"}, RetryDelays: []time.Duration{time.Hour}}
	src, err := New(cfg, Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := src.Read(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel = %v, want context.Canceled", err)
	}
}

func TestNextLink(t *testing.T) {
	t.Parallel()
	tests := []struct{ header, want string }{
		{`<https://a/x?p=2>; rel="next"`, "https://a/x?p=2"},
		{`<https://a/x?p=1>; rel="prev", <https://a/x?p=3>; rel=next`, "https://a/x?p=3"},
		{`<https://a/x?p=9>; rel="last"`, ""},
		{`<https://a/x?p=2>; title="n"; rel="prefetch next"`, "https://a/x?p=2"},
		{`garbage`, ""},
	}
	for _, tt := range tests {
		h := http.Header{"Link": {tt.header}}
		if got := nextLink(h); got != tt.want {
			t.Errorf("nextLink(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 3 ", 3 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"Sun, 01 Mar 2026 12:05:00 GMT", 5 * time.Minute},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
		{"99999999999999", 365 * 24 * time.Hour},
		{"999999999999999999999999", 365 * 24 * time.Hour},
		{"Sun, 01 Mar 2199 12:00:00 GMT", 365 * 24 * time.Hour},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Retry-After", tt.header)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tt.header, got, tt.want)
		}
	}
}

// TestHTTPCapsAtTheEdge: a feed exactly hr.max_pages long, or exactly
// hr.max_bytes large, is read whole; hr.max_bytes counts the bytes as
// decoded, so a small compressed answer that expands past it is refused.
func TestHTTPCapsAtTheEdge(t *testing.T) {
	t.Parallel()
	pages, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("page") == "" {
			fmt.Fprint(w, `{"data": [{"id": "1"}], "next": "/report?page=2"}`)
			return
		}
		fmt.Fprint(w, `{"data": [{"id": "2"}], "next": null}`)
	})
	snap, err := readHTTP(t, pages, Config{Fields: FieldsConfig{ID: "id"}, RecordsPath: "data", NextPagePath: "next", MaxPages: 2})
	if err != nil || len(snap.Records) != 2 {
		t.Fatalf("two pages with hr.max_pages 2: %v", err)
	}

	const doc = `[{"id": "1"}]`
	exact, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) { fmt.Fprint(w, doc) })
	if _, err := readHTTP(t, exact, Config{Fields: FieldsConfig{ID: "id"}, MaxBytes: ByteSize(len(doc))}); err != nil {
		t.Errorf("a feed of exactly hr.max_bytes: %v", err)
	}
	if _, err := readHTTP(t, exact, Config{Fields: FieldsConfig{ID: "id"}, MaxBytes: ByteSize(len(doc) - 1)}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a feed one byte over hr.max_bytes = %v", err)
	}

	// About 5 KiB on the wire, 4 MiB decoded (Go's transport asks for
	// gzip and decodes it).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, `[{"id": "1", "padding": "%s"}]`, strings.Repeat("a", 4<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	bomb, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("Accept-Encoding = %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gz.Bytes())
	})
	_, err = readHTTP(t, bomb, Config{Fields: FieldsConfig{ID: "id"}, MaxBytes: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "larger than 1MiB (hr.max_bytes) at page 1") {
		t.Errorf("a compressed answer expanding past hr.max_bytes = %v", err)
	}
}
