package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/skillsync/skillsync/internal/authlimit"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

func (c *cli) applyCommand() *cobra.Command {
	var format string
	var yes bool
	cmd := &cobra.Command{
		Use:   "apply RUN_ID",
		Short: "Apply the stored plan of a dry run or a refused run, exactly and once",
		Long: `Apply exactly the plan that run RUN_ID stored, once: this is how a person
approves a plan reviewed with 'skillsync plan' (or 'skillsync runs show RUN_ID'),
and how a run refused by a guard goes ahead. Approving a refused run overrides
the guard that refused it, for this one apply: the source-health guard (its HR
snapshot becomes the headcount baseline of later runs) or the assignments
removal cap (the removals it held are made). The delete budget and grace are
those of the stored plan: what the person saw.

Before the first write, skillsync reads LivePerson and the HR feed again. The
plan is stale, nothing is written and the exit status is 4 ("plan N is stale:
<reason>; run skillsync plan again") when:
  - LivePerson's account revision moved since the plan was made,
  - the HR records differ (their SHA-256 fingerprint; the order of records
    and columns does not count),
  - the plan is older than sync.plan_max_age (default 24h),
  - it was applied already (only one apply of a plan ever succeeds, even from
    two replicas at once), or
  - the plan made now from the same records and revision differs from the
    stored one (the ownership registry, pending deletes or the configuration
    changed).
Should LivePerson change while the plan is written, the rest is not planned
again: the run stops, ends partial (exit 1) and says to plan again.

On a terminal without --yes, the plan is shown and applied only after the
answer "yes". Elsewhere (CI, scripts) --yes is required: without it the exit
status is 1 and nothing is done. The run is recorded with trigger approval,
the run it applied (approved_run) and who approved it (approved_by: the
operating-system user).

With several accounts (accounts:), the run's own account is used; --account
NAME names it explicitly.

Exit status: 0 applied (or nothing to do), 1 error, cancelled, or partly
applied, 3 refused by a guard that the plan's approval does not cover,
4 the plan is stale.`,
		Example: `  skillsync plan                          # prints "run 41 planned", review it
  skillsync apply 41                      # shows plan 41, asks, applies it
  skillsync apply 41 --yes --format json  # in a pipeline, after a review`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := formatFlagMarkdown(format); err != nil {
				return err
			}
			id, err := parseRunID(args[0], "as printed by 'skillsync plan' or listed by 'skillsync runs'")
			if err != nil {
				return err
			}
			return c.apply(cmd.Context(), cmd.OutOrStdout(), id, format, yes)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, json or markdown")
	cmd.Flags().BoolVar(&yes, "yes", false, "apply without asking (required when standard input is not a terminal)")
	cmd.Flags().StringVar(&c.account, "account", "", "the account (accounts[].name) the run belongs to; without it, the run's own account")
	return cmd
}

// accountOfRun is the account whose state run id is read from: the one
// named, else the only one, else the run's own (a run id names one run
// whatever its account).
func (c *Config) accountOfRun(ctx context.Context, st *store.Store, name string, id int64) (Account, error) {
	if name != "" || len(c.AccountList()) == 1 {
		return c.oneAccount(name)
	}
	owner, err := st.RunAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Account{}, fmt.Errorf("run %d does not exist: 'skillsync runs --account NAME' lists the recent ones", id)
	}
	if err != nil {
		return Account{}, err
	}
	for _, a := range c.AccountList() {
		if a.ID() == owner {
			return a, nil
		}
	}
	return Account{}, fmt.Errorf("run %d belongs to LivePerson account %q, which this configuration does not have", id, owner)
}

