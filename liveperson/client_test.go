package liveperson

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

const testSecret = "s3cr3t-client-secret"

// fake is an httptest LivePerson: discovery and Sentinel answer normally,
// the account-config API is scripted per test.
type fake struct {
	srv *httptest.Server

	mu        sync.Mutex
	api       func(w http.ResponseWriter, r *http.Request, n int)
	apiN      int
	apiReqs   []*http.Request
	apiBodies []string
	tokens    int
	discovery int
	// tokenTTL is the token's exp claim offset; 0 sends no exp.
	tokenTTL    time.Duration
	tokenStatus int
	discStatus  int
	// roHost, when set, is discovered for accountConfigReadOnly.
	roHost string
	now    func() time.Time
}

func newFake(t *testing.T, api func(w http.ResponseWriter, r *http.Request, n int)) *fake {
	t.Helper()
	f := &fake{api: api, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/account/123/service/baseURI.json", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.discovery++
		st := f.discStatus
		f.mu.Unlock()
		if st != 0 {
			w.WriteHeader(st)
			return
		}
		f.mu.Lock()
		roHost := f.roHost
		f.mu.Unlock()
		var list []map[string]string
		for _, s := range []string{svcRead, svcWrite, svcSentinel, svcLogin} {
			host := r.Host
			if s == svcRead && roHost != "" {
				host = roHost
			}
			list = append(list, map[string]string{"service": s, "account": "123", "baseURI": host})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"baseURIs": list})
	})
	mux.HandleFunc("/sentinel/api/v2/account/123/app/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.tokens++
		n, ttl, st := f.tokens, f.tokenTTL, f.tokenStatus
		f.mu.Unlock()
		if r.PostForm.Get("client_secret") != testSecret || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad secret %s"}`, r.PostForm.Get("client_secret"))
			return
		}
		if st != 0 {
			w.WriteHeader(st)
			fmt.Fprintf(w, `{"error":"server_error","error_description":"echo %s"}`, r.PostForm.Get("client_secret"))
			return
		}
		tok := fmt.Sprintf("tok%d", n)
		if ttl != 0 {
			claims, _ := json.Marshal(map[string]any{"exp": f.now().Add(ttl).Unix()})
			tok = "e30." + base64.RawURLEncoding.EncodeToString(claims) + ".sig" + fmt.Sprint(n)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer"}`, tok)
	})
	mux.HandleFunc("/api/account/123/configuration/le-users/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		n := f.apiN
		f.apiN++
		f.apiReqs = append(f.apiReqs, r)
		f.apiBodies = append(f.apiBodies, string(body))
		api := f.api
		f.mu.Unlock()
		api(w, r, n)
	})
	f.srv = httptest.NewUnstartedServer(mux)
	// Hung-up connections make the server log; keep test output clean.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.apiReqs)
}

func (f *fake) counts() (api, tokens, discovery int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apiN, f.tokens, f.discovery
}

// recorder collects the waits the client decides on and what it observes.
type recorder struct {
	mu       sync.Mutex
	delays   []time.Duration
	observed []string
	notTimed []string // observed with no elapsed time
}

func (r *recorder) delay(d time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays = append(r.delays, d)
	return 0
}

func (r *recorder) observe(endpoint, method string, status int, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observed = append(r.observed, fmt.Sprintf("%s %s %d", method, endpoint, status))
	if elapsed <= 0 {
		r.notTimed = append(r.notTimed, fmt.Sprintf("%s %s %d", method, endpoint, status))
	}
}

func (r *recorder) waits() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.delays)
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.observed)
}

func setup(t *testing.T, f *fake, mod func(*Config, *Options)) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg := Config{
		AccountID:    "123",
		DomainAPIURL: f.srv.URL,
		Auth:         AuthConfig{Method: AuthOAuth2, ClientID: "cid", ClientSecret: testSecret},
		Timeout:      5 * time.Second,
	}
	opts := Options{HTTPClient: f.srv.Client(), Delay: rec.delay, Observe: rec.observe}
	if mod != nil {
		mod(&cfg, &opts)
	}
	c, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, rec
}

// statuses answers the n-th API request with codes[n] (200 with an empty
// list and revision 7 beyond the end).
func statuses(codes ...int) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if n < len(codes) && codes[n] != 200 {
			w.WriteHeader(codes[n])
			fmt.Fprintf(w, `{"message":"status %d"}`, codes[n])
			return
		}
		w.Header().Set("ac-revision", "7")
		fmt.Fprint(w, `[]`)
	}
}

