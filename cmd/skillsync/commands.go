package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/sync"
)

func (c *cli) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and print it with secrets redacted",
		Long: `Validate the configuration file and print the effective configuration (defaults
filled in, ${VARS} expanded) with every secret redacted: credentials, tokens,
header values, passwords in URLs, every query-string value of a URL, and the
URLs and secrets of notify.sinks.

Every problem is listed with its file, line and key path, not only the first:
unknown keys, wrong types, unreadable ${file:PATH} references and unset ${VARS}
under sync, assignments and skills, together with invalid values. Warnings (an
unset ${VAR} whose key keeps its default, one set but empty under sync,
assignments or skills, secrets written in a file that group or others may read)
are printed as "warning:" lines and do not fail the check.
The exit status is 1 when the configuration is invalid. No network call is made:
the HR feed and LivePerson are not contacted, but the HR file must exist.`,
		Example: `  skillsync config check --config /etc/skillsync/config.yaml
  SKILLSYNC_CONFIG=./config.yaml skillsync config check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return c.configCheck(cmd.OutOrStdout()) },
	}
	cmd.AddCommand(check)
	return cmd
}

func (c *cli) configCheck(stdout io.Writer) error {
	path := c.path()
	cfg, file, err := loadConfig(path, c.env.lookupEnv)
	c.remember(cfg)
	var ce *ConfigError
	if err != nil && (!errors.As(err, &ce) || cfg == nil) {
		return err
	}
	out, _, rerr := redactedConfig(cfg)
	if rerr != nil {
		return fmt.Errorf("print config: %w", rerr)
	}
	fmt.Fprintf(stdout, "# effective configuration from %s (secrets redacted)\n%s", path, out)
	for _, w := range file.warnings {
		fmt.Fprintf(c.env.stderr, "warning: %s\n", c.redact(w))
	}
	if ce != nil {
		return &exitCodeError{code: exitError, err: ce}
	}
	fmt.Fprintf(c.env.stderr, "%s: configuration is valid\n", path)
	return nil
}

func (c *cli) migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Long: `Create or upgrade skillsync's tables in the database of database.url, then exit.

plan, sync and run apply pending migrations themselves; this command is for
deployment pipelines that migrate first. Concurrent migrations from several
replicas wait for each other. A database that a newer skillsync has migrated is
refused (exit 1, naming both schema versions): this build never downgrades a
schema, and neither it nor any other command works on one it does not know.

State written before skillsync kept state per account goes to the one account
configured; with several, every command refuses until --legacy-account NAME
says whose it is (once).
'skillsync migrate status' shows where the database stands.`,
		Example: `  SKILLSYNC_DATABASE_URL=postgres://skillsync@db/skillsync skillsync migrate
  skillsync migrate status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, log, err := c.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			log.Info("database is up to date", "schema_version", store.KnownSchemaVersion())
			return nil
		},
	}
	cmd.Flags().StringVar(&c.legacyAccount, "legacy-account", "",
		"the account (accounts[].name) that state written before skillsync kept state per account belongs to; needed once, when several accounts are configured")
	cmd.AddCommand(c.migrateStatusCommand())
	return cmd
}

