package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/skillsync/skillsync/internal/jsonscan"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

func (c *cli) planCommand() *cobra.Command {
	var format, asOf string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Dry run: show what a sync would change, change nothing",
		Long: `Read the HR feed and the LivePerson account, and print what an apply run would
change, in the style of 'terraform plan'. Nothing is written to LivePerson; the
dry run is recorded in the run history (pending deletes are read, never
advanced).

With --detailed-exitcode the exit status tells a script what it found:
0 no changes, 2 changes pending (a create, an update with field changes, a
delete, an assignment, taking ownership of a skill (an adoption or a
takeover), or a pending delete the next apply run would advance; skillsync's
own bookkeeping alone is not a change), 3 refused by a guard, 1 error.

With --format json, standard output is one JSON document whatever happens:
format_version, run_id, mode, outcome, refused (a guard's reason) or error,
then the plan (summary, changes, ...) when there is one. outcome is the run's
(planned, no_changes, refused, failed, ...), or error / run_in_progress when
no run was recorded.

With --as-of YYYY-MM-DD the plan is made as of that day: the records in force
then (hr.fields.start_date and end_date, in the configured timezone). It is a
dry run like any plan: it never writes to LivePerson and never moves the
headcount baseline. Every plan with dated records lists the upcoming changes
within sync.lookahead_days (JSON key upcoming).

With several accounts (accounts:), every account runs in turn unless --account
names one: text has a header per account, --format json prints one compact
document per account per line, each with "account", and the exit status is the
first of 1, 3, 4, 2, 0 that any account produced.

Every dry run stores its plan with the LivePerson revision and a fingerprint
of the HR records it was made from: once reviewed, 'skillsync apply RUN_ID'
applies exactly that plan (or refuses it as stale). A run refused by a guard
stores, and prints under the refusal, the plan it would have applied.
--format markdown prints GitHub-flavoured Markdown for a pull-request comment
or a chat message (a counts table, the changes by action, provenance folded).`,
		Example: `  skillsync plan
  skillsync plan --format markdown > plan.md   # for a pull-request comment
  skillsync plan --format json | jq '.summary'
  skillsync plan --detailed-exitcode || echo "exit $?: 2 means changes are pending"
  skillsync plan --as-of 2026-12-14`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := formatFlagMarkdown(format); err != nil {
				return err
			}
			ctx, err := asOfContext(cmd.Context(), asOf)
			if err != nil {
				return err
			}
			return c.once(ctx, cmd.OutOrStdout(), store.ModePlan, format, detailed)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, json or markdown")
	cmd.Flags().StringVar(&asOf, "as-of", "", "plan as of this day (YYYY-MM-DD, in the configured timezone): a dry run over the records in force then")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when changes to LivePerson are pending (0 none, 1 error, 3 refused)")
	cmd.Flags().StringVar(&c.account, "account", "", "run only this account (accounts[].name); without it every account runs in turn")
	return cmd
}