// apply is the apply command: confirm, then apply the stored plan of run id.
func (c *cli) apply(ctx context.Context, stdout io.Writer, id int64, format string, yes bool) error {
	cfg, log, err := c.load()
	if err != nil {
		return err
	}
	root, err := openStore(ctx, cfg.Database.URL, store.Options{Logger: log, NameKey: sync.NameKey})
	if err != nil {
		return err
	}
	defer root.Close()
	if err := claimLegacy(ctx, root, cfg, "", log); err != nil {
		return err
	}
	acct, err := cfg.accountOfRun(ctx, root, c.account, id)
	if err != nil {
		return err
	}
	a, err := newAppWith(ctx, cfg, log, appOptions{env: c.env, store: root, account: &acct, sharedStore: true})
	if err != nil {
		return err
	}
	defer a.close()
	if !yes {
		if err := c.confirm(ctx, stdout, a.store, id); err != nil {
			return err
		}
	}
	res, runErr := a.approve(ctx, id, osUser(c.env.lookupEnv))
	exitErr := approvalError(res, runErr)
	switch format {
	case "json":
		if err := writeResultJSON(stdout, res, exitErr, c.redact, acct.Name, false); err != nil {
			return fmt.Errorf("print result: %w", err)
		}
	default:
		if res != nil && res.Plan != nil {
			if err := writePlan(stdout, res, format, colorOn(stdout, c.env.lookupEnv)); err != nil {
				return fmt.Errorf("print plan: %w", err)
			}
		}
	}
	return exitErr
}

