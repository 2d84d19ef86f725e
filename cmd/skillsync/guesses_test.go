package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/internal/authlimit"
)

// TestWrongCredentialsMustWait: wrong tokens and signatures count
// together, per client address, across the endpoints that take them; past
// the free ones the client gets 429 with Retry-After, even with the right
// token, while another address is not held back.
func TestWrongCredentialsMustWait(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.Server.TriggerToken = testTriggerToken
	cfg.HR.WebhookSecret = "hr-webhook-secret-0123456789"
	d := newDaemon(&app{cfg: &cfg, metrics: newMetrics(), log: slog.New(slog.DiscardHandler)}, &env{})
	h := d.handler()
	send := func(path, addr, token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, strings.NewReader(`{"event":"worker.hired"}`))
		r.RemoteAddr = addr
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		if path == "/v1/hr-events" {
			r.Header.Set(signatureHeader, "sha256=00")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	const attacker, other = "192.0.2.1:40000", "192.0.2.2:40000"
	paths := []string{"/v1/runs", "/v1/hr-events", "/v1/runs/1/apply"}
	for i := range authlimit.DefaultFree + 1 {
		path := paths[i%len(paths)]
		if rec := send(path, attacker, "not-the-token-0123456789"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d on %s: %d %s, want 401", i+1, path, rec.Code, rec.Body)
		}
	}
	for _, path := range paths {
		rec := send(path, attacker, testTriggerToken)
		var v struct{ Status, Error string }
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || v.Status != "too_many_attempts" {
			t.Errorf("%s after %d wrong tokens: %d, Retry-After %q, status %q; want 429, 1, too_many_attempts",
				path, authlimit.DefaultFree+1, rec.Code, rec.Header().Get("Retry-After"), v.Status)
		}
		if strings.Contains(rec.Body.String(), testTriggerToken) {
			t.Errorf("%s: the answer holds the token", path)
		}
	}
	if rec := send("/v1/runs", other, "not-the-token-0123456789"); rec.Code != http.StatusUnauthorized {
		t.Errorf("another address: %d, want 401", rec.Code)
	}
}