func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	d := DefaultRetryDelays
	tests := []struct {
		name         string
		codes        []int
		op           func(context.Context, *Client) error
		wantAttempts int
		wantDelays   []time.Duration
		wantStatus   int // 0: success
		wantUnknown  bool
	}{
		{"GET 5xx burst recovers", []int{503, 500, 502}, listOp, 4, d, 0, false},
		{"GET 5xx exhausted", []int{500, 500, 500, 500, 500}, listOp, 4, d, 500, false},
		{"PUT with If-Match retried", []int{200, 503}, updateOp, 3, d[:1], 0, false},
		{"DELETE with If-Match retried", []int{200, 504, 504}, deleteOp, 4, d[:2], 0, false},
		{"POST 5xx not retried", []int{500}, createOp, 1, nil, 500, true},
		{"400 not retried", []int{400}, listOp, 1, nil, 400, false},
		{"403 not retried", []int{403}, listOp, 1, nil, 403, false},
		{"404 not retried", []int{404}, listOp, 1, nil, 404, false},
		{"409 not retried", []int{200, 409}, updateOp, 2, nil, 409, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, statuses(tt.codes...))
			c, rec := setup(t, f, nil)
			err := tt.op(t.Context(), c)
			api, _, _ := f.counts()
			if api != tt.wantAttempts {
				t.Errorf("%d API attempts, want %d", api, tt.wantAttempts)
			}
			if got := rec.waits(); !slices.Equal(got, tt.wantDelays) {
				t.Errorf("waits %v, want %v", got, tt.wantDelays)
			}
			var apiErr *APIError
			switch {
			case tt.wantStatus == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantStatus != 0 && (!errors.As(err, &apiErr) || apiErr.Status != tt.wantStatus):
				t.Fatalf("error %v, want HTTP %d", err, tt.wantStatus)
			}
			if errors.Is(err, ErrOutcomeUnknown) != tt.wantUnknown {
				t.Errorf("errors.Is(err, ErrOutcomeUnknown) = %v, want %v (%v)", !tt.wantUnknown, tt.wantUnknown, err)
			}
		})
	}
}

func listOp(ctx context.Context, c *Client) error {
	_, err := c.ListSkills(ctx, false)
	return err
}

// updateOp reads first (request 0) so a revision is known, then updates.
func updateOp(ctx context.Context, c *Client) error {
	_, rev, err := c.ListSkillsAt(ctx, false)
	if err != nil {
		return err
	}
	_, _, err = c.UpdateSkills(ctx, rev, []Skill{{ID: 1, Name: "a"}})
	return err
}

func deleteOp(ctx context.Context, c *Client) error {
	_, rev, err := c.ListSkillsAt(ctx, false)
	if err != nil {
		return err
	}
	_, err = c.DeleteSkills(ctx, rev, []int64{1, 2})
	return err
}

func createOp(ctx context.Context, c *Client) error {
	_, _, err := c.CreateSkills(ctx, "", []Skill{{Name: "a"}})
	return err
}

