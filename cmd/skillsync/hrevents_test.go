package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skillsync/skillsync/sync"
)

func TestAuthenticHREvent(t *testing.T) {
	t.Parallel()
	const token, secret = "trigger-token-0123456789", "webhook-secret-0123456789"
	body := []byte(`{"event":"worker.hired"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	good := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	for _, tt := range []struct {
		name          string
		header        []string
		token, secret string
		want          bool
	}{
		{"bearer", []string{"Authorization", "Bearer " + token}, token, secret, true},
		{"signature", []string{signatureHeader, good}, token, secret, true},
		{"signature, no token configured", []string{signatureHeader, good}, "", secret, true},
		{"nothing", nil, token, secret, false},
		{"wrong bearer", []string{"Authorization", "Bearer " + token + "x"}, token, secret, false},
		{"empty bearer, no token configured", []string{"Authorization", "Bearer "}, "", secret, false},
		{"signature without its scheme", []string{signatureHeader, strings.TrimPrefix(good, "sha256=")}, token, secret, false},
		{"signature of another key", []string{signatureHeader, good}, token, secret + "x", false},
		{"signature, no secret configured", []string{signatureHeader, good}, token, "", false},
		{"signature truncated", []string{signatureHeader, good[:len(good)-2]}, token, secret, false},
	} {
		h := http.Header{}
		for i := 0; i+1 < len(tt.header); i += 2 {
			h.Set(tt.header[i], tt.header[i+1])
		}
		if got := authenticHREvent(h, body, tt.token, tt.secret); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRedactedConfigHidesWebhookSecret(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.HR.WebhookSecret = "hr-webhook-secret-42"
	out, secrets, err := redactedConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hr-webhook-secret-42") || !slices.Contains(secrets, "hr-webhook-secret-42") {
		t.Errorf("webhook_secret printed or not collected:\n%s", out)
	}
}

func TestAsOfContext(t *testing.T) {
	t.Parallel()
	ctx, err := asOfContext(context.Background(), "2026-12-14")
	if d, ok := sync.AsOf(ctx); err != nil || !ok || d.String() != "2026-12-14" {
		t.Errorf("as of %v %v %v", d, ok, err)
	}
	if _, err := asOfContext(context.Background(), "14.12.2026"); err == nil || !strings.Contains(err.Error(), "--as-of") {
		t.Errorf("bad day: %v", err)
	}
	if ctx, err := asOfContext(context.Background(), ""); err != nil || ctx != context.Background() {
		t.Errorf("no day: %v", err)
	}
}

// TestHREventFloodIsBounded: a flood of events (a bulk HR import posting
// one per worker, or a client in a loop) while a run goes keeps a bounded
// record of their times, and counts every one of them.
func TestHREventFloodIsBounded(t *testing.T) {
	t.Parallel()
	h := &hrEvents{d: stoppedDaemon(), debounce: time.Second, running: true}
	t0 := time.Now()
	const n = 200_000
	for i := range n {
		h.event(t0.Add(time.Duration(i) * time.Millisecond))
	}
	if len(h.waiting) > maxWaitingEvents {
		t.Errorf("%d event times kept for %d events, want at most %d", len(h.waiting), n, maxWaitingEvents)
	}
	total := 0
	for _, e := range h.waiting {
		total += e.n
	}
	if total != n {
		t.Errorf("%d events counted, want %d", total, n)
	}
	if !h.waiting[0].at.Equal(t0) {
		t.Errorf("first event at %v, want %v (the oldest is the one the histogram must not lose)", h.waiting[0].at, t0)
	}
}

// TestHREventStreamStillRuns: events that keep coming closer together
// than hr.event_debounce (a busy HR day) still bring a run: at most
// maxEventDelay debounces after the first event no run covers.
func TestHREventStreamStillRuns(t *testing.T) {
	t.Parallel()
	h := &hrEvents{d: stoppedDaemon(), debounce: time.Hour}
	defer h.stop()
	t0 := time.Now()
	var due time.Time
	for i := range 100 {
		due, _ = h.event(t0.Add(time.Duration(i) * 30 * time.Minute))
	}
	if limit := t0.Add(maxEventDelay * time.Hour); due.After(limit) {
		t.Errorf("after 50 hours of events every 30 minutes the run is due at %v, more than %d debounces after the first event (%v)", due, maxEventDelay, limit)
	}
}

// TestHREventFloodSpacesRuns: events that never stop (a replayed signed
// request in a loop) during a run that lasts longer than maxEventDelay
// debounces do not make the follow-up run start right away, run after
// run: it waits for the flood to pause, maxEventDelay debounces at most
// after the run ended.
func TestHREventFloodSpacesRuns(t *testing.T) {
	t.Parallel()
	h := &hrEvents{d: stoppedDaemon(), debounce: time.Minute, running: true}
	defer h.stop()
	start := time.Now().Add(-time.Hour) // the run began an hour ago
	for i := range 3600 {
		h.event(start.Add(time.Duration(i) * time.Second))
	}
	h.ended(nil, false, nil, 0)
	if wait := time.Until(h.due); wait < 50*time.Second {
		t.Errorf("the follow-up run of a flood starts %v after the run, want a debounce after the last event", wait.Round(time.Second))
	}
	// The flood goes on: the follow-up run is due maxEventDelay
	// debounces after the run ended, no later.
	end := h.lastEnd
	for i := range 1200 {
		h.event(end.Add(time.Duration(i) * time.Second))
	}
	if want := end.Add(maxEventDelay * time.Minute); !h.due.Equal(want) {
		t.Errorf("under a flood the follow-up run is due %v after the run, want %d debounces", h.due.Sub(end), maxEventDelay)
	}
}

// stoppedDaemon is a daemon that has stopped accepting runs: a debouncer's
// timer firing in a test that drives it by hand (its due time may be
// past) starts nothing.
func stoppedDaemon() *daemon {
	d := &daemon{shutdown: make(chan struct{})}
	close(d.shutdown)
	return d
}