// confirm shows the stored plan of run id and asks for "yes"; without a
// terminal it refuses, naming --yes.
func (c *cli) confirm(ctx context.Context, stdout io.Writer, st *store.Store, id int64) error {
	if !c.env.terminal && !stdinTerminal(c.env.stdin) {
		return fmt.Errorf("standard input is not a terminal, so nobody can confirm: add --yes to apply plan %d "+
			"(review it first: skillsync runs show %d)", id, id)
	}
	sp, err := st.GetPlan(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("run %d has no stored plan to apply (only dry runs and refused runs store one): run skillsync plan", id)
	}
	if err != nil {
		return err
	}
	if sp.AppliedByRun != nil {
		// Nobody need be asked about a plan that cannot be applied.
		return &exitCodeError{code: exitStale, err: &sync.StaleError{RunID: id, Reason: fmt.Sprintf("it was applied already, by run %d", *sp.AppliedByRun)}}
	}
	p, err := sync.ParsePlan(sp.Plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Plan of run %d, made %s", id, sp.CreatedAt.UTC().Format(time.RFC3339))
	if sp.Refusal != "" {
		fmt.Fprintf(stdout, ", refused by a guard: %s\nApproving it overrides that guard for this apply.", c.redact(sp.Refusal))
	}
	fmt.Fprint(stdout, "\n\n")
	if err := p.RenderText(stdout, colorOn(stdout, c.env.lookupEnv)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nApply plan %d to LivePerson? Only 'yes' will be accepted: ", id)
	answer, err := bufio.NewReader(c.env.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the answer: %w", err)
	}
	if strings.TrimSpace(answer) != "yes" {
		return fmt.Errorf("apply cancelled: plan %d was not applied", id)
	}
	return nil
}

// stdinTerminal says whether r is a terminal someone can answer on.
func stdinTerminal(r io.Reader) bool {
	f, ok := r.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// osUser is who approves from the command line: the operating-system user.
func osUser(lookupEnv func(string) (string, bool)) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "LOGNAME", "USERNAME"} {
		if v, ok := lookupEnv(k); ok && v != "" {
			return v
		}
	}
	return "unknown"
}

// approve applies the stored plan of run id through the runner (its slot,
// lock and recording), as the HTTP endpoint and the CLI do.
func (a *app) approve(ctx context.Context, id int64, by string) (*sync.Result, error) {
	c, ok := a.runner.TryClaim()
	if !ok {
		return nil, sync.ErrRunInProgress
	}
	res, err := c.Approve(ctx, id, by)
	if errors.Is(err, sync.ErrRunInProgress) {
		a.refreshFromStore(ctx)
	}
	if a.afterRun != nil {
		a.afterRun(res, err)
	}
	return res, err
}

// approvalError is the exit status of apply: outcomeError's, 4 for a stale
// plan, and an approval run's own words when it stopped partway.
func approvalError(res *sync.Result, err error) error {
	var stale *sync.StaleError
	if errors.As(err, &stale) {
		return &exitCodeError{code: exitStale, err: err}
	}
	if errors.Is(err, sync.ErrNoPlan) {
		return err
	}
	if res != nil && res.Run.Outcome == store.OutcomePartial {
		return fmt.Errorf("run %d partial: %s", res.Run.ID, res.Run.Error)
	}
	return outcomeError(res, err, false)
}

// formatFlagMarkdown validates --format of the commands that also print
// Markdown (plan, sync, apply, runs show).
func formatFlagMarkdown(v string) error {
	if v != "text" && v != "json" && v != "markdown" {
		return fmt.Errorf("--format %q: want text, json or markdown", v)
	}
	return nil
}

// writeMarkdown prints a run and its plan as GitHub-flavoured Markdown,
// for a pull-request comment or a chat message.
func writeMarkdown(w io.Writer, res *sync.Result) error {
	r := res.Run
	what := "Plan"
	if r.Mode == store.ModeApply {
		what = "Run"
	}
	fmt.Fprintf(w, "## skillsync: %s %d (%s, %s)\n\n", what, r.ID, r.Mode, r.Outcome)
	if r.ApprovedRun != nil {
		fmt.Fprintf(w, "Applies the plan of run %d, approved by %s.\n\n", *r.ApprovedRun, mdText(r.ApprovedBy))
	}
	switch {
	case r.Outcome == store.OutcomeRefused && r.ApprovedRun == nil:
		fmt.Fprintf(w, "> **Refused by a guard:** %s\n>\n> Below is the plan it would have applied. Once reviewed, `skillsync apply %d` applies it (overriding the guard once).\n\n",
			mdText(cmp.Or(res.Refusal, r.Error)), r.ID)
	case r.Outcome == store.OutcomeRefused:
		fmt.Fprintf(w, "> **Refused by a guard:** %s\n\n", mdText(cmp.Or(res.Refusal, r.Error)))
	case r.Error != "":
		fmt.Fprintf(w, "> %s\n\n", mdText(r.Error))
	}
	if r.Mode == store.ModePlan && r.Outcome == store.OutcomePlanned {
		fmt.Fprintf(w, "Once reviewed, `skillsync apply %d` applies exactly this plan.\n\n", r.ID)
	}
	if r.Mode == store.ModeApply {
		fmt.Fprintf(w, "%s\n\n", runSummary(r))
	}
	return res.Plan.RenderMarkdown(w)
}

// mdText escapes a text for Markdown (as the plan's renderer does).
func mdText(s string) string { return sync.EscapeMarkdown(s) }

// refusalHeader is printed above the plan of a refused run (text).
func refusalHeader(w io.Writer, res *sync.Result) error {
	how := fmt.Sprintf(" (once reviewed, 'skillsync apply %d' applies it, overriding the guard once)", res.Run.ID)
	if res.Run.ApprovedRun != nil {
		how = "" // an approval run stores no plan to approve
	}
	_, err := fmt.Fprintf(w, "Refused by a guard: %s\n\nThe plan it would have applied%s:\n\n", cmp.Or(res.Refusal, res.Run.Error), how)
	return err
}

// applyPlan is POST /v1/runs/{id}/apply: the approval of run id's stored
// plan, as `skillsync apply ID --yes`. 200 with the run; 409 when the plan
// is stale (with the reason) or a run is in progress; 404 when the run is
// unknown or stored no plan. approved_by is the value of the header named
// by server.user_header (an authenticating proxy's), else "token".
func (d *daemon) applyPlan(w http.ResponseWriter, r *http.Request) {
	if !d.authorized(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		respond(w, http.StatusNotFound, triggerView{Status: "not_found", Error: "no run " + strconv.Quote(r.PathValue("id"))})
		return
	}
	a, status, problem := d.appOfRun(r.Context(), id, r.URL.Query().Get("account"))
	if a == nil {
		respond(w, status, triggerView{Status: map[int]string{http.StatusBadRequest: "bad_request", http.StatusNotFound: "not_found"}[status], Error: problem})
		return
	}
	by := "token"
	if h := d.app.cfg.Server.UserHeader; h != "" {
		if v := strings.TrimSpace(r.Header.Get(h)); v != "" {
			by = v
		}
	}
	select {
	case <-d.shutdown:
		respond(w, http.StatusServiceUnavailable, triggerView{Status: "shutting_down", Error: "the daemon is shutting down"})
		return
	default:
	}
	rc := http.NewResponseController(w)
	if err := errors.Join(rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{})); err != nil {
		d.log.Warn("POST /v1/runs/{id}/apply: could not lift the server's deadlines; a long run may cut the answer", "err", err)
	}
	res, err := a.approve(d.runCtx, id, by)
	var stale *sync.StaleError
	switch {
	case errors.As(err, &stale):
		respond(w, http.StatusConflict, triggerView{Status: "stale", Error: a.redact(err.Error())})
	case errors.Is(err, sync.ErrNoPlan):
		respond(w, http.StatusNotFound, triggerView{Status: "not_found", Error: a.redact(err.Error())})
	case errors.Is(err, sync.ErrRunInProgress):
		respond(w, http.StatusConflict, triggerView{Status: "run_in_progress", Error: err.Error()})
	case err != nil && res == nil:
		respond(w, http.StatusInternalServerError, triggerView{Status: "error", Error: a.redact(err.Error())})
	default:
		v := newRunView(res.Run)
		v.Error = a.redact(v.Error)
		respond(w, http.StatusOK, triggerView{Status: "finished", Run: &v})
	}
}