// hangUp closes the connection without answering, after reading the
// request: a lost response.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	t.Run("lost POST response is outcome unknown, not replayed", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { hangUp(w) })
		c, rec := setup(t, f, nil)
		err := createOp(t.Context(), c)
		if !errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("error %v, want ErrOutcomeUnknown", err)
		}
		if api, _, _ := f.counts(); api != 1 {
			t.Fatalf("%d POSTs, want 1", api)
		}
		if len(rec.waits()) != 0 {
			t.Fatalf("waited %v before giving up", rec.waits())
		}
	})
	t.Run("GET retried after dropped connections", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n < 2 {
				hangUp(w)
				return
			}
			statuses()(w, r, n)
		})
		c, rec := setup(t, f, nil)
		if err := listOp(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		// net/http itself replays a GET once when a reused keep-alive
		// connection turns out closed, so two drops cost one or two of
		// the client's retries; the waits follow the schedule either way.
		got := rec.waits()
		if len(got) == 0 || !slices.Equal(got, DefaultRetryDelays[:len(got)]) {
			t.Fatalf("waits %v, want a prefix of %v", got, DefaultRetryDelays)
		}
		if api, _, _ := f.counts(); api != 3 {
			t.Fatalf("%d requests reached the server, want 3", api)
		}
		// A connection error makes the client ask the Domain API again.
		if _, _, disc := f.counts(); disc < 2 {
			t.Fatalf("%d discovery calls, want a refresh after the connection error", disc)
		}
	})
	t.Run("per-request timeout is a transport error", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 0 {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			statuses()(w, r, n)
		})
		defer close(release)
		// Long enough that the answers after the first never time out
		// on a loaded machine, short enough to keep the test quick.
		c, rec := setup(t, f, func(c *Config, _ *Options) { c.Timeout = 500 * time.Millisecond })
		if err := listOp(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if got := rec.waits(); !slices.Equal(got, DefaultRetryDelays[:1]) {
			t.Fatalf("waits %v", got)
		}
	})
	t.Run("POST that never left is retried", func(t *testing.T) {
		t.Parallel()
		// Nothing listens on the port: the connection is refused before a
		// byte is written, so replaying the create cannot duplicate it.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		f := newFake(t, statuses())
		c, rec := setup(t, f, func(c *Config, _ *Options) {
			c.BaseURL = "https://" + addr
			c.Auth = AuthConfig{Method: AuthOAuth1, AppKey: "k", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"}
		})
		err = createOp(t.Context(), c)
		if err == nil || errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("error %v: want a plain transport error", err)
		}
		if got := rec.waits(); !slices.Equal(got, DefaultRetryDelays) {
			t.Fatalf("waits %v, want %v", got, DefaultRetryDelays)
		}
	})
	t.Run("cancelled context stops retrying", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, statuses(503, 503, 503, 503))
		ctx, cancel := context.WithCancel(t.Context())
		c, _ := setup(t, f, func(_ *Config, o *Options) {
			o.Delay = func(time.Duration) time.Duration { cancel(); return time.Hour }
		})
		if err := listOp(ctx, c); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		times      int
		method     func(context.Context, *Client) error
		check      func(t *testing.T, waits []time.Duration)
		wantErr    bool
	}{
		{"Retry-After seconds honoured", "3", 1, listOp, func(t *testing.T, w []time.Duration) {
			if !slices.Equal(w, []time.Duration{3 * time.Second}) {
				t.Errorf("waits %v, want [3s]", w)
			}
		}, false},
		{"Retry-After date honoured", "date", 1, listOp, func(t *testing.T, w []time.Duration) {
			if len(w) != 1 || w[0] < 5*time.Second || w[0] > 11*time.Second {
				t.Errorf("waits %v, want ~10s", w)
			}
		}, false},
		{"no Retry-After: at least 1 s plus jitter", "", 2, listOp, func(t *testing.T, w []time.Duration) {
			if len(w) != 2 {
				t.Fatalf("waits %v", w)
			}
			for _, d := range w {
				if d < time.Second || d >= time.Second+maxRateLimitJitter {
					t.Errorf("wait %s outside [1s, 1.5s)", d)
				}
			}
		}, false},
		{"Retry-After below 1 s raised to 1 s", "0", 1, listOp, func(t *testing.T, w []time.Duration) {
			if len(w) != 1 || w[0] < time.Second {
				t.Errorf("waits %v", w)
			}
		}, false},
		{"POST 429 is retried: nothing was applied", "1", 1, createOp, func(t *testing.T, w []time.Duration) {
			if !slices.Equal(w, []time.Duration{time.Second}) {
				t.Errorf("waits %v", w)
			}
		}, false},
		{"bounded", "1", 10, listOp, func(t *testing.T, w []time.Duration) {
			if len(w) != maxRateLimitRetries {
				t.Errorf("%d waits, want %d", len(w), maxRateLimitRetries)
			}
		}, true},
		{"very long Retry-After returned to the caller", "3600", 1, listOp, func(t *testing.T, w []time.Duration) {
			if len(w) != 0 {
				t.Errorf("waited %v", w)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n < tt.times {
					ra := tt.retryAfter
					if ra == "date" {
						ra = time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
					}
					if ra != "" {
						w.Header().Set("Retry-After", ra)
					}
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.Header().Set("ac-revision", "7")
				if r.Method == http.MethodPost {
					fmt.Fprint(w, `[{"id":5,"name":"a"}]`)
					return
				}
				fmt.Fprint(w, `[]`)
			})
			c, rec := setup(t, f, nil)
			err := tt.method(t.Context(), c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			var apiErr *APIError
			if err != nil && (!errors.As(err, &apiErr) || apiErr.Status != 429) {
				t.Fatalf("error %v, want APIError 429", err)
			}
			if tt.retryAfter == "3600" && apiErr.RetryAfter != time.Hour {
				t.Errorf("RetryAfter %s, want 1h", apiErr.RetryAfter)
			}
			tt.check(t, rec.waits())
		})
	}
}

func TestServiceUnavailableRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n < 2 {
			w.Header().Set("Retry-After", []string{"30", "1"}[n])
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		statuses()(w, r, n)
	})
	c, rec := setup(t, f, nil)
	if err := listOp(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	// 30 s is longer than the first delay (5 s) and wins; 1 s is shorter
	// than the second (10 s), which stands.
	if got, want := rec.waits(), []time.Duration{30 * time.Second, 10 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
}

func TestReauthOn401(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		codes      []int
		op         func(context.Context, *Client) error
		wantTokens int
		wantAPI    int
		wantErr    bool
	}{
		{"401 renews the token and replays once", []int{401}, listOp, 2, 2, false},
		{"POST replayed after 401: it was refused, not applied", []int{401}, createOp, 2, 2, false},
		{"second 401 is final", []int{401, 401, 401}, listOp, 2, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n < len(tt.codes) {
					w.WriteHeader(tt.codes[n])
					return
				}
				w.Header().Set("ac-revision", "7")
				if r.Method == http.MethodPost {
					fmt.Fprint(w, `[{"id":5,"name":"a"}]`)
					return
				}
				fmt.Fprint(w, `[]`)
			})
			c, _ := setup(t, f, nil)
			err := tt.op(t.Context(), c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v", err)
			}
			api, tokens, _ := f.counts()
			if api != tt.wantAPI || tokens != tt.wantTokens {
				t.Fatalf("%d API calls and %d tokens, want %d and %d", api, tokens, tt.wantAPI, tt.wantTokens)
			}
			reqs := f.requests()
			if a, b := reqs[0].Header.Get("Authorization"), reqs[1].Header.Get("Authorization"); a == b {
				t.Fatalf("replay reused the refused token %q", a)
			}
		})
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestTokenRenewal(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now()}
	f := newFake(t, statuses())
	f.tokenTTL = time.Hour
	f.now = clock.Now
	c, _ := setup(t, f, func(_ *Config, o *Options) { o.Now = clock.Now })

	// Concurrent first calls share one token request.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := listOp(t.Context(), c); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, tokens, disc := f.counts(); tokens != 1 || disc != 1 {
		t.Fatalf("%d tokens and %d discoveries for concurrent first calls, want 1 and 1", tokens, disc)
	}
	clock.Add(50 * time.Minute)
	_ = listOp(t.Context(), c)
	if _, tokens, _ := f.counts(); tokens != 1 {
		t.Fatalf("token renewed %d times before its renewal time", tokens-1)
	}
	// Within five minutes of exp: renewed before use.
	clock.Add(6 * time.Minute)
	_ = listOp(t.Context(), c)
	if _, tokens, _ := f.counts(); tokens != 2 {
		t.Fatalf("%d tokens, want a renewal 4 minutes before exp", tokens)
	}
}

func TestConditionalGet(t *testing.T) {
	t.Parallel()
	rev := "10"
	var mu sync.Mutex
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		cur := rev
		mu.Unlock()
		w.Header().Set("ac-revision", cur)
		if r.Header.Get("If-Match") == cur {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintf(w, `[{"id":1,"name":"rev %s","pid":"x"}]`, cur)
	})
	c, _ := setup(t, f, nil)
	first, err := c.ListSkills(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	// The caller may modify what it got: the cache must not change.
	first[0].Extra["pid"][1] = 'Z'
	second, err := c.ListSkills(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if got := reqs[1].Header.Get("If-Match"); got != "10" {
		t.Fatalf("second list sent If-Match %q, want 10", got)
	}
	if len(second) != 1 || second[0].Name != "rev 10" || string(second[0].Extra["pid"]) != `"x"` {
		t.Fatalf("304 served %+v, want the cached list", second)
	}
	// Another list URL does not share the cache.
	if _, err := c.ListSkills(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if got := f.requests()[2].Header.Get("If-Match"); got != "" {
		t.Fatalf("include_deleted list sent If-Match %q from another URL's cache", got)
	}
	mu.Lock()
	rev = "11"
	mu.Unlock()
	third, thirdRev, err := c.ListSkillsAt(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if third[0].Name != "rev 11" || thirdRev != "11" {
		t.Fatalf("after a change got %q at revision %s", third[0].Name, thirdRev)
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		// ETag only, quoted: the revision falls back to it.
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, 40+n))
		switch r.Method {
		case http.MethodPost:
			fmt.Fprint(w, `[{"id":"900","name":"new"}]`)
		case http.MethodGet:
			fmt.Fprint(w, `[{"id":1,"name":"a"}]`)
		default:
			fmt.Fprint(w, ``)
		}
	})
	c, _ := setup(t, f, func(c *Config, _ *Options) { c.SkillsVersion = "4.1"; c.UsersVersion = "6.0" })
	ctx := t.Context()
	_, rev, err := c.ListSkillsAt(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	created, rev, err := c.CreateSkills(ctx, rev, []Skill{{Name: "new"}})
	if err != nil || created[0].ID != 900 {
		t.Fatalf("create: %v %+v", err, created)
	}
	updated, rev, err := c.UpdateSkills(ctx, rev, []Skill{{ID: 900, Name: "new2"}})
	if err != nil || updated[0].Name != "new2" {
		t.Fatalf("update: %v %+v", err, updated)
	}
	if rev, err = c.DeleteSkills(ctx, rev, []int64{900, 901}); err != nil {
		t.Fatal(err)
	}
	if rev, err = c.UpdateUsers(ctx, rev, []User{{ID: 5, LoginName: "ann", SkillIDs: []int64{900}}}); err != nil {
		t.Fatal(err)
	}
	if rev != "44" {
		t.Fatalf("revision %q, want 44 (the last ETag, unquoted)", rev)
	}
	reqs := f.requests()
	f.mu.Lock()
	bodies := slices.Clone(f.apiBodies)
	f.mu.Unlock()
	type want struct {
		method, path, query, ifMatch, override, body string
	}
	wants := []want{
		{"GET", "skills", "include_deleted=true&select=%24all&v=4.1", "", "", ""},
		{"POST", "skills", "v=4.1", "40", "", `[{"name":"new","description":"","skillTransferList":null}]`},
		{"PUT", "skills", "v=4.1", "41", "PUT", `[{"id":900,"name":"new2","description":"","deleted":false,"skillTransferList":null}]`},
		{"DELETE", "skills", "v=4.1", "42", "DELETE", `["900","901"]`},
		{"PUT", "users", "v=6.0", "43", "PUT", `[{"id":5,"loginName":"ann","passwordSh":null,"skillIds":[900]}]`},
	}
	if len(reqs) != len(wants) {
		t.Fatalf("%d requests, want %d", len(reqs), len(wants))
	}
	for i, w := range wants {
		r := reqs[i]
		got := want{r.Method, strings.TrimPrefix(r.URL.Path, "/api/account/123/configuration/le-users/"), r.URL.RawQuery,
			r.Header.Get("If-Match"), r.Header.Get("X-HTTP-Method-Override"), bodies[i]}
		if got != w {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, got, w)
		}
		if r.Header.Get("Accept") != "application/json" {
			t.Errorf("request %d: Accept %q", i, r.Header.Get("Accept"))
		}
		if w.body != "" && r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, r.Header.Get("Content-Type"))
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok") {
			t.Errorf("request %d: Authorization %q", i, r.Header.Get("Authorization"))
		}
	}
}

