package hrsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/internal/secret"
)

// TestHTTPErrorsHideQuotedSecrets: an HR server answering an error with a
// body that repeats the credentials it was sent (API key in the query,
// bearer token, another header, basic-auth password) must not get them
// into the error Read returns, nor into the retry warnings it logs.
func TestHTTPErrorsHideQuotedSecrets(t *testing.T) {
	t.Parallel()
	const (
		apiKey   = "hr-key-7c1d9e0a"
		token    = "hr-token-52b8f3aa"
		header   = "hr-header-e94d01b7"
		password = "hr-pass-1f6a2c9d"
	)
	secrets := []string{apiKey, url.QueryEscape(apiKey + " +"), token, header, password}
	echo := func(w http.ResponseWriter, r *http.Request, status int) {
		user, pass, _ := r.BasicAuth()
		http.Error(w, fmt.Sprintf("denied: key=%s raw=%s auth=%q x=%s user=%s pass=%s",
			r.URL.Query().Get("api_key"), r.URL.RawQuery, r.Header.Get("X-Token"), r.Header.Get("X-Api-Key"), user, pass), status)
	}
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"403 is reported at once", http.StatusForbidden, "403 Forbidden"},
		{"503 is retried, then reported", http.StatusServiceUnavailable, "503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) { echo(w, r, tt.status) })
			var logs bytes.Buffer
			src, err := New(Config{
				Type: TypeHTTP, URL: srv.URL + "/report?api_key=" + url.QueryEscape(apiKey+" +") + "&page=2",
				Headers:  map[string]string{"X-Token": "Bearer " + token, "X-Api-Key": header},
				Username: "reader", Password: password,
				RetryDelays: []time.Duration{time.Millisecond}, Fields: FieldsConfig{ID: "id"},
			}, Options{HTTPClient: srv.Client(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := src.Read(context.Background())
			if err == nil || snap != nil {
				t.Fatalf("read = %v, %v; want an error", snap, err)
			}
			// The server did quote them: the body is in the error, scrubbed.
			for _, w := range []string{tt.want, "denied: key=[redacted]", `auth=\"[redacted]`, "x=[redacted]", "user=reader pass=[redacted]", "page=2"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks %q: %v", s, err)
				}
				if strings.Contains(logs.String(), s) {
					t.Errorf("logs leak %q: %s", s, logs.String())
				}
			}
			if tt.status == http.StatusServiceUnavailable && !strings.Contains(logs.String(), "retrying") {
				t.Errorf("no retry logged: %s", logs.String())
			}
		})
	}
}

func TestScrubKeepsErrorChainsAndProblems(t *testing.T) {
	t.Parallel()
	r := reader{secrets: secret.NewSet("s3cret-abc")}
	err := r.scrub(fmt.Errorf("GET x: s3cret-abc: %w", context.DeadlineExceeded))
	if strings.Contains(err.Error(), "s3cret-abc") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("scrubbed %v (Is DeadlineExceeded: %v)", err, errors.Is(err, context.DeadlineExceeded))
	}
	ve := &ValidationError{Source: "https://h/r", Problems: []Problem{{Where: "page 1", Msg: "said s3cret-abc"}}}
	err = r.scrub(ve)
	var got *ValidationError
	if !errors.As(err, &got) || got.Problems[0].Msg != "said [redacted]" || ve.Problems[0].Msg != "said s3cret-abc" {
		t.Errorf("validation error scrubbed to %#v (original %#v)", err, ve)
	}
	if plain := errors.New("nothing secret"); r.scrub(plain) != plain {
		t.Error("an error without secrets was wrapped")
	}
}

func TestConfigSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string
		not  []string
	}{
		{
			name: "headers, bearer token alone, basic auth",
			cfg:  Config{Headers: map[string]string{"Authorization": "Bearer tok-0123456789"}, Username: "u", Password: "pw"},
			want: []string{"Bearer tok-0123456789", "tok-0123456789", "pw"},
			not:  []string{"u"},
		},
		{
			name: "short header values are settings unless the header is named like a secret",
			cfg:  Config{Headers: map[string]string{"X-Version": "2", "Accept": "text/csv", "X-Api-Key": "k3y", "X-Trace": "trace-id-0001"}},
			want: []string{"k3y", "text/csv", "trace-id-0001"},
			not:  []string{"2"},
		},
		{
			name: "query values: secret-named ones however short, long ones, not short settings",
			cfg:  Config{URL: "https://h/x?sig=abc&opaque=zzzzzzzzzz&page=2&format=json&api_key=a%2Fb%2Bc"},
			want: []string{"abc", "zzzzzzzzzz", "a/b+c", "a%2Fb%2Bc"},
			not:  []string{"2", "json"},
		},
		{
			name: "database url password, decoded and raw",
			cfg:  Config{DatabaseURL: "postgres://reader:p%40ss-word@db/hr?sslmode=require"},
			want: []string{"p@ss-word", "p%40ss-word"},
			not:  []string{"require", "reader"},
		},
		{
			name: "hr.auth secrets and the basic-auth header they travel in",
			cfg: Config{Auth: AuthConfig{Method: AuthBasic, Username: "ISU", Password: "isu-pass",
				ClientID: "cid", ClientSecret: "c-secret", RefreshToken: "r-token", Token: "t-token"}},
			want: []string{"isu-pass", "c-secret", "r-token", "t-token", "SVNVOmlzdS1wYXNz"},
			not:  []string{"ISU", "cid"},
		},
		{
			name: "the BambooHR key, as the basic-auth user",
			cfg:  Config{Type: TypeBambooHR, Auth: AuthConfig{Token: "bamboo-key"}},
			want: []string{"bamboo-key", "YmFtYm9vLWtleTp4"},
		},
		{
			name: "key=value connection string",
			cfg:  Config{DatabaseURL: "host=db dbname=hr user=reader password='kv pass'"},
			want: []string{"kv pass"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := configSecrets(tt.cfg)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("secrets %q lack %q", got, w)
				}
			}
			for _, n := range tt.not {
				if slices.Contains(got, n) {
					t.Errorf("secrets %q include the setting %q", got, n)
				}
			}
			if !slices.IsSortedFunc(got, func(a, b string) int { return len(b) - len(a) }) {
				t.Errorf("secrets %q are not longest first", got)
			}
		})
	}
}