func (c *cli) syncCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Run once in apply mode, then exit",
		Long: `Run one sync in apply mode and exit: plan, check the guards, apply the changes
to LivePerson, record the run. It takes the same lock as the daemon, so it
waits for nothing and fails if another run is in progress.

With notify.sinks, the run's notifications are sent after its result is
printed and before it exits (it waits at most 15s for them; what is left, the
daemon or the next sync sends).

Exit status: 0 applied (or nothing to do), 1 error or partly applied,
3 refused by a guard. With --format json, standard output is one JSON
document whatever happens, as for plan: outcome, refused or error, and the
plan when there is one. With several accounts, every account runs in turn
unless --account names one, as for plan.

A refused run prints the plan it would have applied under the refusal;
'skillsync apply RUN_ID' applies it once reviewed.
--format markdown prints the run and its plan as GitHub-flavoured Markdown.`,
		Example: `  skillsync sync
  skillsync sync --format json > last-sync.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := formatFlagMarkdown(format); err != nil {
				return err
			}
			return c.once(cmd.Context(), cmd.OutOrStdout(), store.ModeApply, format, false)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, json or markdown")
	cmd.Flags().StringVar(&c.account, "account", "", "run only this account (accounts[].name); without it every account runs in turn")
	return cmd
}

// once is plan and sync: one run, its plan on stdout, its outcome as the
// exit status. With --format json, stdout gets exactly one JSON document
// whatever happens (see writeResultJSON), so that `| jq` never reads
// nothing.
//
// With several accounts (and no --account) each account runs in turn:
// text has a header per account, JSON is one compact document per account
// per line, each naming its account; each account's error goes to
// standard error, and the exit status is the first of 1, 3, 4, 2, 0 that
// any account produced.
func (c *cli) once(ctx context.Context, stdout io.Writer, mode store.Mode, format string, detailed bool) error {
	results, finish := c.runAccounts(ctx, mode)
	// After the results are printed: the notifications of the runs.
	defer finish()
	several := len(results) > 1
	errs := make([]error, len(results))
	for i, r := range results {
		exitErr := outcomeError(r.res, r.err, detailed)
		errs[i] = exitErr
		name := ""
		if r.acct != nil {
			name = r.acct.Name
		}
		if format == "json" {
			if err := writeResultJSON(stdout, res(r), exitErr, c.redact, name, several); err != nil {
				return fmt.Errorf("print result: %w", err)
			}
		} else {
			if several {
				if i > 0 {
					fmt.Fprintln(stdout)
				}
				fmt.Fprintf(stdout, "== account %s (LivePerson account %s) ==\n\n", name, r.acct.ID())
			}
			if r.res != nil && r.res.Plan != nil {
				if err := writePlan(stdout, r.res, format, colorOn(stdout, c.env.lookupEnv)); err != nil {
					return fmt.Errorf("print plan: %w", err)
				}
			}
		}
		if several && exitErr != nil && !isSilent(exitErr) {
			fmt.Fprintf(c.env.stderr, "skillsync: account %s: %s\n", name, c.redact(exitErr.Error()))
		}
	}
	worst := worstExit(errs)
	if several && worst != nil {
		// Each account's error is printed above.
		return &exitCodeError{code: exitCode(worst)}
	}
	return worst
}

// res is the result of an account's run (nil when none was made).
func res(r accountResult) *sync.Result { return r.res }

// isSilent reports an exit status that carries no message of its own
// (plan --detailed-exitcode's 2).
func isSilent(err error) bool {
	var ec *exitCodeError
	return errors.As(err, &ec) && ec.err == nil
}

// resultHead is what writeResultJSON puts before the plan's own keys.
type resultHead struct {
	FormatVersion int    `json:"format_version"`
	Account       string `json:"account,omitempty"`
	RunID         int64  `json:"run_id,omitempty"`
	Mode          string `json:"mode,omitempty"`
	Outcome       string `json:"outcome"`
	Refused       string `json:"refused,omitempty"`
	Error         string `json:"error,omitempty"`
	// ApprovedRun and ApprovedBy: an approval run (skillsync apply).
	ApprovedRun *int64 `json:"approved_run,omitempty"`
	ApprovedBy  string `json:"approved_by,omitempty"`
}

// Outcomes of writeResultJSON for runs that were never recorded.
const (
	resultError         = "error"           // config, database, ... before the run began
	resultRunInProgress = "run_in_progress" // another run holds the lock
	resultStale         = "stale"           // apply: the stored plan is stale, nothing applied
)

// writeResultJSON writes the one JSON document of plan and sync
// --format json: format_version, run_id, mode, outcome (a run outcome, or
// "error" / "run_in_progress" when no run was recorded), refused (the
// guard's reason) or error (what the exit status is about, redacted), then
// the plan's keys (policy, summary, changes, ...) when a plan exists. A
// successful run's document is the plan of earlier versions with run_id,
// mode and outcome added.
//
// account names the account the run was for; compact writes the document
// on one line (one line per account when plan or sync run several).
func writeResultJSON(w io.Writer, res *sync.Result, exitErr error, redact func(string) string, account string, compact bool) error {
	head := resultHead{FormatVersion: sync.PlanFormatVersion, Account: account, Outcome: resultError}
	var stale *sync.StaleError
	switch {
	case errors.Is(exitErr, sync.ErrRunInProgress):
		head.Outcome = resultRunInProgress
	case errors.As(exitErr, &stale):
		head.Outcome = resultStale
	}
	var plan []byte
	if res != nil {
		r := res.Run
		head.RunID, head.Mode, head.Outcome = r.ID, string(r.Mode), string(r.Outcome)
		head.ApprovedRun, head.ApprovedBy = r.ApprovedRun, r.ApprovedBy
		if r.Outcome == store.OutcomeRefused {
			head.Refused = redact(cmp.Or(res.Refusal, r.Error))
		}
		switch {
		case res.Plan != nil && len(r.Plan) > 0:
			// The runner recorded the run with this very plan encoded
			// (sync's runContext.finish: Run.Plan is Plan.MarshalJSON()
			// of the plan returned): encoding it again would cost as much
			// (at 1,000,000 records ~0.5 s and ~100 MB of buffers).
			plan = r.Plan
		case res.Plan != nil:
			var err error
			// Compact already: json.Marshal would only copy it twice more.
			if plan, err = res.Plan.MarshalJSON(); err != nil {
				return err
			}
		}
	}
	var ec *exitCodeError
	if exitErr != nil && head.Refused == "" && !(errors.As(exitErr, &ec) && ec.err == nil) {
		head.Error = redact(exitErr.Error())
	}
	b, err := json.Marshal(head)
	if err != nil {
		return err
	}
	parts := [][]byte{b}
	if len(plan) > 0 {
		if parts, err = mergeObjects(b, plan); err != nil {
			return err
		}
	}
	// The document is written as it is indented, through a buffer, not
	// assembled first: at 1,000,000 records the plan is tens of MB, and
	// the merged and indented copies of it were a quarter of a GB.
	bw := bufio.NewWriterSize(w, 64<<10)
	if compact {
		// Both halves are compact JSON, and so is their merge.
		for _, p := range parts {
			_, _ = bw.Write(p)
		}
	} else {
		iw := newIndentWriter(bw)
		for _, p := range parts {
			iw.write(p)
		}
	}
	_ = bw.WriteByte('\n')
	return bw.Flush()
}

// mergeObjects returns, in order, the pieces of the compact JSON object
// made of the members of the compact object head, then those of the
// compact object tail whose keys head does not have, in tail's order. The
// pieces alias head and tail: nothing is copied. Both are validated before
// anything is returned.
func mergeObjects(head, tail []byte) ([][]byte, error) {
	seen := map[string]bool{}
	hs := jsonscan.Scanner{Data: head}
	if err := hs.Object(func(key []byte, _ bool, _ []byte) error {
		k, err := unquoteKey(key)
		seen[k] = true
		return err
	}); err != nil {
		return nil, fmt.Errorf("merge JSON: %w", err)
	}
	open := bytes.TrimSuffix(bytes.TrimSpace(head), []byte("}"))
	parts := [][]byte{open}
	empty := bytes.Equal(bytes.TrimSpace(open), []byte("{"))
	ts := jsonscan.Scanner{Data: tail}
	if err := ts.Object(func(key []byte, _ bool, val []byte) error {
		k, err := unquoteKey(key)
		if err != nil || seen[k] {
			return err
		}
		if !empty {
			parts = append(parts, comma)
		}
		empty = false
		parts = append(parts, key, colon, val)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("merge JSON: %w", err)
	}
	return append(parts, closeBrace), nil
}

// Punctuation of mergeObjects' pieces.
var comma, colon, closeBrace = []byte(","), []byte(":"), []byte("}")

// unquoteKey is the text of a raw JSON object key (quotes included).
func unquoteKey(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var k string
	err := json.Unmarshal(raw, &k)
	return k, err
}

// writePlan prints a run's plan and, for text, a line on what was done.
func writePlan(w io.Writer, res *sync.Result, format string, color bool) error {
	switch format {
	case "json":
		return res.Plan.RenderJSON(w)
	case "markdown":
		return writeMarkdown(w, res)
	}
	if res.Run.Outcome == store.OutcomeRefused {
		if err := refusalHeader(w, res); err != nil {
			return err
		}
	}
	if err := res.Plan.RenderText(w, color); err != nil {
		return err
	}
	if r := res.Run; r.Mode == store.ModePlan && r.Outcome == store.OutcomePlanned {
		// As terraform says where it saved a plan: this one can be applied
		// as it is.
		_, err := fmt.Fprintf(w, "\nRun %d stored this plan: once reviewed, 'skillsync apply %d' applies exactly it (refused as stale if LivePerson or HR change first).\n", r.ID, r.ID)
		return err
	}
	if res.Run.Mode == store.ModeApply {
		line := runSummary(res.Run)
		if r := res.Run; r.ApprovedRun != nil {
			line += fmt.Sprintf(" It applied the plan of run %d, approved by %s.", *r.ApprovedRun, r.ApprovedBy)
		}
		_, err := fmt.Fprintf(w, "\n%s\n", line)
		return err
	}
	return nil
}

// runSummary is one line on what an apply run did.
func runSummary(r store.Run) string {
	k := r.Counts
	return fmt.Sprintf("Run %d %s: %d created, %d updated, %d deleted, %d pending delete, %d failed (%s).",
		r.ID, r.Outcome, k.Create, k.Update, k.Delete, k.PendingDelete, k.Failed, runDuration(r))
}

// outcomeError turns a run's outcome into the exit status of the contract.
func outcomeError(res *sync.Result, err error, detailed bool) error {
	if errors.Is(err, sync.ErrRunInProgress) {
		return fmt.Errorf("%w: a scheduled run or another replica holds the lock; try again when it ends ('skillsync runs' shows it)", err)
	}
	if res == nil {
		if err == nil {
			err = errors.New("the run returned no result")
		}
		return err
	}
	r := res.Run
	switch r.Outcome {
	case store.OutcomeRefused:
		what := "nothing was changed"
		if k := r.Counts; r.Mode == store.ModeApply && k.Create+k.Update+k.Delete+k.Assign+k.Unassign > 0 {
			// The assignments removal cap holds only the removals.
			what = "what the guard holds was not changed"
		}
		err := fmt.Errorf("run %d refused by a guard, %s: %s", r.ID, what, r.Error)
		if res.Plan != nil && r.Trigger != store.TriggerApproval {
			err = fmt.Errorf("%w; to go ahead anyway, review the plan it would have applied (skillsync runs show %d) and approve it: skillsync apply %d", err, r.ID, r.ID)
		}
		return &exitCodeError{code: exitRefused, err: err}
	case store.OutcomePartial:
		return fmt.Errorf("run %d applied only part of the plan (%d operations failed): 'skillsync runs show %d' lists them; the next run retries", r.ID, r.Counts.Failed, r.ID)
	case store.OutcomeFailed, store.OutcomeInterrupted:
		msg := r.Error
		if msg == "" && err != nil {
			msg = err.Error()
		}
		return fmt.Errorf("run %d %s: %s", r.ID, r.Outcome, msg)
	}
	if err != nil {
		return err
	}
	if detailed && r.Mode == store.ModePlan && res.Plan != nil && planPending(res.Plan) {
		return &exitCodeError{code: exitChanges}
	}
	return nil
}

// planPending says whether a plan would do anything to LivePerson if
// applied (sync.Plan.HasChanges): a create, an update with field changes,
// a delete, an (un)assignment, taking ownership of a skill (an adoption or
// a takeover), or a pending delete advancing towards its deletion.
// Bookkeeping the plan also carries (registry fixes, forgotten rows) is not
// "changes pending" for a script.
func planPending(p *sync.Plan) bool {
	return p.HasChanges()
}