func (c *cli) migrateStatusCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show applied and pending database migrations",
		Long: `List every migration this build of skillsync knows, applied (with when) or
pending, and every migration the database has that this build does not know
(applied by a newer skillsync). Nothing is written to the database.

The exit status is 0 when the status could be read, also with migrations
pending ('skillsync migrate' applies them); 1 when the database is unreachable,
or when a newer skillsync has migrated it: this build refuses to work on it.`,
		Example: `  skillsync migrate status
  skillsync migrate status --format json | jq '.migrations[] | select(.state == "pending")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := formatFlag(format); err != nil {
				return err
			}
			st, _, err := c.openStoreUnchecked(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			status, err := st.SchemaStatus(cmd.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				err = writeJSON(cmd.OutOrStdout(), newSchemaView(status))
			} else {
				err = writeSchemaStatus(cmd.OutOrStdout(), status)
			}
			if err != nil {
				return err
			}
			var tooNew *store.SchemaTooNewError
			if errors.As(status.Err(), &tooNew) {
				return schemaError(tooNew)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// schemaView is the JSON of `migrate status`.
type schemaView struct {
	Database      string          `json:"database"`
	SchemaVersion int64           `json:"schema_version"`
	KnownVersion  int64           `json:"known_version"`
	Migrations    []migrationView `json:"migrations"`
}

type migrationView struct {
	Version   int64                `json:"version"`
	File      string               `json:"file,omitempty"`
	State     store.MigrationState `json:"state"`
	AppliedAt *time.Time           `json:"applied_at,omitempty"`
}

func newSchemaView(s store.SchemaStatus) schemaView {
	v := schemaView{Database: s.Where, SchemaVersion: s.Database, KnownVersion: s.Known, Migrations: make([]migrationView, len(s.Migrations))}
	for i, m := range s.Migrations {
		v.Migrations[i] = migrationView{Version: m.Version, File: m.File, State: m.State, AppliedAt: m.AppliedAt}
	}
	return v
}

func writeSchemaStatus(w io.Writer, s store.SchemaStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "database\tpostgres at %s\n", s.Where)
	fmt.Fprintf(tw, "schema version\t%d (this skillsync knows up to %d)\n", s.Database, s.Known)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tMIGRATION\tSTATE\tAPPLIED (UTC)")
	for _, m := range s.Migrations {
		file, at := m.File, "-"
		if file == "" {
			file = "? (not in this build)"
		}
		if m.AppliedAt != nil {
			at = m.AppliedAt.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", m.Version, file, m.State, at)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var note string
	switch pending, unknown := s.Pending(), s.Unknown(); {
	case len(unknown) > 0:
		note = fmt.Sprintf("a newer skillsync has migrated this database (%d unknown migrations): this build refuses to work on it", len(unknown))
	case len(pending) > 0:
		note = fmt.Sprintf("%d pending: 'skillsync migrate' applies them (run, plan and sync also do, at start)", len(pending))
	default:
		note = "up to date"
	}
	_, err := fmt.Fprintf(w, "\n%s\n", note)
	return err
}

// schemaError explains a schema this build cannot work on, and what to do.
func schemaError(err error) error {
	var tooNew *store.SchemaTooNewError
	var behind *store.SchemaBehindError
	switch {
	case errors.As(err, &tooNew):
		return fmt.Errorf("%w. This is skillsync %s, which refuses to work on it: run the skillsync that migrated it, "+
			"or a newer one ('skillsync migrate status' lists the migrations)", err, currentBuild())
	case errors.As(err, &behind):
		return fmt.Errorf("%w: run 'skillsync migrate' (run, plan and sync also migrate at start; "+
			"read-only commands such as this one never do), or check database.url", err)
	}
	return err
}

// loadForStore loads the configuration for the commands that only need the
// database (migrate, runs, release): a problem elsewhere in the file (an HR
// file that only exists on the server, say) does not stop them.
func (c *cli) loadForStore() (*Config, *slog.Logger, error) {
	path := c.path()
	cfg, file, err := loadConfig(path, c.env.lookupEnv)
	c.remember(cfg)
	var ce *ConfigError
	if err != nil && (!errors.As(err, &ce) || cfg == nil || file.decodeFailed()) {
		c.warnConfig(nil, file)
		return nil, nil, err
	}
	if ce != nil {
		// Only what these commands use stops them: a secret file mounted
		// only where the daemon runs, say, does not.
		storeKey := func(key string) bool { return strings.HasPrefix(key, "database.") || strings.HasPrefix(key, "log.") }
		var fatal []error
		for _, e := range cfg.Validate() {
			if storeKey(e.Error()) {
				fatal = append(fatal, e)
			}
		}
		problems := file.annotate(fatal)
		for _, p := range file.expansion {
			if storeKey(p.key) {
				problems = append(problems, p.msg)
			}
		}
		if len(problems) > 0 {
			c.warnConfig(nil, file)
			return nil, nil, &ConfigError{Path: path, Problems: sortProblems(problems)}
		}
	}
	log, err := c.logger(cfg.Log, configSecrets(cfg))
	if err != nil {
		return nil, nil, err
	}
	c.warnConfig(log, file)
	if ce != nil {
		log.Warn("the configuration has problems this command does not depend on; 'skillsync config check' lists them",
			"problems", len(ce.Problems))
	}
	c.cfg = cfg
	return cfg, log, nil
}

// openStore opens the database named by the configuration and migrates it.
func (c *cli) openStore(ctx context.Context) (*store.Store, *slog.Logger, error) {
	cfg, log, err := c.loadForStore()
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg.Database.URL, store.Options{Logger: log, NameKey: sync.NameKey})
	if err != nil {
		return nil, nil, err
	}
	if err := claimLegacy(ctx, st, cfg, c.legacyAccount, log); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, log, nil
}

// accountStore is the store of the account the command works on (--account,
// or the only one configured), opened by open (openStore or
// openStoreReadOnly).
func (c *cli) accountStore(ctx context.Context, open func(context.Context) (*store.Store, *slog.Logger, error)) (*store.Store, *slog.Logger, error) {
	st, log, err := open(ctx)
	if err != nil {
		return nil, nil, err
	}
	acct, err := c.cfg.oneAccount(c.account)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st.Account(acct.ID()), log, nil
}

// runAccountStore is accountStore for `runs show ID`: without --account
// and with several accounts, the store of the account run id belongs to
// (a run id names one run whatever its account).
func (c *cli) runAccountStore(ctx context.Context, id int64) (*store.Store, *slog.Logger, error) {
	st, log, err := c.openStoreReadOnly(ctx)
	if err != nil {
		return nil, nil, err
	}
	acct, err := c.cfg.accountOfRun(ctx, st, c.account, id)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st.Account(acct.ID()), log, nil
}

// openStoreReadOnly opens the database named by the configuration for
// the commands that only read it (runs, runs show): they never migrate,
// and work only on the schema this build knows.
func (c *cli) openStoreReadOnly(ctx context.Context) (*store.Store, *slog.Logger, error) {
	st, log, err := c.openStoreUnchecked(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := st.CheckSchema(ctx); err != nil {
		st.Close()
		return nil, nil, schemaError(err)
	}
	if err := claimLegacy(ctx, st, c.cfg, "", log); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, log, nil
}

// openStoreUnchecked opens the database named by the configuration as it
// is, whatever its schema (migrate status).
func (c *cli) openStoreUnchecked(ctx context.Context) (*store.Store, *slog.Logger, error) {
	cfg, log, err := c.loadForStore()
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return st, log, nil
}

// openStore connects and migrates: every command that uses the database
// can then run against a fresh one. A database migrated by a newer
// skillsync is refused before anything else happens (no LivePerson call).
func openStore(ctx context.Context, url string, opts store.Options) (*store.Store, error) {
	st, err := store.Open(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		var tooNew *store.SchemaTooNewError
		if errors.As(err, &tooNew) {
			return nil, schemaError(err)
		}
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return st, nil
}

func (c *cli) runsCommand() *cobra.Command {
	var limit int
	var format string
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List recent runs",
		Long: `List the most recent runs, newest first: when, what started them, plan or apply,