func TestWriteWithoutRevisionReadsFirst(t *testing.T) {
	t.Parallel()
	f := newFake(t, statuses())
	c, _ := setup(t, f, nil)
	if _, err := c.DeleteSkills(t.Context(), "", []int64{1}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Header.Get("If-Match") != "7" {
		t.Fatalf("requests %v; want a GET for the revision, then DELETE with If-Match 7", reqs)
	}
}

func TestTypedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		conflicts []int
		is        []error
		isNot     []error
	}{
		{"409 conflict", 409, `{"message":"revision"}`, nil, []error{ErrConflict}, []error{ErrNotFound, ErrSkillDependencies}},
		{"412 conflict", 412, ``, nil, []error{ErrConflict}, nil},
		{"412 not a conflict when not configured", 412, ``, []int{409}, nil, []error{ErrConflict}},
		{"404", 404, `{"message":"Data Not Found"}`, nil, []error{ErrNotFound}, []error{ErrConflict}},
		{"skill dependencies", 400, `{"type":"skill-dependencies","message":"skill 5 is used by users"}`, nil,
			[]error{ErrSkillDependencies}, []error{ErrConflict}},
		{"skill dependencies on 409 too", 409, `{"errorType":"SKILL-DEPENDENCIES"}`, []int{412},
			[]error{ErrSkillDependencies}, []error{ErrConflict}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("ac-revision", "3")
				if n == 0 {
					fmt.Fprint(w, `[]`)
					return
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			c, _ := setup(t, f, func(c *Config, _ *Options) { c.ConflictStatuses = tt.conflicts })
			err := deleteOp(t.Context(), c)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not an APIError", err)
			}
			if apiErr.Method != "DELETE" || apiErr.Path != "/api/account/123/configuration/le-users/skills" ||
				apiErr.Status != tt.status || apiErr.Body != tt.body {
				t.Errorf("APIError %+v", apiErr)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = true", err, target)
				}
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	t.Run("API error body", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(400)
			// A (hypothetical) server echoing the credentials and a long body.
			fmt.Fprintf(w, `{"message":"bad %s"}%s`, testSecret, strings.Repeat("x", 5000))
		})
		c, _ := setup(t, f, nil)
		err := listOp(t.Context(), c)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || strings.Contains(err.Error(), testSecret) || strings.Contains(apiErr.Body, testSecret) {
			t.Fatalf("secret leaked or not an APIError: %v", err)
		}
		if len(apiErr.Body) > maxErrorBody+32 {
			t.Fatalf("body not truncated: %d bytes", len(apiErr.Body))
		}
	})
	t.Run("token error", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, statuses())
		f.tokenStatus = 500
		c, rec := setup(t, f, func(c *Config, _ *Options) { c.RetryDelays = []time.Duration{time.Millisecond} })
		err := listOp(t.Context(), c)
		if err == nil || strings.Contains(err.Error(), testSecret) || !strings.Contains(err.Error(), "[redacted]") {
			t.Fatalf("error %v: want the echoed secret redacted", err)
		}
		// A 5xx from Sentinel is retried like any other, even though the
		// token request is a POST: the API call was never sent.
		if _, tokens, _ := f.counts(); tokens != 2 || len(rec.waits()) != 1 {
			t.Fatalf("%d token calls, waits %v", tokens, rec.waits())
		}
	})
	t.Run("bad credentials are final", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, statuses())
		c, _ := setup(t, f, func(c *Config, _ *Options) { c.Auth.ClientSecret = "wrong-secret-value" })
		err := listOp(t.Context(), c)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 401 || strings.Contains(err.Error(), "wrong-secret-value") {
			t.Fatalf("error %v", err)
		}
		if _, tokens, _ := f.counts(); tokens != 1 {
			t.Fatalf("%d token calls, want 1", tokens)
		}
	})
	t.Run("config printing", func(t *testing.T) {
		t.Parallel()
		a := AuthConfig{Method: "oauth2", ClientID: "id", ClientSecret: testSecret, Password: "hunter22"}
		for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a), fmt.Sprintf("%v", Config{Auth: a})} {
			if strings.Contains(s, testSecret) || strings.Contains(s, "hunter22") {
				t.Errorf("printed config leaks a secret: %s", s)
			}
		}
	})
}

