package liveperson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/skillsync/skillsync/internal/secret"
)

// Options are the client's collaborators. Every field is optional.
type Options struct {
	// HTTPClient is shared by every request (keep-alive connections are
	// reused). Its Timeout should be zero: the client bounds each attempt
	// with Config.Timeout. Default: a client on a clone of
	// http.DefaultTransport.
	HTTPClient *http.Client
	// Logger gets one debug line per HTTP attempt and warnings on retries,
	// each logged with the context of the call that caused it, so that a
	// handler can add what the caller put there (skillsync's run id).
	Logger *slog.Logger
	// Observe is called once per HTTP attempt with the endpoint template
	// ("skills", "skills/{id}", "users", "users/{id}", "token", "login",
	// "refresh", "logout", "discovery"), the method, the status (0 for a
	// transport error) and how long the attempt took (sending the request
	// to reading the whole answer), e.g. for metrics.
	Observe func(endpoint, method string, status int, elapsed time.Duration)
	// Now is the clock for token lifetimes and OAuth 1.0 timestamps.
	Now func() time.Time
	// Delay maps each wait the client decides on (a retry delay, a 429
	// wait, the back-off after a 429 from login) to the wait it takes.
	// Default: wait as decided. Tests record the schedule and return 0.
	Delay func(time.Duration) time.Duration
}

// writeCheckKey is the context key of WithWriteCheck's function.
type writeCheckKey struct{}

// WithWriteCheck returns a context under which every write the client
// sends (POST, PUT, DELETE) first asks check, right before each attempt
// leaves: the first one and every retry (after a 429, a 5xx, a dropped
// connection or a 401's re-authentication), which may come minutes later.
// When check returns an error the attempt is not sent, nor retried, and the
// call returns an error wrapping check's: nothing more was sent. skillsync
// confirms its run lock this way, so that a retry waiting out a
// Retry-After does not write after another replica took the lock.
func WithWriteCheck(ctx context.Context, check func(context.Context) error) context.Context {
	return context.WithValue(ctx, writeCheckKey{}, check)
}

// writeCheck runs ctx's WithWriteCheck function, if any.
func writeCheck(ctx context.Context) error {
	if check, ok := ctx.Value(writeCheckKey{}).(func(context.Context) error); ok && check != nil {
		return check(ctx)
	}
	return nil
}

// Service names in the Domain API (case-sensitive).
const (
	// svcRead is discovered but no longer used: every read feeds a
	// write decision, so every read goes to ReadWrite.
	svcRead     = "accountConfigReadOnly"
	svcWrite    = "accountConfigReadWrite"
	svcSentinel = "sentinel"
	svcLogin    = "agentVep"
)

// Retry limits beyond Config.RetryDelays.
const (
	// maxRateLimitRetries bounds retries after 429 for one call.
	maxRateLimitRetries = 3
	// minRateLimitWait is LivePerson's minimum wait after a 429.
	minRateLimitWait = time.Second
	// maxRateLimitJitter spreads retries of concurrent callers.
	maxRateLimitJitter = 500 * time.Millisecond
	// maxRetryAfter is the longest Retry-After the client waits out inside
	// a call; a longer one is returned to the caller in APIError.RetryAfter.
	maxRetryAfter = 2 * time.Minute
	// maxBody bounds a response body read into memory.
	maxBody = 256 << 20
	// writeBuffer is the size of a connection's write buffer, which holds
	// a whole write request of a batch of 50.
	writeBuffer = 64 << 10
)

// Client talks to one LivePerson account. It is safe for concurrent use.
type Client struct {
	cfg       Config
	hc        *http.Client
	ownHTTP   bool
	log       *slog.Logger
	observeFn func(endpoint, method string, status int, elapsed time.Duration)
	now       func() time.Time
	delayFn   func(time.Duration) time.Duration
	red       *secret.Set
	auth      signer
	disc      discovery

	mu sync.Mutex
	// lists is the conditional-GET cache: the last body of each list URL
	// and the revision it was read at.
	lists  map[string]cachedList
	closed bool
}

type cachedList struct {
	revision string
	body     []byte
	// chunks is the body of a list read in chunks (call.chunks).
	chunks [][]byte
}

