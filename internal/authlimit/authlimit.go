// Package authlimit slows down the guessing of a shared secret over HTTP:
// the daemon's trigger token (console sign-in, POST /v1/runs, the apply
// endpoint) and the HR events signature. It counts failed attempts per
// client address; past a few, each further attempt from that client must
// wait, the wait doubling up to a ceiling, and a success clears the count.
//
// It imports nothing of ours.
package authlimit

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	gosync "sync"
	"time"
)

// Defaults of New.
const (
	// DefaultFree is how many failures a client has before it must wait.
	DefaultFree = 5
	// DefaultFirstWait is the first wait; each further failure doubles it.
	DefaultFirstWait = time.Second
	// DefaultMaxWait is the longest wait.
	DefaultMaxWait = 5 * time.Minute
	// DefaultForget is how long a client's failures are remembered after
	// its last one (and after its wait is over).
	DefaultForget = 15 * time.Minute
	// DefaultMaxClients bounds the clients remembered: past it, clients
	// new to the limiter share one record, so that guesses spread over
	// many addresses are slowed down together rather than forgotten.
	DefaultMaxClients = 10_000
)

// Limiter counts failed attempts per client. The zero value is not usable:
// call New. It is safe for concurrent use.
type Limiter struct {
	free       int
	firstWait  time.Duration
	maxWait    time.Duration
	forget     time.Duration
	maxClients int
	now        func() time.Time

	mu      gosync.Mutex
	clients map[string]*client
}

type client struct {
	fails int
	until time.Time // no attempt before
	last  time.Time // of the last failure
}

// Option changes a default of New.
type Option func(*Limiter)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithMaxClients sets how many clients are remembered one by one.
func WithMaxClients(n int) Option { return func(l *Limiter) { l.maxClients = max(1, n) } }

// New returns a limiter with the defaults above.
func New(opts ...Option) *Limiter {
	l := &Limiter{
		free: DefaultFree, firstWait: DefaultFirstWait, maxWait: DefaultMaxWait,
		forget: DefaultForget, maxClients: DefaultMaxClients, now: time.Now,
		clients: map[string]*client{},
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// overflow is the record of the clients past maxClients.
const overflow = "(other clients)"

// Wait says how long the client of r must wait before its credentials are
// checked again; 0 means check them now. A client past its free failures
// has one attempt checked at a time: the one let through holds the wait its
// failure would bring until it fails (Failed) or succeeds (Succeeded), so
// that attempts sent alongside it, which would otherwise all be checked
// before the first failure is counted, wait as well.
func (l *Limiter) Wait(r *http.Request) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.record(ClientOf(r), now, false)
	if c == nil {
		return 0
	}
	if d := c.until.Sub(now); d > 0 {
		return d
	}
	if c.fails >= l.free {
		c.until = now.Add(l.waitAfter(c.fails + 1))
	}
	return 0
}

// record is the record the attempts of client key count on, its failures
// reset once past remembering: the client's own or, once the limiter
// remembers maxClients, the one the clients past them share. Without
// create it is nil when there is none yet; with create, a full limiter
// first forgets the clients it may, then makes the record.
func (l *Limiter) record(key string, now time.Time, create bool) *client {
	c := l.clients[key]
	if c == nil {
		if create && len(l.clients) >= l.maxClients {
			l.prune(now)
		}
		if len(l.clients) >= l.maxClients {
			key = overflow
			c = l.clients[key]
		}
		if c == nil {
			if !create {
				return nil
			}
			c = &client{}
			l.clients[key] = c
		}
	}
	if l.forgotten(c, now) {
		*c = client{}
	}
	return c
}

// forgotten says whether c's failures are past remembering: quiet for
// longer than forget, its wait over.
func (l *Limiter) forgotten(c *client, now time.Time) bool {
	return now.Sub(c.last) > l.forget && !now.Before(c.until)
}

// waitAfter is the wait after a client's fails-th failure (0 while it
// has failures to spare).
func (l *Limiter) waitAfter(fails int) time.Duration {
	if fails <= l.free {
		return 0
	}
	if n := fails - l.free - 1; n < 30 {
		return min(l.maxWait, l.firstWait<<n)
	}
	return l.maxWait
}

// Failed records a failed attempt by the client of r and returns the wait
// it now has before its next attempt (0 while it has failures to spare).
func (l *Limiter) Failed(r *http.Request) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.record(ClientOf(r), now, true)
	c.fails++
	c.last = now
	wait := l.waitAfter(c.fails)
	if wait > 0 {
		c.until = now.Add(wait)
	}
	return wait
}

// Succeeded clears the failures of the client of r.
func (l *Limiter) Succeeded(r *http.Request) {
	key := ClientOf(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, key)
}

// prune forgets the clients quiet for longer than forget and whose wait is
// over.
func (l *Limiter) prune(now time.Time) {
	for k, c := range l.clients {
		if l.forgotten(c, now) {
			delete(l.clients, k)
		}
	}
}

// RetryAfter is wait in whole seconds, rounded up, at least 1.
func RetryAfter(wait time.Duration) string {
	return strconv.FormatInt(max(1, int64((wait+time.Second-1)/time.Second)), 10)
}

// ClientOf is the address a request's failures are counted under: the
// host of its remote address, an IPv6 one by its /64 (a host usually holds
// a whole /64). Headers such as X-Forwarded-For are not trusted: anyone
// can set them. Behind a proxy, every client shares the proxy's record.
func ClientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