func TestObserve(t *testing.T) {
	t.Parallel()
	f := newFake(t, statuses(503))
	c, rec := setup(t, f, nil)
	// The fake answers an empty list where one object is expected: the
	// error does not matter here, only what was observed.
	_, _ = c.GetSkill(t.Context(), 5)
	want := []string{"GET discovery 200", "POST token 200", "GET skills/{id} 503", "GET skills/{id} 200"}
	if got := rec.seen(); !slices.Equal(got, want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	if rec.notTimed != nil {
		t.Fatalf("observed without their duration: %v", rec.notTimed)
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	t.Run("cached, one call", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, statuses())
		c, _ := setup(t, f, nil)
		for range 3 {
			if err := listOp(t.Context(), c); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, disc := f.counts(); disc != 1 {
			t.Fatalf("%d discovery calls, want 1", disc)
		}
	})
	t.Run("TTL expiry refreshes; failure keeps the last map", func(t *testing.T) {
		t.Parallel()
		clock := &fakeClock{t: time.Now()}
		f := newFake(t, statuses())
		c, _ := setup(t, f, func(c *Config, o *Options) { o.Now = clock.Now; c.DiscoveryTTL = time.Minute })
		if err := listOp(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		clock.Add(2 * time.Minute)
		f.mu.Lock()
		f.discStatus = 500
		f.mu.Unlock()
		if err := listOp(t.Context(), c); err != nil {
			t.Fatalf("discovery outage broke a call that the last known hosts serve: %v", err)
		}
		if _, _, disc := f.counts(); disc != 2 {
			t.Fatalf("%d discovery calls, want 2", disc)
		}
	})
	t.Run("base_url skips discovery for account config", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, statuses())
		c, _ := setup(t, f, func(c *Config, _ *Options) {
			c.BaseURL = f.srv.URL
			c.DomainAPIURL = "https://127.0.0.1:1" // never called
			c.Auth = AuthConfig{Method: AuthOAuth1, AppKey: "k", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"}
		})
		if err := listOp(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if _, _, disc := f.counts(); disc != 0 {
			t.Fatalf("%d discovery calls with base_url", disc)
		}
		if h := f.requests()[0].Header.Get("Authorization"); !strings.HasPrefix(h, "OAuth ") {
			t.Fatalf("Authorization %q", h)
		}
	})
}

func TestHostRouting(t *testing.T) {
	t.Parallel()
	// accountConfigReadOnly points at a port nobody listens on: every call
	// goes to accountConfigReadWrite, GetSkill included (its answer
	// decides whether a skill is forgotten, recreated, or counted deleted:
	// a lagging replica must not).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("ac-revision", "7")
		switch {
		case r.Method == http.MethodPost:
			fmt.Fprint(w, `[{"id":5,"name":"a"}]`)
		case strings.HasSuffix(r.URL.Path, "/users/5"):
			fmt.Fprint(w, `{"id":5,"loginName":"u"}`)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/skills/5"):
			fmt.Fprint(w, `{"id":5,"name":"a"}`)
		default:
			fmt.Fprint(w, `[]`)
		}
	})
	f.roHost = dead
	c, _ := setup(t, f, func(c *Config, _ *Options) { c.RetryDelays = []time.Duration{} })
	ctx := t.Context()
	ops := map[string]func() error{
		"ListSkills":   func() error { return listOp(ctx, c) },
		"ListUsers":    func() error { _, err := c.ListUsers(ctx); return err },
		"GetSkill":     func() error { _, err := c.GetSkill(ctx, 5); return err },
		"GetUser":      func() error { _, err := c.GetUser(ctx, 5); return err },
		"CreateSkills": func() error { return createOp(ctx, c) },
		"UpdateSkills": func() error { _, _, err := c.UpdateSkills(ctx, "", []Skill{{ID: 5, Name: "a"}}); return err },
		"DeleteSkills": func() error { _, err := c.DeleteSkills(ctx, "", []int64{5}); return err },
		"UpdateUsers":  func() error { _, err := c.UpdateUsers(ctx, "", []User{{ID: 5}}); return err },
	}
	for name, op := range ops {
		// This fake's revision never moves, so a create's answer cannot
		// prove it followed the read: ErrStateChanged, yet created.
		if err := op(); err != nil && !errors.Is(err, ErrStateChanged) {
			t.Errorf("%s went to the read-only host: %v", name, err)
		}
	}
}