// signer authenticates requests; one implementation per auth method.
type signer interface {
	// sign adds credentials to one attempt, obtaining or renewing them
	// first if needed.
	sign(ctx context.Context, req *http.Request) error
	// reauth is called after a 401 for a request sent with the
	// Authorization header refused; the next sign uses new credentials.
	reauth(ctx context.Context, refused string) error
	// close releases server-side state (the login session).
	close(ctx context.Context) error
}

// New returns a client for cfg (defaults applied, then validated). It
// makes no request: discovery and authentication happen on first use.
func New(cfg Config, opts Options) (*Client, error) {
	cfg = cfg.WithDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, validationError(errs)
	}
	c := &Client{
		cfg:       cfg,
		hc:        opts.HTTPClient,
		log:       opts.Logger,
		observeFn: opts.Observe,
		now:       opts.Now,
		delayFn:   opts.Delay,
		red:       secret.NewSet(cfg.Auth.secrets()...),
		lists:     map[string]cachedList{},
	}
	if c.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// A request is written through the connection's buffer; a body
		// that does not fit in it is copied through a new 32 KB buffer
		// per request (net/http limits the body to its Content-Length).
		// A PUT of 50 full users is ~40 KB.
		t.WriteBufferSize = writeBuffer
		c.hc = &http.Client{Transport: t}
		c.ownHTTP = true
	}
	c.hc = refuseInsecureRedirects(c.hc)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.disc.init()
	a := cfg.Auth
	switch a.Method {
	case AuthOAuth2:
		c.auth = newOAuth2Signer(c)
	case AuthOAuth1:
		c.auth = &oauth1Signer{c: c, creds: oauth1Credentials{
			consumerKey: a.AppKey, consumerSecret: a.Secret, token: a.AccessToken, tokenSecret: a.AccessTokenSecret}}
	case AuthLogin:
		c.auth = newLoginSigner(c)
	}
	return c, nil
}

// refuseInsecureRedirects returns a copy of hc (sharing its transport)
// that refuses to follow a redirect to plain http on another machine: Go
// keeps the Authorization header on a redirect to the same host, and a
// downgrade would send the credentials unencrypted.
func refuseInsecureRedirects(hc *http.Client) *http.Client {
	out := *hc
	next := hc.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := secureURL(req.URL); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &out
}

// Close ends the login session (method login) and releases idle
// connections. The client must not be used afterwards.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	err := c.auth.close(ctx)
	if c.ownHTTP {
		c.hc.CloseIdleConnections()
	}
	return err
}

// BatchSize is the configured number of items per write request.
func (c *Client) BatchSize() int { return c.cfg.BatchSize }

// wait applies Options.Delay to a decided wait.
func (c *Client) wait(d time.Duration) time.Duration {
	if c.delayFn != nil {
		return c.delayFn(d)
	}
	return d
}

func (c *Client) observe(ctx context.Context, endpoint, method string, status int, start time.Time) {
	elapsed := time.Since(start)
	if c.observeFn != nil {
		c.observeFn(endpoint, method, status, elapsed)
	}
	// Method, endpoint template, status and duration only: never headers,
	// bodies or query strings, which may carry credentials.
	c.log.DebugContext(ctx, "liveperson request", "method", method, "endpoint", endpoint,
		"status", status, "duration", elapsed)
}

// call describes one account-config API request.
type call struct {
	method   string
	service  string // svcRead or svcWrite
	endpoint string // template for Observe and logs
	path     string // below .../configuration/le-users/
	query    url.Values
	body     []byte
	// ifMatch is the revision a write sends as If-Match ("": none).
	ifMatch string
	// conditional sends the cached copy's revision as If-Match and serves
	// a 304 from the cache.
	conditional bool
	// items is the number of objects in a batch body (0: not a batch).
	items int
	// chunks keeps the body of a 2xx answer in result.chunks, as read,
	// not joined into one slice (a 304 hands out the cached chunks
	// themselves): for the users list, which the codec decodes in chunks.
	chunks bool
	// dropBody reads the body of a 2xx answer to its end (the connection
	// is reused) without keeping it: the caller needs only its headers.
	// A PUT of 50 users is answered with the 50 users, ~40 KB that
	// would otherwise be read into a new buffer and never looked at.
	dropBody bool
}

