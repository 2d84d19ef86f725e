// Package console is skillsync's web console: server-rendered pages that
// show every account's state, the run history, a run's plan, journal and
// notifications, pending deletes and owned skills, and that let a signed-in
// operator apply a stored plan.
//
// The console reads through Source, a small interface that cmd implements
// over the store, so that the pages do not know how many accounts there are
// or how they are stored. It writes only through Options.Apply.
//
// Security: the console is off (404) without a token; a page needs a
// session cookie obtained by signing in with the token; every POST carries
// a CSRF token; every answer carries a strict Content-Security-Policy (no
// script at all, styles only from this host); past a few wrong tokens from
// one address, its sign-ins wait (internal/authlimit).
//
// In the house (README, Layout; e2e/layout_test.go), it imports nothing of
// ours but internal/secret and internal/authlimit (the wait after wrong
// tokens): cmd/skillsync feeds it.
package console

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/skillsync/skillsync/internal/authlimit"
)

// ErrNotFound is returned by a Source for a run that does not exist.
var ErrNotFound = errors.New("not found")

// Source is what the console reads. Every string it returns is shown as
// is: the implementation hides secrets (cmd's redactor) before returning.
type Source interface {
	// Accounts returns the status of every account, in display order.
	Accounts(ctx context.Context) ([]Account, error)
	// Runs returns one page of the run history, newest first.
	Runs(ctx context.Context, q RunQuery) (RunPage, error)
	// Run returns one run with its stored plan, journal and
	// notifications, or ErrNotFound.
	Run(ctx context.Context, id int64) (RunDetail, error)
	// PendingDeletes returns the skills waiting out the delete grace, of
	// every account.
	PendingDeletes(ctx context.Context) ([]PendingDelete, error)
	// OwnedSkills returns the skills skillsync manages, of every account.
	OwnedSkills(ctx context.Context) ([]OwnedSkill, error)
}

// ApplyFunc applies the stored plan of run runID exactly as `skillsync
// apply RUN_ID --yes` does, on behalf of user, and returns the approval
// run. A stale plan is an error whose text says why.
type ApplyFunc func(ctx context.Context, runID int64, user string) (Run, error)

// Account is the status of one LivePerson account.
type Account struct {
	Name      string // "default" without an accounts: list
	AccountID string // the LivePerson account id
	Schedule  string
	// RunInProgress: a run of this account is under way.
	RunInProgress bool
	NextRun       *time.Time
	LastRun       *Run
	LastSuccess   *Run
	// Refused is set when the last run was refused by a guard: Guard
	// says why.
	Refused        bool
	Guard          string
	PendingDeletes int
}

// Run is one row of the run history.
type Run struct {
	ID         int64
	Account    string
	Trigger    string
	Mode       string
	Outcome    string
	StartedAt  time.Time
	FinishedAt *time.Time
	Counts     Counts
	Error      string
	// ApprovedRun and ApprovedBy are set on an approval run: the run
	// whose plan it applied, and who approved it.
	ApprovedRun int64
	ApprovedBy  string
}

// Counts are a run's per-action counts (planned in a dry run, done in an
// apply run).
type Counts struct {
	Create, Update, Delete, PendingDelete, Unchanged, UnmanagedConflict int
	Assign, Unassign, Failed                                            int
}

// Duration is how long the run took, 0 while it runs.
func (r Run) Duration() time.Duration {
	if r.FinishedAt == nil {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond)
}

// RunQuery selects a page of the run history.
type RunQuery struct {
	Account string // "" for every account
	Outcome string // "" for every outcome
	Page    int    // from 0
	Size    int
}

// RunPage is one page of runs; More says whether an older page exists.
type RunPage struct {
	Runs []Run
	More bool
}

// RunDetail is a run with everything recorded about it.
type RunDetail struct {
	Run
	// Plan is the plan as stored (the JSON plan, format_version 1), nil
	// when the run stored none.
	Plan json.RawMessage
	// Applicable: the stored plan can be applied (not stale, not applied
	// yet, as far as the store knows: Apply checks LivePerson and HR
	// again). NotApplicable says why not, when there is a plan.
	Applicable    bool
	NotApplicable string
	Journal       []Operation
	// Notifications are the messages sent about the run; NoNotifications
	// explains an empty list that is not "none were sent" (this build
	// does not record them).
	Notifications   []Notification
	NoNotifications string
}

