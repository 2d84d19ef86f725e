package hrsource

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	gosync "sync"
	"testing"
)

// TestHTTPAuth reads the http source with each hr.auth method against a
// server that accepts only the expected credentials.
func TestHTTPAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		auth  AuthConfig
		token *fakeToken
		check func(r *http.Request, token *fakeToken) bool
	}{
		{
			name:  "none",
			auth:  AuthConfig{},
			check: func(r *http.Request, _ *fakeToken) bool { return r.Header.Get("Authorization") == "" },
		},
		{
			name: "basic",
			auth: AuthConfig{Method: AuthBasic, Username: "reader", Password: "basic-password-1"},
			check: func(r *http.Request, _ *fakeToken) bool {
				u, p, ok := r.BasicAuth()
				return ok && u == "reader" && p == "basic-password-1"
			},
		},
		{
			name: "bearer",
			auth: AuthConfig{Method: AuthBearer, Token: "bearer-token-2"},
			check: func(r *http.Request, _ *fakeToken) bool {
				return r.Header.Get("Authorization") == "Bearer bearer-token-2"
			},
		},
		{
			name:  "api key in the default header",
			auth:  AuthConfig{Method: AuthAPIKey, Token: "api-key-3"},
			check: func(r *http.Request, _ *fakeToken) bool { return r.Header.Get("X-API-Key") == "api-key-3" },
		},
		{
			name:  "api key in a named header",
			auth:  AuthConfig{Method: AuthAPIKey, Token: "api-key-4", Header: "X-Staff-Key"},
			check: func(r *http.Request, _ *fakeToken) bool { return r.Header.Get("X-Staff-Key") == "api-key-4" },
		},
		{
			name:  "oauth2 client credentials",
			auth:  AuthConfig{Method: AuthOAuth2ClientCredentials, ClientID: "cid", ClientSecret: "client-secret-5", TokenURL: "/oauth/token", Scope: "hr.read staff.read"},
			token: &fakeToken{clientID: "cid", clientSecret: "client-secret-5", expiresIn: 3600},
			check: func(r *http.Request, tok *fakeToken) bool { return tok.valid(r.Header.Get("Authorization")) },
		},
		{
			name:  "oauth2 refresh token",
			auth:  AuthConfig{Method: AuthOAuth2RefreshToken, ClientID: "cid", ClientSecret: "client-secret-6", RefreshToken: "refresh-token-6", TokenURL: "/oauth/token"},
			token: &fakeToken{clientID: "cid", clientSecret: "client-secret-6", refreshToken: "refresh-token-6", expiresIn: 3600},
			check: func(r *http.Request, tok *fakeToken) bool { return tok.valid(r.Header.Get("Authorization")) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log requestLog
			srv := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/oauth/token" {
					tt.token.ServeHTTP(w, r)
					return
				}
				log.add(r)
				if !tt.check(r, tt.token) {
					http.Error(w, "who are you?", http.StatusUnauthorized)
					return
				}
				fmt.Fprint(w, `[{"id": "1"}, {"id": "2"}]`)
			}))
			cfg := Config{Type: TypeHTTP, URL: "/staff", Auth: tt.auth, Fields: FieldsConfig{ID: "id"}}
			src, err := newVendorSource(t, srv, cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				snap, err := src.Read(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if len(snap.Records) != 2 {
					t.Fatalf("%d records", len(snap.Records))
				}
			}
			if tt.token != nil && tt.token.count() != 1 {
				t.Errorf("%d tokens fetched for two reads, want 1 (cached until it expires)", tt.token.count())
			}
		})
	}
}

// TestHTTPAuthSecretsEchoed: a server quoting the credentials it was sent,
// and a token endpoint quoting the client secret, leave no secret in the
// error or the logs, in any of the forms they travel in.
func TestHTTPAuthSecretsEchoed(t *testing.T) {
	t.Parallel()
	tok := &fakeToken{clientID: "cid", clientSecret: "client-secret-77c1", expiresIn: 3600}
	srv := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			tok.ServeHTTP(w, r)
			return
		}
		// A 403 repeating what came in: the access token.
		http.Error(w, "forbidden for "+r.Header.Get("Authorization"), http.StatusForbidden)
	}))
	var logs syncBuffer
	cfg := Config{Type: TypeHTTP, URL: "/staff", Fields: FieldsConfig{ID: "id"},
		Auth: AuthConfig{Method: AuthOAuth2ClientCredentials, ClientID: "cid", ClientSecret: "client-secret-77c1", TokenURL: "/oauth/token"}}
	_, err := readVendor(t, srv, cfg, nil, &logs)
	if err == nil || !strings.Contains(err.Error(), `403 Forbidden ("forbidden for Bearer [redacted]")`) {
		t.Fatalf("read = %v", err)
	}
	checkNoSecret(t, err.Error()+logs.String(), "access-token-1-0123456789abcdef", "client-secret-77c1")

	// The token endpoint echoing the secret it was sent, as basic auth.
	srv2 := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error": "invalid_client", "error_description": "bad credentials %s"}`, r.Header.Get("Authorization"))
	}))
	cfg.Auth.TokenURL = "/oauth/token"
	_, err = readVendor(t, srv2, cfg, nil, &logs)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), "check hr.auth.client_id, hr.auth.client_secret and hr.auth.token_url") {
		t.Fatalf("read = %v", err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("cid:client-secret-77c1"))
	checkNoSecret(t, err.Error()+logs.String(), "client-secret-77c1", basic)
}