// result is a successful response.
type result struct {
	status   int
	header   http.Header
	body     []byte
	chunks   [][]byte // the body, for a call with chunks set
	url      string
	revision string // from this response, or the cached copy's on 304
	ifMatch  string // the If-Match sent, if any
}

// attemptState is the retry bookkeeping of one call; each call gets its
// own, and so its own backoff.
type attemptState struct {
	retries     int // 5xx and transport retries used, indexes RetryDelays
	rateLimited int // 429 retries used
	reauthed    bool
	next        time.Duration // the wait chosen by the failed attempt
}

// do runs a call under the retry policy:
//   - 4xx is final, except 401 (re-authenticate and replay once) and 429
//     (wait at least 1 s plus jitter, or Retry-After; a bounded number of
//     times);
//   - 5xx and transport errors are retried after Config.RetryDelays for
//     GET, and for PUT and DELETE, which carry If-Match: should a replayed
//     write have succeeded the first time, the replay gets a revision
//     conflict, which the caller handles by re-reading;
//   - a POST is never replayed once it may have reached the server: a
//     transport error after the request was written, or a lost response,
//     yields ErrOutcomeUnknown (even when the caller's context ended the
//     wait), and a 5xx is final (and also matches ErrOutcomeUnknown), as
//     is a 4xx refusing a POST of several items, since batch atomicity is
//     undocumented (401, 403, 429 and conflicts excepted: they refuse the
//     request as a whole).
//
// Failures before the request is sent (discovery, token, login) are
// retried by the same rules whatever the method.
func (c *Client) do(ctx context.Context, cl call) (*result, error) {
	if c.isClosed() {
		return nil, errors.New("liveperson client is closed")
	}
	st := &attemptState{}
	// A new backoff per call: go-retry backoffs keep state. The wait is
	// decided by the attempt that failed (its status, Retry-After, the
	// retry count); the backoff only hands it over.
	backoff := retry.BackoffFunc(func() (time.Duration, bool) {
		return c.wait(st.next), false
	})
	return retry.DoValue(ctx, backoff, func(ctx context.Context) (*result, error) {
		return c.attempt(ctx, cl, st)
	})
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// accountBase returns https://host/api/account/{acc}/configuration/le-users/.
func (c *Client) accountBase(ctx context.Context, service string) (string, error) {
	var host string
	if c.cfg.BaseURL != "" {
		host = strings.TrimRight(c.cfg.BaseURL, "/")
	} else {
		h, err := c.disc.host(ctx, c, service)
		if err != nil {
			return "", err
		}
		host = h
	}
	return host + "/api/account/" + url.PathEscape(c.cfg.AccountID) + "/configuration/le-users/", nil
}

func (c *Client) attempt(ctx context.Context, cl call, st *attemptState) (*result, error) {
	base, err := c.accountBase(ctx, cl.service)
	if err != nil {
		return nil, c.preSendFailure(ctx, st, fmt.Errorf("discover services: %w", err))
	}
	u := base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", cl.method, cl.endpoint, err)
	}
	path := req.URL.Path
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.method == http.MethodPut || cl.method == http.MethodDelete {
		// LivePerson documents the override header for PUT and DELETE;
		// sending the real verb too keeps proxies and lpsim honest.
		req.Header.Set("X-HTTP-Method-Override", cl.method)
	}
	sentIfMatch := cl.ifMatch
	if sentIfMatch != "" {
		if sentIfMatch == "-1" || sentIfMatch == "*" {
			return nil, fmt.Errorf("%s %s: If-Match %s would overwrite any change: send the revision read", cl.method, path, sentIfMatch)
		}
		req.Header.Set("If-Match", sentIfMatch)
	}
	var cached *cachedList
	if cl.conditional {
		c.mu.Lock()
		if e, ok := c.lists[u]; ok && e.revision != "" {
			cached = &e
		}
		c.mu.Unlock()
		if cached != nil {
			// LivePerson's "Data Revisions": a GET with If-Match returns 304
			// when nothing changed (If-None-Match semantics).
			req.Header.Set("If-Match", cached.revision)
		}
	}
	// Signing may fetch a token or log in, each under its own timeout; the
	// request's own timeout starts after it.
	if err := c.auth.sign(ctx, req); err != nil {
		return nil, c.preSendFailure(ctx, st, fmt.Errorf("authenticate: %w", err))
	}
	sentAuth := req.Header.Get("Authorization")
	if cl.method != http.MethodGet {
		// Last thing before the request leaves (signing may have taken a
		// while): a write the caller may no longer make is not sent.
		if err := writeCheck(ctx); err != nil {
			return nil, fmt.Errorf("%s %s: not sent: %w", cl.method, path, err)
		}
	}

	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }}
	req = req.WithContext(httptrace.WithClientTrace(actx, trace))

	start := time.Now()
	resp, err := c.hc.Do(req)
	var respBody []byte
	var respChunks [][]byte
	if err == nil {
		switch ok := resp.StatusCode >= 200 && resp.StatusCode < 300; {
		case ok && cl.dropBody:
			err = dropBody(resp.Body)
		case ok && cl.chunks:
			respChunks, err = readChunks(resp.Body, resp.ContentLength)
		default:
			respBody, err = readBody(resp.Body, resp.ContentLength)
		}
		resp.Body.Close()
	}
	status := 0
	if resp != nil && err == nil {
		status = resp.StatusCode
	}
	c.observe(ctx, cl.endpoint, cl.method, status, start)
	if err != nil {
		return nil, c.transportFailure(ctx, cl, path, st, err, wrote.Load())
	}

	switch s := resp.StatusCode; {
	case s == http.StatusNotModified && cached != nil:
		rev := revisionOf(resp.Header)
		if rev == "" {
			rev = cached.revision
		}
		if cl.chunks {
			return &result{status: s, header: resp.Header, chunks: cached.chunks, url: u, revision: rev, ifMatch: sentIfMatch}, nil
		}
		return &result{status: s, header: resp.Header, body: bytes.Clone(cached.body), url: u, revision: rev, ifMatch: sentIfMatch}, nil
	case s >= 200 && s < 300:
		return &result{status: s, header: resp.Header, body: respBody, chunks: respChunks, url: u, revision: revisionOf(resp.Header), ifMatch: sentIfMatch}, nil
	}

	apiErr := c.apiError(cl.method, path, resp, respBody)
	apiErr.outcomeUnknown = cl.method == http.MethodPost && mayHaveApplied(resp.StatusCode, cl.items, apiErr.conflict)
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized && !st.reauthed:
		st.reauthed = true
		if err := c.auth.reauth(ctx, sentAuth); err != nil {
			return nil, fmt.Errorf("%w (re-authenticating: %v)", apiErr, err)
		}
		c.log.DebugContext(ctx, "liveperson: 401, re-authenticating and replaying once", "method", cl.method, "endpoint", cl.endpoint)
		st.next = 0
		return nil, retry.RetryableError(apiErr)
	case s == http.StatusTooManyRequests:
		return nil, retryIf(c.rateLimited(ctx, st, apiErr, minRateLimitWait), apiErr)
	case s >= 500 && cl.method != http.MethodPost:
		ok := c.retryLater(ctx, st, apiErr)
		if ok && apiErr.RetryAfter > st.next && apiErr.RetryAfter <= maxRetryAfter {
			// A 503 that says how long to wait is taken at its word when
			// that is longer than the schedule.
			st.next = apiErr.RetryAfter
		}
		return nil, retryIf(ok, apiErr)
	}
	return nil, apiErr
}

