package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

func (c *cli) planCommand() *cobra.Command {
	var format string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Dry run: show what a sync would change, change nothing",
		Long: `Read the HR feed and the LivePerson account, and print what an apply run would
change, in the style of 'terraform plan'. Nothing is written to LivePerson; the
dry run is recorded in the run history (pending deletes are read, never
advanced).

With --detailed-exitcode the exit status tells a script what it found:
0 no changes, 2 changes pending, 3 refused by a guard, 1 error.`,
		Example: `  skillsync plan
  skillsync plan --format json | jq '.summary'
  skillsync plan --detailed-exitcode || echo "exit $?: 2 means changes are pending"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := formatFlag(format); err != nil {
				return err
			}
			return c.once(cmd.Context(), cmd.OutOrStdout(), store.ModePlan, format, detailed)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when changes are pending (0 none, 1 error, 3 refused)")
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

Exit status: 0 applied (or nothing to do), 1 error or partly applied,
3 refused by a guard.`,
		Example: `  skillsync sync
  skillsync sync --format json > last-sync.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := formatFlag(format); err != nil {
				return err
			}
			return c.once(cmd.Context(), cmd.OutOrStdout(), store.ModeApply, format, false)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// once is plan and sync: one run, its plan on stdout, its outcome as the
// exit status.
func (c *cli) once(ctx context.Context, stdout io.Writer, mode store.Mode, format string, detailed bool) error {
	cfg, log, err := c.load()
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, log, c.env)
	if err != nil {
		return err
	}
	defer a.close()
	res, runErr := a.runOnce(ctx, mode, store.TriggerManual)
	if res != nil && res.Plan != nil {
		if err := writePlan(stdout, res, format, isTerminal(stdout)); err != nil {
			return fmt.Errorf("print plan: %w", err)
		}
	}
	return outcomeError(res, runErr, detailed)
}

// writePlan prints a run's plan and, for text, a line on what was done.
func writePlan(w io.Writer, res *sync.Result, format string, color bool) error {
	if format == "json" {
		return res.Plan.RenderJSON(w)
	}
	if err := res.Plan.RenderText(w, color); err != nil {
		return err
	}
	if res.Run.Mode == store.ModeApply {
		_, err := fmt.Fprintf(w, "\n%s\n", runSummary(res.Run))
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
		return &exitCodeError{code: exitRefused, err: fmt.Errorf("run %d refused by a guard, nothing was changed: %s", r.ID, r.Error)}
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

// planPending says whether a plan would do anything if applied: a write,
// or advancing a pending delete towards its deletion.
func planPending(p *sync.Plan) bool {
	return p.HasChanges() || p.Summary().PendingDelete > 0
}