// TestHTTPAuthTokenRetried: a token endpoint failing with a 5xx is retried
// like a page.
func TestHTTPAuthTokenRetried(t *testing.T) {
	t.Parallel()
	tok := &fakeToken{clientID: "cid", clientSecret: "s3cret-9", expiresIn: 3600}
	var calls requestLog
	srv := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			calls.add(r)
			if calls.count() == 1 {
				http.Error(w, "upstream down", http.StatusBadGateway)
				return
			}
			tok.ServeHTTP(w, r)
			return
		}
		if !tok.valid(r.Header.Get("Authorization")) {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `[{"id": "1"}]`)
	}))
	cfg := Config{Type: TypeHTTP, URL: "/staff", Fields: FieldsConfig{ID: "id"},
		Auth: AuthConfig{Method: AuthOAuth2ClientCredentials, ClientID: "cid", ClientSecret: "s3cret-9", TokenURL: "/oauth/token"}}
	snap, err := readVendor(t, srv, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 1 || calls.count() != 2 {
		t.Errorf("%d records after %d token requests", len(snap.Records), calls.count())
	}
}

// TestHTTPAuthStaleToken: a cached access token the server refuses with a
// 401 (it announced no lifetime, or was revoked early) is replaced at once
// and the request sent again, once: the read succeeds instead of failing
// until the next run. A token fresh from the endpoint that is refused
// fails the read without asking for another.
func TestHTTPAuthStaleToken(t *testing.T) {
	t.Parallel()
	// RFC 6749 makes expires_in optional: without it a token is reused
	// until a server refuses it.
	tok := &fakeToken{clientID: "cid", clientSecret: "stale-secret-31", expiresIn: 0}
	var pages requestLog
	var mu gosync.Mutex
	revoked := map[string]bool{}
	refuseAll := false
	srv := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			tok.ServeHTTP(w, r)
			return
		}
		pages.add(r)
		h := r.Header.Get("Authorization")
		mu.Lock()
		defer mu.Unlock()
		if refuseAll || !tok.valid(h) || revoked[h] {
			http.Error(w, "token expired", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `[{"id": "1"}]`)
	}))
	cfg := Config{Type: TypeHTTP, URL: "/staff", Fields: FieldsConfig{ID: "id"},
		Auth: AuthConfig{Method: AuthOAuth2ClientCredentials, ClientID: "cid", ClientSecret: "stale-secret-31", TokenURL: "/oauth/token"}}
	src, err := newVendorSource(t, srv, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The server stops accepting the token it took an hour ago.
	mu.Lock()
	revoked["Bearer access-token-1-0123456789abcdef"] = true
	mu.Unlock()
	snap, err := src.Read(t.Context())
	if err != nil {
		t.Fatalf("read with a revoked cached token: %v", err)
	}
	if len(snap.Records) != 1 || tok.count() != 2 || pages.count() != 3 {
		t.Errorf("%d records, %d tokens, %d page requests; want 1, 2 and 3", len(snap.Records), tok.count(), pages.count())
	}

	// Every token refused: the cached one is replaced once, and the new
	// one's refusal is the answer.
	mu.Lock()
	refuseAll = true
	mu.Unlock()
	_, err = src.Read(t.Context())
	if err == nil || !strings.Contains(err.Error(), `401 Unauthorized ("token expired")`) {
		t.Fatalf("read with every token refused = %v", err)
	}
	if tok.count() != 3 || pages.count() != 5 {
		t.Errorf("%d tokens, %d page requests; want 3 and 5", tok.count(), pages.count())
	}
}