// mayHaveApplied reports whether a POST answered with an error status may
// still have created something: a 5xx may come from a gateway after the
// service applied the request, and a 4xx refusing one item of a batch may
// follow the items before it (LivePerson does not document batches as
// atomic). 401, 403, 429 and revision conflicts refuse the request before
// anything is applied.
func mayHaveApplied(status, items int, conflict bool) bool {
	switch {
	case status >= 500:
		return true
	case status < 400 || items < 2 || conflict:
		return false
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
		return false
	}
	return true
}

// rateLimited decides the wait after a 429: Retry-After if given, at least
// minWait, plus jitter. It reports false once the call has used its 429
// retries or the server asks for a wait too long to sit out (the caller
// then gets the error, with RetryAfter).
func (c *Client) rateLimited(ctx context.Context, st *attemptState, apiErr *APIError, minWait time.Duration) bool {
	if st.rateLimited >= maxRateLimitRetries || apiErr.RetryAfter > maxRetryAfter {
		return false
	}
	st.rateLimited++
	wait := max(apiErr.RetryAfter, minWait)
	if apiErr.RetryAfter == 0 {
		wait += rand.N(maxRateLimitJitter)
	}
	st.next = wait
	c.log.WarnContext(ctx, "liveperson: rate limited, waiting", "path", apiErr.Path, "wait", wait)
	return true
}