how they ended, and what they changed. 'skillsync runs show ID' shows one run
with its plan and every operation it journaled.

Both only read the database: they never migrate it, and exit 1 (saying what to
do) when its schema is not the one this skillsync knows.`,
		Example: `  skillsync runs
  skillsync runs --limit 50 --format json | jq '.[] | select(.outcome == "failed")'
  skillsync runs show 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := formatFlag(format); err != nil {
				return err
			}
			if limit < 1 {
				return fmt.Errorf("--limit %d: want at least 1", limit)
			}
			st, _, err := c.accountStore(cmd.Context(), c.openStoreReadOnly)
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.ListRuns(cmd.Context(), limit)
			if err != nil {
				return fmt.Errorf("list runs: %w", err)
			}
			for i := range runs {
				runs[i].Error = c.redact(runs[i].Error)
			}
			if format == "json" {
				views := make([]runView, len(runs))
				for i, r := range runs {
					views[i] = newRunView(r)
				}
				return writeJSON(cmd.OutOrStdout(), views)
			}
			return writeRunsTable(cmd.OutOrStdout(), runs)
		},
	}
	cmd.PersistentFlags().StringVar(&format, "format", "text", "output format: text or json (runs show: also markdown)")
	cmd.PersistentFlags().StringVar(&c.account, "account", "", "the account (accounts[].name) whose runs to list; required by runs with several accounts (runs show finds the run's account)")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs to list")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one run with its plan and operations",
		Long: `Show one run: its outcome, counts and error, the plan it made (printed as
'skillsync plan' prints it; for a dry or refused run, also what it was made from
and whether 'skillsync apply ID' applied it), then every operation it journaled,
in order, with the skill, the rule key a create was made for, the HTTP status
and the error. An operation's state is done or failed once answered; sent
(journaled just before its call, never answered) when the run stopped first,
or intended (never sent) in runs of earlier releases; resolved when
a later run settled a create whose answer never came, by reading LivePerson
(the last column then says what it found). Below the journal, the run's
notifications (notify.sinks): sink, event, status (queued, sending, sent,
failed), attempts and the last error.`,
		Example: `  skillsync runs show 42
  skillsync runs show 42 --format json | jq .operations
  skillsync runs show 42 --format markdown > run-42.md`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := formatFlagMarkdown(format); err != nil {
				return err
			}
			id, err := parseRunID(args[0], "as listed by 'skillsync runs'")
			if err != nil {
				return err
			}
			st, _, err := c.runAccountStore(cmd.Context(), id)
			if err != nil {
				return err
			}
			defer st.Close()
			r, ops, err := st.GetRun(cmd.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("run %d does not exist: 'skillsync runs' lists the recent ones", id)
			}
			if err != nil {
				return fmt.Errorf("read run %d: %w", id, err)
			}
			// A stored error may quote what an HR server or LivePerson
			// said, secrets included.
			r.Error = c.redact(r.Error)
			for i := range ops {
				ops[i].Error = c.redact(ops[i].Error)
			}
			ds, err := st.RunDeliveries(cmd.Context(), id)
			if err != nil {
				return err
			}
			deliveries := newDeliveryViews(ds, c.redact)
			sp, err := storedPlanOf(cmd.Context(), st, id)
			if err != nil {
				return err
			}
			if sp != nil {
				sp.Refusal = c.redact(sp.Refusal)
			}
			switch format {
			case "json":
				v := runDetailView{Run: newRunView(r), Plan: r.Plan, StoredPlan: newStoredPlanView(sp), Operations: make([]opView, len(ops)), Notifications: deliveries}
				for i, op := range ops {
					v.Operations[i] = newOpView(op)
				}
				return writeJSON(cmd.OutOrStdout(), v)
			case "markdown":
				return writeRunMarkdown(cmd.OutOrStdout(), r, sp, ops)
			}
			if err := writeRun(cmd.OutOrStdout(), r, sp, ops); err != nil {
				return err
			}
			return writeDeliveries(cmd.OutOrStdout(), deliveries)
		},
	}
	cmd.AddCommand(show)
	return cmd
}