// TestHTTPAuthTokenRedirected: a token endpoint that redirects to another
// host is not followed (the client secret would go with the form), not
// retried, and the error names the key to fix: hr.auth.token_url.
func TestHTTPAuthTokenRedirected(t *testing.T) {
	t.Parallel()
	var elsewhere requestLog
	other := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.add(r)
		http.Error(w, "not here", http.StatusTeapot)
	}))
	var calls requestLog
	srv := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			calls.add(r)
			http.Redirect(w, r, other.URL+"/oauth2/token", http.StatusTemporaryRedirect)
			return
		}
		fmt.Fprint(w, `[{"id": "1"}]`)
	}))
	cfg := Config{Type: TypeHTTP, URL: "/staff", Fields: FieldsConfig{ID: "id"},
		Auth: AuthConfig{Method: AuthOAuth2ClientCredentials, ClientID: "cid", ClientSecret: "moved-secret-8", TokenURL: "/oauth/token"}}
	_, err := readVendor(t, srv, cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "another host: not followed, set hr.auth.token_url to the final address") {
		t.Fatalf("read = %v", err)
	}
	// One attempt is two requests: golang.org/x/oauth2 sends the client's
	// credentials in the header, then, that failing, in the form.
	if calls.count() != 2 || elsewhere.count() != 0 {
		t.Errorf("%d token requests, %d to the other host; want 2 (one attempt) and 0", calls.count(), elsewhere.count())
	}
}

// TestHTTPAuthRefreshTokenRotated: a token endpoint that answers each
// refresh with a new refresh token and refuses the old one (rotation) gets
// the newest one every time, never logged; a warning says that it lives in
// memory only, so that an invalid_grant after a restart is understood.
func TestHTTPAuthRefreshTokenRotated(t *testing.T) {
	t.Parallel()
	var mu gosync.Mutex
	current, issued := "rotating-refresh-0", 0
	srv := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			fmt.Fprint(w, `[{"id": "1"}]`)
			return
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if r.PostForm.Get("refresh_token") != current {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		issued++
		current = fmt.Sprintf("rotating-refresh-%d", issued)
		w.Header().Set("Content-Type", "application/json")
		// expires_in 1: below oauth2's margin, every read asks again.
		fmt.Fprintf(w, `{"access_token": "rotated-access-%d", "token_type": "Bearer", "expires_in": 1, "refresh_token": %q}`, issued, current)
	}))
	var logs syncBuffer
	cfg := Config{Type: TypeHTTP, URL: "/staff", Fields: FieldsConfig{ID: "id"},
		Auth: AuthConfig{Method: AuthOAuth2RefreshToken, ClientID: "cid", RefreshToken: "rotating-refresh-0", TokenURL: "/oauth/token"}}
	src, err := newVendorSource(t, srv, cfg, nil, &logs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := src.Read(t.Context()); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if issued != 3 {
		t.Errorf("%d tokens issued for three reads, want 3", issued)
	}
	if n := strings.Count(logs.String(), "the token endpoint rotated the refresh token"); n != 3 {
		t.Errorf("%d rotation warnings, want 3:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "hr.auth.refresh_token") {
		t.Errorf("the warning does not name hr.auth.refresh_token:\n%s", logs.String())
	}
	checkNoSecret(t, logs.String(), "rotating-refresh-0", "rotating-refresh-1", "rotating-refresh-2", "rotating-refresh-3", "rotated-access-1")
}

// TestHTTPPost sends hr.body with hr.http_method POST to every page.
func TestHTTPPost(t *testing.T) {
	t.Parallel()
	var log requestLog
	var bodies []string
	srv := fakeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := log.add(r)
		b, _ := io.ReadAll(r.Body)
		log.mu.Lock()
		bodies = append(bodies, r.Method+" "+r.Header.Get("Content-Type")+" "+string(b))
		log.mu.Unlock()
		if n == 1 {
			fmt.Fprint(w, `{"rows": [{"id": "1"}], "next": "/query?page=2"}`)
			return
		}
		fmt.Fprint(w, `{"rows": [{"id": "2"}], "next": null}`)
	}))
	cfg := Config{Type: TypeHTTP, URL: "/query", HTTPMethod: http.MethodPost, Body: `{"select": ["id"], "where": {"active": true}}`,
		RecordsPath: "rows", NextPagePath: "next", Fields: FieldsConfig{ID: "id"}}
	snap, err := readVendor(t, srv, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 2 {
		t.Fatalf("%d records", len(snap.Records))
	}
	want := `POST application/json {"select": ["id"], "where": {"active": true}}`
	if len(bodies) != 2 || bodies[0] != want || bodies[1] != want {
		t.Errorf("requests = %q, want twice %q", bodies, want)
	}
}
