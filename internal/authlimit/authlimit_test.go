package authlimit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/skillsync/skillsync/internal/authlimit"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func from(addr string) *http.Request {
	r := httptest.NewRequest("POST", "/", nil)
	r.RemoteAddr = addr
	return r
}
func fail(l *authlimit.Limiter, addr string) time.Duration { return l.Failed(from(addr)) }

func TestWaitDoublesAfterFreeFailures(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l := authlimit.New(authlimit.WithClock(c.now))
	const a = "192.0.2.1:4000"
	for i := range authlimit.DefaultFree {
		if w := fail(l, a); w != 0 {
			t.Fatalf("failure %d: wait %v, want none", i+1, w)
		}
		if w := l.Wait(from(a)); w != 0 {
			t.Fatalf("after failure %d: wait %v, want none", i+1, w)
		}
	}
	want := authlimit.DefaultFirstWait
	for i := range 12 {
		if w := fail(l, a); w != want {
			t.Fatalf("failure %d past the free ones: wait %v, want %v", i+1, w, want)
		}
		// Another port of the same host waits too.
		if w := l.Wait(from("192.0.2.1:5000")); w != want {
			t.Fatalf("same host: wait %v, want %v", w, want)
		}
		if w := l.Wait(from("192.0.2.2:4000")); w != 0 {
			t.Fatalf("another host waits %v", w)
		}
		c.advance(want)
		if w := l.Wait(from(a)); w != 0 {
			t.Fatalf("wait %v after the wait was over", w)
		}
		want = min(2*want, authlimit.DefaultMaxWait)
	}
	if want != authlimit.DefaultMaxWait {
		t.Fatalf("the wait never reached its ceiling: %v", want)
	}
	l.Succeeded(from(a))
	if w := fail(l, a); w != 0 {
		t.Errorf("after a success the count did not restart: wait %v", w)
	}
}

func TestIPv6CountedByPrefix(t *testing.T) {
	l := authlimit.New()
	for range authlimit.DefaultFree + 1 {
		fail(l, "[2001:db8:1:2::1]:443")
	}
	if w := l.Wait(from("[2001:db8:1:2:ffff::9]:1")); w == 0 {
		t.Error("an address in the same /64 does not wait")
	}
	if w := l.Wait(from("[2001:db8:1:3::1]:1")); w != 0 {
		t.Errorf("another /64 waits %v", w)
	}
	if got := authlimit.ClientOf(from("[::ffff:192.0.2.7]:80")); got != "192.0.2.7" {
		t.Errorf("IPv4-mapped address counted as %q", got)
	}
}

// Past the clients it remembers, new clients share one record, so guesses
// spread over many addresses still slow down; clients quiet for long are
// forgotten to make room.
func TestManyClientsShareARecord(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l := authlimit.New(authlimit.WithClock(c.now), authlimit.WithMaxClients(3))
	for _, a := range []string{"192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"} {
		fail(l, a)
	}
	for i := range authlimit.DefaultFree + 1 {
		fail(l, "198.51.100."+string(rune('1'+i))+":1")
	}
	if w := l.Wait(from("203.0.113.9:1")); w == 0 {
		t.Error("a new client past the limit does not share the others' wait")
	}
	if w := l.Wait(from("192.0.2.1:1")); w != 0 {
		t.Errorf("a remembered client waits %v for the others", w)
	}
	c.advance(authlimit.DefaultForget + authlimit.DefaultMaxWait + time.Second)
	if w := fail(l, "203.0.113.9:1"); w != 0 {
		t.Errorf("after the quiet period a new client waits %v", w)
	}
}

// Attempts sent together are all let through before the first of them
// fails: past the free failures, one at a time is checked, and the others
// wait as if it had failed.
func TestConcurrentAttemptsWait(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l := authlimit.New(authlimit.WithClock(c.now))
	const a = "192.0.2.1:4000"
	for range authlimit.DefaultFree {
		fail(l, a)
	}
	let := 0
	for range 100 { // arrive together: none has been answered yet
		if l.Wait(from(a)) == 0 {
			let++
		}
	}
	if let != 1 {
		t.Fatalf("%d of 100 attempts sent together past the free failures were checked, want 1", let)
	}
	if w := fail(l, a); w != authlimit.DefaultFirstWait {
		t.Errorf("the attempt let through failed: wait %v, want %v", w, authlimit.DefaultFirstWait)
	}
	c.advance(authlimit.DefaultFirstWait)
	if w := l.Wait(from(a)); w != 0 {
		t.Fatalf("wait %v after the wait was over", w)
	}
	l.Succeeded(from(a))
	if w := l.Wait(from(a)); w != 0 {
		t.Errorf("after a success: wait %v, want none", w)
	}
}

// A client's failures are forgotten once it has been quiet for
// DefaultForget, even while the limiter has room for every client.
func TestFailuresForgotten(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l := authlimit.New(authlimit.WithClock(c.now))
	const a = "192.0.2.1:4000"
	var w time.Duration
	for range authlimit.DefaultFree + 8 {
		w = fail(l, a)
	}
	c.advance(w + authlimit.DefaultForget + time.Second)
	if w := fail(l, a); w != 0 {
		t.Errorf("a failure after %v of quiet: wait %v, want none (the count starts again)", authlimit.DefaultForget, w)
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	for wait, want := range map[time.Duration]string{time.Millisecond: "1", 1500 * time.Millisecond: "2", 2 * time.Second: "2", 5 * time.Minute: "300"} {
		if got := authlimit.RetryAfter(wait); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", wait, got, want)
		}
	}
}