func (c *cli) releaseCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release SKILL_NAME",
		Short: "Stop managing a skill without deleting it",
		Long: `Remove a skill from skillsync's ownership registry. The skill stays in LivePerson
exactly as it is; skillsync will no longer update or delete it. If a rule still
produces its name, later plans report it as an unmanaged conflict (set
skills.adopt_existing to take it back).`,
		Example: `  skillsync release "Sales / Sales Representative"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, log, err := c.accountStore(cmd.Context(), c.openStore)
			if err != nil {
				return err
			}
			defer st.Close()
			sk, err := st.ReleaseSkill(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("skill %q is not managed by skillsync (names are matched ignoring case, surrounding and repeated spaces, and Unicode normal form; 'skillsync runs show ID' lists what runs created)", args[0])
			}
			if err != nil {
				return fmt.Errorf("release %q: %w", args[0], err)
			}
			log.Info("skill released", "skill", sk.Name, "skill_id", sk.SkillID, "rule", sk.RuleID)
			fmt.Fprintf(cmd.OutOrStdout(), "released %q (LivePerson skill id %d): it stays in LivePerson, skillsync no longer manages it\n", sk.Name, sk.SkillID)
			return nil
		},
	}
	cmd.Flags().StringVar(&c.account, "account", "", "the account (accounts[].name) that owns the skill; required with several accounts")
	return cmd
}

// runView is the JSON shape of a run (snake_case, stable).
type runView struct {
	ID         int64         `json:"id"`
	Trigger    store.Trigger `json:"trigger"`
	Mode       store.Mode    `json:"mode"`
	Outcome    store.Outcome `json:"outcome"`
	StartedAt  time.Time     `json:"started_at"`
	FinishedAt *time.Time    `json:"finished_at,omitempty"`
	DurationMS *int64        `json:"duration_ms,omitempty"`
	Counts     store.Counts  `json:"counts"`
	Error      string        `json:"error,omitempty"`
	SnapshotID *int64        `json:"snapshot_id,omitempty"`
	// ApprovedRun and ApprovedBy are set on an approval run (trigger
	// approval): the run whose stored plan it applied, and who approved.
	ApprovedRun *int64 `json:"approved_run,omitempty"`
	ApprovedBy  string `json:"approved_by,omitempty"`
}

func newRunView(r store.Run) runView {
	v := runView{ID: r.ID, Trigger: r.Trigger, Mode: r.Mode, Outcome: r.Outcome, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, Counts: r.Counts, Error: r.Error, SnapshotID: r.SnapshotID,
		ApprovedRun: r.ApprovedRun, ApprovedBy: r.ApprovedBy}
	if r.FinishedAt != nil {
		ms := r.FinishedAt.Sub(r.StartedAt).Milliseconds()
		v.DurationMS = &ms
	}
	return v
}

type runDetailView struct {
	Run        runView         `json:"run"`
	Plan       json.RawMessage `json:"plan,omitempty"`
	StoredPlan *storedPlanView `json:"stored_plan,omitempty"`
	Operations []opView        `json:"operations"`
	// Notifications are the messages the run queued (notify.sinks).
	Notifications []deliveryView `json:"notifications"`
}

type opView struct {
	Seq        int           `json:"seq"`
	Action     string        `json:"action"`
	Skill      string        `json:"skill"`
	SkillID    *int64        `json:"skill_id,omitempty"`
	RuleID     string        `json:"rule_id,omitempty"`
	RuleKey    string        `json:"rule_key,omitempty"`
	Request    string        `json:"request,omitempty"`
	State      store.OpState `json:"state"`
	HTTPStatus *int          `json:"http_status,omitempty"`
	Error      string        `json:"error,omitempty"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

