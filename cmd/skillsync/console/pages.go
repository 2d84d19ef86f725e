package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.FileServerFS(sub)
}

// pageData is what every template gets.
type pageData struct {
	Title    string
	Nav      string // the active menu entry
	CSRF     string
	SignedIn bool
	Error    string
	Notice   string
	Data     any
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if t == nil || t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return "—"
	},
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"value": valueText,
	"join":  strings.Join,
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"status": func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	},
}

var pages = func() map[string]*template.Template {
	names := []string{"login", "error", "overview", "runs", "run", "pending", "skills"}
	m := make(map[string]*template.Template, len(names))
	for _, n := range names {
		m[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	return m
}()

// render writes page name; it buffers, so that a template error is a 500
// rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	if sess, ok := c.current(r); ok {
		d.SignedIn, d.CSRF = true, c.sessions.csrf(sess)
	}
	var buf bytes.Buffer
	if err := pages[name].Execute(&buf, d); err != nil {
		c.log.Error("console: render page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered (the log says why)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "error", pageData{Title: http.StatusText(status), Error: msg})
}

// sourceError answers a failed read. Its text may name the database: it
// goes to the log only.
func (c *Console) sourceError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, ErrNotFound) {
		c.renderError(w, r, http.StatusNotFound, what+": not found.")
		return
	}
	c.log.Error("console: "+what, "err", err)
	c.renderError(w, r, http.StatusInternalServerError, what+": the database did not answer (the log says why).")
}

// readTimeout bounds the reads of one page.
const readTimeout = 10 * time.Second

func (c *Console) overview(w http.ResponseWriter, r *http.Request, _ session) {
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	accounts, err := c.opts.Source.Accounts(ctx)
	if err != nil {
		c.sourceError(w, r, "read the accounts", err)
		return
	}
	c.render(w, r, http.StatusOK, "overview", pageData{Title: "Overview", Nav: "overview", Data: accounts})
}

// runsView is the run history page.
type runsView struct {
	Query    RunQuery
	Page     RunPage
	Accounts []string
	Outcomes []string
	Prev     string // links, "" when there is no such page
	Next     string
}

func (c *Console) runs(w http.ResponseWriter, r *http.Request, _ session) {
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	q := RunQuery{Account: r.FormValue("account"), Outcome: r.FormValue("outcome"), Size: c.opts.PageSize}
	q.Page, _ = strconv.Atoi(r.FormValue("page"))
	q.Page = max(q.Page, 0)
	outcomes := c.opts.Outcomes
	if q.Outcome != "" && !slices.Contains(outcomes, q.Outcome) {
		c.renderError(w, r, http.StatusBadRequest, fmt.Sprintf("Unknown outcome %q.", q.Outcome))
		return
	}
	accounts, err := c.opts.Source.Accounts(ctx)
	if err != nil {
		c.sourceError(w, r, "read the accounts", err)
		return
	}
	v := runsView{Query: q, Outcomes: outcomes}
	for _, a := range accounts {
		v.Accounts = append(v.Accounts, a.Name)
	}
	if v.Page, err = c.opts.Source.Runs(ctx, q); err != nil {
		c.sourceError(w, r, "read the run history", err)
		return
	}
	link := func(page int) string {
		u := url.Values{}
		if q.Account != "" {
			u.Set("account", q.Account)
		}
		if q.Outcome != "" {
			u.Set("outcome", q.Outcome)
		}
		if page > 0 {
			u.Set("page", strconv.Itoa(page))
		}
		if len(u) == 0 {
			return "/runs"
		}
		return "/runs?" + u.Encode()
	}
	if q.Page > 0 {
		v.Prev = link(q.Page - 1)
	}
	if v.Page.More {
		v.Next = link(q.Page + 1)
	}
	c.render(w, r, http.StatusOK, "runs", pageData{Title: "Runs", Nav: "runs", Data: v})
}

// runView is a run's page.
type runView struct {
	RunDetail
	Plan      *planView
	PlanError string
	CanApply  bool
}

func (c *Console) run(w http.ResponseWriter, r *http.Request, _ session) {
	notice := ""
	if a, err := strconv.ParseInt(r.FormValue("approved"), 10, 64); err == nil && a > 0 {
		notice = fmt.Sprintf("Approved: this run applied the plan of run %d.", a)
	}
	c.showRun(w, r, http.StatusOK, "", notice)
}

func (c *Console) showRun(w http.ResponseWriter, r *http.Request, status int, errMsg, notice string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.renderError(w, r, http.StatusNotFound, "No such run.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	d, err := c.opts.Source.Run(ctx, id)
	if err != nil {
		c.sourceError(w, r, fmt.Sprintf("run %d", id), err)
		return
	}
	v := runView{RunDetail: d, CanApply: c.opts.Apply != nil && d.Applicable && d.Plan != nil}
	if d.Plan != nil {
		if v.Plan, err = decodePlan(d.Plan); err != nil {
			v.PlanError = err.Error()
		}
	}
	c.render(w, r, status, "run", pageData{Title: fmt.Sprintf("Run %d", id), Nav: "runs", Error: errMsg, Notice: notice, Data: v})
}

// applyTimeout bounds an approval: an apply run of a large plan takes
// minutes.
const applyTimeout = 30 * time.Minute

func (c *Console) apply(w http.ResponseWriter, r *http.Request, _ session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.renderError(w, r, http.StatusNotFound, "No such run.")
		return
	}
	if c.opts.Apply == nil {
		c.renderError(w, r, http.StatusNotFound, "This skillsync cannot apply stored plans.")
		return
	}
	// The run may outlast the server's read and write deadlines.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), applyTimeout)
	defer cancel()
	user := c.user(r)
	c.log.Info("console: apply a stored plan", "approved_run", id, "approved_by", user)
	res, err := c.opts.Apply(ctx, id, user)
	if err != nil {
		status := http.StatusConflict
		if errors.Is(err, ErrNotFound) {
			status = http.StatusNotFound
		}
		c.showRun(w, r, status, fmt.Sprintf("Nothing was applied: %v", err), "")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/runs/%d?approved=%d", res.ID, id), http.StatusSeeOther)
}

func (c *Console) pending(w http.ResponseWriter, r *http.Request, _ session) {
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	p, err := c.opts.Source.PendingDeletes(ctx)
	if err != nil {
		c.sourceError(w, r, "read the pending deletes", err)
		return
	}
	c.render(w, r, http.StatusOK, "pending", pageData{Title: "Pending deletes", Nav: "pending", Data: p})
}

func (c *Console) skills(w http.ResponseWriter, r *http.Request, _ session) {
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	s, err := c.opts.Source.OwnedSkills(ctx)
	if err != nil {
		c.sourceError(w, r, "read the owned skills", err)
		return
	}
	c.render(w, r, http.StatusOK, "skills", pageData{Title: "Owned skills", Nav: "skills", Data: s})
}