// retryLater schedules the next of Config.RetryDelays; false when they
// are used up.
func (c *Client) retryLater(ctx context.Context, st *attemptState, err error) bool {
	if st.retries >= len(c.cfg.RetryDelays) {
		return false
	}
	st.next = c.cfg.RetryDelays[st.retries]
	st.retries++
	c.log.WarnContext(ctx, "liveperson: retrying", "error", err, "wait", st.next, "retry", st.retries)
	return true
}

// retryIf marks err retryable when ok.
func retryIf(ok bool, err error) error {
	if ok {
		return retry.RetryableError(err)
	}
	return err
}

// transportFailure handles an attempt that got no (complete) response.
func (c *Client) transportFailure(ctx context.Context, cl call, path string, st *attemptState, err error, wrote bool) error {
	if cl.method == http.MethodPost && wrote && ctx.Err() != nil {
		// The caller gave up waiting, but the create may have been
		// applied all the same.
		return fmt.Errorf("%s %s: %w: %w", cl.method, path, ErrOutcomeUnknown, context.Cause(ctx))
	}
	if ctx.Err() != nil {
		// The caller gave up; not a failure of LivePerson.
		return fmt.Errorf("%s %s: %w", cl.method, path, context.Cause(ctx))
	}
	// Re-resolve hosts before the next attempt: a host that stops
	// answering may have moved.
	c.disc.markStale()
	terr := secret.Wrap(err, fmt.Sprintf("%s %s: %s", cl.method, path, c.red.Replace(transportMessage(err))))
	if cl.method == http.MethodPost && wrote {
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, terr)
	}
	return retryIf(c.retryLater(ctx, st, terr), terr)
}

// transportMessage strips the URL that *url.Error prints; the method and
// path are added by the caller.
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out waiting for LivePerson"
	}
	return err.Error()
}

// preSendFailure handles a failure before the request was sent
// (discovery, token, login): nothing reached the account-config API, so
// the usual rules apply whatever the call's method.
func (c *Client) preSendFailure(ctx context.Context, st *attemptState, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", err, context.Cause(ctx))
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.Status == http.StatusTooManyRequests:
			return retryIf(c.rateLimited(ctx, st, apiErr, max(minRateLimitWait, apiErr.minWait)), err)
		case apiErr.Status >= 500:
			return retryIf(c.retryLater(ctx, st, err), err)
		}
		return err
	}
	var fatal *fatalError
	if errors.As(err, &fatal) {
		return err
	}
	return retryIf(c.retryLater(ctx, st, err), err)
}