// Operation is one journal row.
type Operation struct {
	Seq        int
	Action     string
	Skill      string
	SkillID    *int64
	Request    string
	State      string
	HTTPStatus *int
	Error      string
	UpdatedAt  time.Time
}

// Notification is one message about a run, to one sink.
type Notification struct {
	Sink     string
	Event    string
	Status   string
	Attempts int
	Error    string
	At       time.Time
}

// PendingDelete is an owned skill absent from the desired state.
type PendingDelete struct {
	Account         string
	Skill           string
	SkillID         int64
	MissingRuns     int
	FirstMissingRun int64
	Since           time.Time
	// Reason says why the skill is pending and when it goes.
	Reason string
}

// OwnedSkill is a row of the ownership registry.
type OwnedSkill struct {
	Account      string
	Name         string
	SkillID      int64
	Rule         string
	Key          string
	Adopted      bool
	CreatedByRun *int64
	CreatedAt    time.Time
}

// Options configure the console.
type Options struct {
	Source Source
	// Apply applies a stored plan; nil hides the "Apply this plan"
	// button and refuses the action.
	Apply ApplyFunc
	// Token is server.trigger_token: the secret one signs in with. Empty
	// turns the console off (every page answers 404).
	Token string
	// UserHeader, when set, names the request header holding the user an
	// authenticating proxy signed in (server.user_header); the approval
	// is recorded on their name, else on "token".
	UserHeader string
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL time.Duration
	// PageSize is the number of runs per history page (default 25).
	PageSize int
	// Outcomes are the run outcomes the history can be filtered by.
	Outcomes []string
	// Guesses counts wrong tokens per client and makes a client that
	// sends too many wait (the daemon shares one with its API); nil gives
	// the console its own.
	Guesses *authlimit.Limiter
	Logger  *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Defaults.
const (
	DefaultSessionTTL = 12 * time.Hour
	DefaultPageSize   = 25
)

// Console serves the pages. It is an http.Handler, mounted on the daemon's
// mux at its Paths.
type Console struct {
	opts     Options
	sessions *sessions
	mux      *http.ServeMux
	log      *slog.Logger
}

// New returns the console. With no token it answers 404 to everything.
func New(o Options) *Console {
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Guesses == nil {
		o.Guesses = authlimit.New(authlimit.WithClock(o.Now))
	}
	c := &Console{opts: o, log: o.Logger}
	if o.Token == "" {
		return c
	}
	c.sessions = newSessions(o.Token, o.SessionTTL, o.Now)
	c.routes()
	return c
}

// Paths are the mux patterns of the console's pages: a server that has
// other endpoints mounts the console on these (Mount), so that its own
// paths keep their answers (a GET of a POST-only endpoint stays 405).
var Paths = []string{"/{$}", "/login", "/logout", "/runs", "/runs/", "/pending", "/skills", "/static/"}

// Mount registers the console on mux at Paths.
func (c *Console) Mount(mux *http.ServeMux) {
	for _, p := range Paths {
		mux.Handle(p, c)
	}
}

// Enabled says whether the console serves pages (a token is configured).
func (c *Console) Enabled() bool { return c.sessions != nil }

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", c.page(c.overview))
	m.HandleFunc("GET /runs", c.page(c.runs))
	m.HandleFunc("GET /runs/{id}", c.page(c.run))
	m.HandleFunc("POST /runs/{id}/apply", c.action(c.apply))
	m.HandleFunc("GET /pending", c.page(c.pending))
	m.HandleFunc("GET /skills", c.page(c.skills))
	m.HandleFunc("GET /login", c.loginForm)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("POST /logout", c.action(c.logout))
	m.Handle("GET /static/", http.StripPrefix("/static/", staticHandler()))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusNotFound, "No such page.")
	})
	c.mux = m
}

// ServeHTTP serves the console, with its security headers on every answer.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.sessions == nil {
		// Off: indistinguishable from a path that does not exist, as
		// POST /v1/runs without a token.
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer a browser sends
	// "Origin: null" with a form, and sameOrigin would refuse it.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if secure(r) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.mux.ServeHTTP(w, r)
}

// ContentSecurityPolicy is sent with every answer: no script at all, no
// object, no frame, styles and images from this host only, forms posting
// to this host only.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secure says whether the client reached us over HTTPS: directly, or
// through a TLS-terminating proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}