func TestDiscoveredScheme(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://api.liveperson.net": "https",
		"http://api.liveperson.net":  "https",
		"http://127.0.0.1:8089":      "http",
		"http://localhost:8089":      "http",
		"http://[::1]:8089":          "http",
		"http://10.0.0.1":            "https",
		"://bad":                     "https",
	} {
		if got := discoveredScheme(in); got != want {
			t.Errorf("discoveredScheme(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := Config{AccountID: "123", Auth: AuthConfig{Method: "oauth2", ClientID: "a", ClientSecret: "b"}}
	tests := []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"valid oauth2", func(*Config) {}, nil},
		{"missing account and auth", func(c *Config) { *c = Config{} },
			[]string{"liveperson.account_id: required", "liveperson.auth.method: required"}},
		{"oauth2 secret", func(c *Config) { c.Auth.ClientSecret = "" },
			[]string{"liveperson.auth.client_secret: required for method oauth2"}},
		{"oauth1 keys", func(c *Config) { c.Auth = AuthConfig{Method: "OAuth1", AppKey: "k"} },
			[]string{"liveperson.auth.access_token:", "liveperson.auth.access_token_secret:", "liveperson.auth.secret:"}},
		{"login user", func(c *Config) { c.Auth = AuthConfig{Method: "login", Username: "u"} },
			[]string{"liveperson.auth.password: required for method login"}},
		{"login app", func(c *Config) { c.Auth = AuthConfig{Method: "login", Username: "u", AppKey: "k", Secret: "s"} },
			[]string{"liveperson.auth.access_token:", "liveperson.auth.access_token_secret:"}},
		{"unknown method", func(c *Config) { c.Auth.Method = "basic" }, []string{`liveperson.auth.method: "basic"`}},
		{"bad values", func(c *Config) {
			c.BaseURL = "ftp://x"
			c.BatchSize = -1
			c.RetryDelays = []time.Duration{-time.Second}
			c.SkillsVersion = "latest"
			c.ConflictStatuses = []int{200}
			c.DomainAPIURL = "https://user:pw@api.liveperson.net"
		}, []string{"liveperson.domain_api_url: must not carry credentials", "liveperson.base_url:", "liveperson.batch_size:",
			"liveperson.retry_delays[0]:", "liveperson.skills_version:", "liveperson.conflict_statuses[0]:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.mod(&c)
			errs := c.WithDefaults().Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i], w)
				}
			}
		})
	}
	d := Config{}.WithDefaults()
	if d.DomainAPIURL != DefaultDomainAPIURL || d.BatchSize != 50 || d.Timeout != 30*time.Second ||
		!slices.Equal(d.RetryDelays, DefaultRetryDelays) || d.SkillsVersion != "4.0" || d.UsersVersion != "4.0" ||
		d.DiscoveryTTL != 10*time.Minute || !slices.Equal(d.ConflictStatuses, []int{409, 412}) {
		t.Fatalf("defaults %+v", d)
	}
	// An explicitly empty retry_delays list means "no retries".
	if got := (Config{RetryDelays: []time.Duration{}}).WithDefaults().RetryDelays; len(got) != 0 {
		t.Fatalf("empty retry_delays replaced by %v", got)
	}
}

// ctxKey marks a test context; ctxHandler records, for each log line, its
// message and the mark of the context it was logged with.
type ctxKey struct{}

type ctxHandler struct {
	mu    sync.Mutex
	lines []string
}

func (h *ctxHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *ctxHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *ctxHandler) WithGroup(string) slog.Handler            { return h }
func (h *ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, fmt.Sprintf("%s [%v]", r.Message, ctx.Value(ctxKey{})))
	return nil
}