// fatalError marks a pre-send failure that retrying cannot fix.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// apiError builds the typed error of a non-2xx response.
func (c *Client) apiError(method, path string, resp *http.Response, body []byte) *APIError {
	e := &APIError{
		Method:     method,
		Path:       c.red.Replace(path),
		Status:     resp.StatusCode,
		Body:       c.red.Replace(truncate(string(body), maxErrorBody)),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
	for _, s := range c.cfg.ConflictStatuses {
		if s == resp.StatusCode {
			e.conflict = true
		}
	}
	return e
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 1<<20)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// revisionOf reads the account revision: ac-revision, else ETag without
// quotes or weak marker. It is an opaque string.
func revisionOf(h http.Header) string {
	if v := strings.TrimSpace(h.Get("ac-revision")); v != "" {
		return strings.Trim(v, `"`)
	}
	v := strings.TrimSpace(h.Get("ETag"))
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

// createFollows reports whether a create's revision got provably follows
// the If-Match sent: LivePerson documents no If-Match check on create, so
// the create succeeds whatever else changed since the caller's read, and
// its revision may include those changes. The counter is incremented by
// every change, so got == sent+1 means the create was the only one;
// anything else (someone else's edit, a counter that counts each created
// item, a revision that is not a number) keeps the caller at its read, and
// its next PUT or DELETE gets a conflict instead of overwriting a change
// it never saw.
func createFollows(sent, got string) bool {
	s, err1 := strconv.ParseInt(sent, 10, 64)
	g, err2 := strconv.ParseInt(got, 10, 64)
	return err1 == nil && err2 == nil && g == s+1
}

// storeList remembers a list body for conditional GETs. Called only after
// the body decoded, so the cache never serves a body that cannot be read.
// It keeps a copy: what the caller got aliases the body, and may change.
func (c *Client) storeList(res *result) {
	c.storeListBody(res, bytes.Clone(res.body))
}

// storeListShared is storeList keeping the body itself (its chunks), for
// a list whose values the caller cannot change (users hand out copies of
// their fields): the 15 MB users list of 20,000 users is not held twice.
func (c *Client) storeListShared(res *result) {
	c.storeListEntry(res, cachedList{revision: res.revision, chunks: res.chunks})
}

func (c *Client) storeListBody(res *result, body []byte) {
	c.storeListEntry(res, cachedList{revision: res.revision, body: body})
}

func (c *Client) storeListEntry(res *result, e cachedList) {
	if res.revision == "" || res.status != http.StatusOK {
		return
	}
	c.mu.Lock()
	c.lists[res.url] = e
	c.mu.Unlock()
}

// readBody reads a response body of at most maxBody bytes, of length n
// when n >= 0 (Content-Length), into one slice (readChunks, joined).
func readBody(body io.Reader, n int64) ([]byte, error) {
	chunks, err := readChunks(body, n)
	return joinChunks(chunks), err
}

// readChunks reads a response body of at most maxBody bytes, of length n
// when n >= 0 (Content-Length). io.ReadAll grows one slice by a quarter at
// a time: for a 15 MB users list it allocates ~75 MB and holds 2.25 times
// the body while it copies. Here a body of known length is read into one
// slice of that length, and one of unknown length (chunked, or gzip the
// transport decoded) into chunks of 64 KB doubling to 4 MB.
func readChunks(body io.Reader, n int64) ([][]byte, error) {
	r := io.LimitReader(body, maxBody)
	if n >= 0 && n < maxBody {
		// One byte more than announced: a longer body than its length
		// still reads whole (the transport stops at the length anyway).
		b := make([]byte, 0, n+1)
		for {
			if len(b) == cap(b) {
				b = append(b, 0)[:len(b)]
			}
			m, err := r.Read(b[len(b):cap(b)])
			b = b[:len(b)+m]
			if err == io.EOF {
				return [][]byte{b}, nil
			}
			if err != nil {
				return [][]byte{b}, err
			}
		}
	}
	var chunks [][]byte
	size := 64 << 10
	for {
		c := make([]byte, size)
		m, err := io.ReadFull(r, c)
		if m > 0 {
			chunks = append(chunks, c[:m])
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return chunks, nil
		}
		if err != nil {
			return chunks, err
		}
		size = min(size*2, 4<<20)
	}
}

// dropBody reads a body of at most maxBody bytes to its end and drops it,
// through io.Discard's pooled buffers: nothing is allocated.
func dropBody(body io.Reader) error {
	_, err := io.Copy(io.Discard, io.LimitReader(body, maxBody))
	return err
}

func joinChunks(chunks [][]byte) []byte {
	switch len(chunks) {
	case 0:
		return []byte{}
	case 1:
		return chunks[0]
	}
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	b := make([]byte, 0, total)
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b
}