func newOpView(op store.Operation) opView {
	return opView{Seq: op.Seq, Action: op.Action, Skill: op.SkillName, SkillID: op.SkillID, RuleID: op.RuleID, RuleKey: op.RuleKey, Request: op.Request,
		State: op.State, HTTPStatus: op.HTTPStatus, Error: op.Error, UpdatedAt: op.UpdatedAt}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runDuration(r store.Run) string {
	if r.FinishedAt == nil {
		return "-"
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
}

func writeRunsTable(w io.Writer, runs []store.Run) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintln(w, "no runs yet: 'skillsync plan' makes the first one")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED (UTC)\tTRIGGER\tMODE\tOUTCOME\tCREATE\tUPDATE\tDELETE\tPENDING\tFAILED\tDURATION\tERROR")
	for _, r := range runs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.ID, r.StartedAt.UTC().Format(time.DateTime),
			r.Trigger, r.Mode, r.Outcome, r.Counts.Create, r.Counts.Update, r.Counts.Delete, r.Counts.PendingDelete,
			r.Counts.Failed, runDuration(r), firstLine(r.Error, 60))
	}
	return tw.Flush()
}

func writeRun(w io.Writer, r store.Run, sp *store.StoredPlan, ops []store.Operation) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "run\t%d (%s, %s)\n", r.ID, r.Mode, r.Trigger)
	fmt.Fprintf(tw, "outcome\t%s\n", r.Outcome)
	fmt.Fprintf(tw, "started\t%s\n", r.StartedAt.UTC().Format(time.RFC3339))
	if r.FinishedAt != nil {
		fmt.Fprintf(tw, "finished\t%s (%s)\n", r.FinishedAt.UTC().Format(time.RFC3339), runDuration(r))
	}
	k := r.Counts
	fmt.Fprintf(tw, "counts\tcreate %d, update %d, delete %d, pending delete %d, unchanged %d, unmanaged conflict %d, assign %d, unassign %d, failed %d\n",
		k.Create, k.Update, k.Delete, k.PendingDelete, k.Unchanged, k.UnmanagedConflict, k.Assign, k.Unassign, k.Failed)
	if r.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", r.Error)
	}
	writeApproval(tw, r, sp)
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writeStoredPlan(w, r); err != nil {
		return err
	}
	if len(ops) == 0 {
		_, err := fmt.Fprintln(w, "\nno operations journaled")
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tACTION\tSKILL\tSKILL ID\tRULE KEY\tSTATE\tHTTP\tERROR / RESOLUTION")
	states := map[store.OpState]bool{}
	for _, op := range ops {
		id, status := "-", "-"
		if op.SkillID != nil {
			id = strconv.FormatInt(*op.SkillID, 10)
		}
		if op.HTTPStatus != nil {
			status = strconv.Itoa(*op.HTTPStatus)
		}
		states[op.State] = true
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", op.Seq, op.Action, op.SkillName, id, ruleKey(op), op.State, status, firstLine(op.Error, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The states that are not plain success or failure need a word.
	var notes []string
	for _, n := range opStateNotes {
		if states[n.state] {
			notes = append(notes, fmt.Sprintf("  %-9s %s", n.state, n.note))
		}
	}
	if len(notes) > 0 {
		_, err := fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
		return err
	}
	return nil
}

// opStateNotes explain the journal states of operations whose answer
// never came, in the order of their life.
var opStateNotes = []struct {
	state store.OpState
	note  string
}{
	{store.OpIntended, "journaled, never sent: the run stopped before the request left (runs of earlier releases)"},
	{store.OpSent, "journaled just before its call, never answered (the process stopped before or during the call, or shutdown could not wait): for a create, the next run reads LivePerson and settles it"},
	{store.OpResolved, "sent, never answered, and settled by a later run that read LivePerson: the last column says what it found (a create it took over, or one that did not happen)"},
}

// ruleKey is the rule and registry key a journaled create was made for
// (the key starts with the rule id), "-" for other operations.
func ruleKey(op store.Operation) string {
	switch {
	case op.RuleKey != "":
		return op.RuleKey
	case op.RuleID != "":
		return op.RuleID
	}
	return "-"
}

// firstLine shortens s to its first line and at most n runes, for tables.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// parseRunID reads a command's RUN_ID argument; where says where the user
// finds one.
func parseRunID(arg, where string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("run id %q: want a positive number, %s", arg, where)
	}
	return id, nil
}