// TestLogsCarryContext: every line the client logs, the token request's
// and the retries' included, is logged with the caller's context, so that
// a handler can add the caller's run id.
func TestLogsCarryContext(t *testing.T) {
	t.Parallel()
	h := &ctxHandler{}
	f := newFake(t, statuses(503, 429, 401))
	c, _ := setup(t, f, func(_ *Config, o *Options) { o.Logger = slog.New(h) })
	ctx := context.WithValue(t.Context(), ctxKey{}, "run 7")
	if _, err := c.ListSkills(ctx, false); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	for _, l := range h.lines {
		msg, mark, _ := strings.Cut(l, " [")
		seen[msg] = true
		if mark != "run 7]" {
			t.Errorf("logged without the caller's context: %s", l)
		}
	}
	for _, msg := range []string{"liveperson request", "liveperson: retrying", "liveperson: rate limited, waiting",
		"liveperson: 401, re-authenticating and replaying once"} {
		if !seen[msg] {
			t.Errorf("no %q line; logged %q", msg, h.lines)
		}
	}
	if n := strings.Count(strings.Join(h.lines, "\n"), "liveperson request"); n != 7 {
		t.Errorf("%d request lines, want 7 (discovery, 2 tokens, 4 attempts): %q", n, h.lines)
	}
}

// readBody reads bodies of known and unknown length whole, up to maxBody,
// and returns what it read with a read error.
func TestReadBody(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB: several chunks
	for _, tt := range []struct {
		name string
		body []byte
		n    int64
	}{
		{"empty, unknown length", nil, -1},
		{"empty, length 0", nil, 0},
		{"small, unknown length", []byte(`[{"id":1}]`), -1},
		{"big, unknown length", big, -1},
		{"big, known length", big, int64(len(big))},
		{"longer than announced", big, 100},
	} {
		got, err := readBody(bytes.NewReader(tt.body), tt.n)
		if err != nil || !bytes.Equal(got, tt.body) || got == nil {
			t.Errorf("%s: read %d bytes (nil %v), %v; want %d", tt.name, len(got), got == nil, err, len(tt.body))
		}
	}
	broken := io.MultiReader(bytes.NewReader(big), iotest.ErrReader(errors.New("reset")))
	if got, err := readBody(broken, -1); err == nil || len(got) != len(big) {
		t.Errorf("a broken body: %d bytes, %v", len(got), err)
	}
}

// The users list is cached without a copy (its users hand out copies of
// their fields): changing what a list returned leaves the cached list as
// it was, and a 304 serves it.
func TestConditionalGetUsersShared(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("ac-revision", "10")
		if r.Header.Get("If-Match") == "10" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, `[{"id":1,"loginName":"ann","fullName":"Ann","nickname":"a"}]`)
	})
	c, _ := setup(t, f, nil)
	first, _, err := c.ListUsersAt(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := first[0].Field("fullName")
	v[1] = 'Z'
	v, _ = first[0].Field("nickname")
	v[1] = 'Z'
	for _, v := range first[0].Fields() {
		v[0] = 'Z'
	}
	for _, u := range [][]User{first, nil} {
		if u == nil {
			if u, _, err = c.ListUsersAt(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := f.requests()[1].Header.Get("If-Match"); got != "10" {
				t.Fatalf("second list sent If-Match %q, want 10", got)
			}
		}
		full, _ := u[0].Field("fullName")
		nick, _ := u[0].Field("nickname")
		if string(full) != `"Ann"` || string(nick) != `"a"` || string(appendUser(nil, &u[0], false)) != `{"fullName":"Ann","id":1,"loginName":"ann","nickname":"a","skillIds":null}` {
			t.Fatalf("changing a field's value changed the user: %s %s %s", full, nick, appendUser(nil, &u[0], false))
		}
	}
}

// A users list sent chunked, longer than one read chunk, is decoded from
// its chunks, and a 304 serves the same users from the cached chunks.
func TestListUsersChunked(t *testing.T) {
	t.Parallel()
	data := fullUsers(300) // ~240 KB: four read chunks
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("ac-revision", "10")
		if r.Header.Get("If-Match") == "10" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		for b := data; len(b) > 0; b = b[min(len(b), 10000):] {
			_, _ = w.Write(b[:min(len(b), 10000)])
			w.(http.Flusher).Flush() // chunked, no Content-Length
		}
	})
	c, _ := setup(t, f, nil)
	want, err := decodeUsers(data, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		users, rev, err := c.ListUsersAt(t.Context())
		if err != nil || rev != "10" {
			t.Fatalf("list %d: %v, revision %q", i, err, rev)
		}
		if !bytes.Equal(encodeUsers(users, true), encodeUsers(want, true)) {
			t.Fatalf("list %d: %d users, not those sent", i, len(users))
		}
	}
	if reqs := f.requests(); len(reqs) != 2 || reqs[1].Header.Get("If-Match") != "10" {
		t.Fatalf("requests: %d, second If-Match %q", len(reqs), reqs[len(reqs)-1].Header.Get("If-Match"))
	}
}