// appOfRun is the app of the account run id belongs to, or of the account
// named (?account=NAME); nil with the HTTP status and what is wrong.
func (d *daemon) appOfRun(ctx context.Context, id int64, name string) (*app, int, string) {
	if name != "" || len(d.apps) == 1 {
		a, problem := d.appNamed(name)
		if a == nil {
			return nil, http.StatusBadRequest, problem
		}
		return a, 0, ""
	}
	owner, err := d.app.store.RunAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, http.StatusNotFound, fmt.Sprintf("run %d does not exist", id)
	}
	if err != nil {
		d.log.Error("POST /v1/runs/{id}/apply: read the run's account", "err", err)
		return nil, http.StatusInternalServerError, "the database did not answer (the log says why)"
	}
	for _, a := range d.apps {
		if a.acct.ID() == owner {
			return a, 0, ""
		}
	}
	return nil, http.StatusNotFound, fmt.Sprintf("run %d belongs to an account this daemon does not serve", id)
}

// authorized checks the bearer token of the trigger endpoints, answering
// for them when it fails: 404 when no token is configured (the endpoints
// are off), 401 for a wrong or missing token.
func (d *daemon) authorized(w http.ResponseWriter, r *http.Request) bool {
	token := d.app.cfg.Server.TriggerToken
	if token == "" {
		// Disabled: indistinguishable from an endpoint that does not exist.
		http.NotFound(w, r)
		return false
	}
	if wait := d.guesses.Wait(r); wait > 0 {
		w.Header().Set("Retry-After", authlimit.RetryAfter(wait))
		respond(w, http.StatusTooManyRequests, triggerView{Status: "too_many_attempts", Error: tooManyAttempts(wait)})
		return false
	}
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(given), []byte(token)) != 1 {
		d.failedCredentials(r)
		w.Header().Set("WWW-Authenticate", `Bearer realm="skillsync"`)
		respond(w, http.StatusUnauthorized, triggerView{Status: "unauthorized", Error: "send Authorization: Bearer <server.trigger_token>"})
		return false
	}
	d.guesses.Succeeded(r)
	return true
}

// failedCredentials counts a wrong token or signature against the client
// of r, and logs when the client must start waiting.
func (d *daemon) failedCredentials(r *http.Request) {
	if wait := d.guesses.Failed(r); wait > 0 {
		d.log.Warn("wrong credentials again: the client must wait before its next attempt",
			"client", authlimit.ClientOf(r), "path", r.URL.Path, "wait", wait)
	}
}

// tooManyAttempts is the error of a client that must wait.
func tooManyAttempts(wait time.Duration) string {
	return "too many wrong credentials from this address: try again in " + authlimit.RetryAfter(wait) + " s"
}

// headerName says whether h is a valid HTTP header name (an RFC 9110
// token).
func headerName(h string) bool {
	if h == "" {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// storedPlanView is the JSON of what a stored plan was made from (runs
// show).
type storedPlanView struct {
	MadeAt         time.Time  `json:"made_at"`
	SkillsRevision string     `json:"skills_revision,omitempty"`
	UsersRevision  string     `json:"users_revision,omitempty"`
	HRFingerprint  string     `json:"hr_fingerprint"`
	Refused        string     `json:"refused,omitempty"`
	AppliedByRun   *int64     `json:"applied_by_run,omitempty"`
	AppliedAt      *time.Time `json:"applied_at,omitempty"`
}

func newStoredPlanView(sp *store.StoredPlan) *storedPlanView {
	if sp == nil {
		return nil
	}
	return &storedPlanView{MadeAt: sp.CreatedAt, SkillsRevision: sp.SkillsRevision, UsersRevision: sp.UsersRevision,
		HRFingerprint: sp.HRFingerprint, Refused: sp.Refusal, AppliedByRun: sp.AppliedByRun, AppliedAt: sp.AppliedAt}
}

// storedPlanOf is what run id's plan was made from, nil when it stored
// none (apply runs, runs that failed).
func storedPlanOf(ctx context.Context, st *store.Store, id int64) (*store.StoredPlan, error) {
	sp, err := st.GetPlan(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &sp, nil
}

// writeApproval adds the approval lines of runs show: who approved an
// approval run, and what a stored plan was made from and whether it was
// applied.
func writeApproval(w io.Writer, r store.Run, sp *store.StoredPlan) {
	if r.ApprovedRun != nil {
		fmt.Fprintf(w, "approval\tapplies the plan of run %d, approved by %s\n", *r.ApprovedRun, r.ApprovedBy)
	}
	if sp == nil {
		return
	}
	from := "HR SHA-256 " + sp.HRFingerprint
	if sp.SkillsRevision != "" {
		from = "LivePerson revision " + sp.SkillsRevision + ", " + from
	}
	fmt.Fprintf(w, "stored plan\tmade %s from %s\n", sp.CreatedAt.UTC().Format(time.RFC3339), from)
	if sp.AppliedByRun != nil {
		fmt.Fprintf(w, "\tapplied by run %d\n", *sp.AppliedByRun)
	} else {
		fmt.Fprintf(w, "\tnot applied: 'skillsync apply %d' applies it, unless it is stale\n", r.ID)
	}
}

// writeStoredPlan prints the plan a run stored, as plan printed it, above
// its journal.
func writeStoredPlan(w io.Writer, r store.Run) error {
	if len(r.Plan) == 0 {
		return nil
	}
	p, err := sync.ParsePlan(r.Plan)
	if err != nil {
		_, err = fmt.Fprintf(w, "\nplan: not shown (%v)\n", err)
		return err
	}
	title := "\nPlan:\n\n"
	if r.Outcome == store.OutcomeRefused {
		title = "\nThe plan it would have applied:\n\n"
	}
	if _, err := io.WriteString(w, title); err != nil {
		return err
	}
	return p.RenderText(w, false)
}

// writeRunMarkdown is runs show --format markdown: the run and its plan as
// plan prints them, then the journal as a table.
func writeRunMarkdown(w io.Writer, r store.Run, sp *store.StoredPlan, ops []store.Operation) error {
	res := &sync.Result{Run: r, Plan: &sync.Plan{}}
	if sp != nil {
		res.Refusal = sp.Refusal
	}
	if len(r.Plan) > 0 {
		p, err := sync.ParsePlan(r.Plan)
		if err != nil {
			return err
		}
		res.Plan = p
	}
	if err := writeMarkdown(w, res); err != nil {
		return err
	}
	if sp != nil && sp.AppliedByRun != nil {
		fmt.Fprintf(w, "\nApplied by run %d.\n", *sp.AppliedByRun)
	}
	if len(ops) == 0 {
		_, err := io.WriteString(w, "\nNo operations journaled.\n")
		return err
	}
	io.WriteString(w, "\n### Journal\n\n| seq | action | skill | skill id | state | HTTP | error |\n|---:|---|---|---:|---|---:|---|\n")
	for _, op := range ops {
		id, status := "", ""
		if op.SkillID != nil {
			id = strconv.FormatInt(*op.SkillID, 10)
		}
		if op.HTTPStatus != nil {
			status = strconv.Itoa(*op.HTTPStatus)
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", op.Seq, mdText(op.Action), mdText(op.SkillName), id, op.State, status, mdText(firstLine(op.Error, 200)))
	}
	return nil
}
