package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/liveperson/lpsim"
	"github.com/skillsync/skillsync/store"
	"github.com/skillsync/skillsync/store/pgcluster"
	"github.com/skillsync/skillsync/sync"
)

// demoCSV is IBM's public HR analytics sample (1,470 fictional employees),
// the feed of the demo.
//
//go:embed demodata/ibm-hr-employee-attrition.csv
var demoCSV []byte

// demoSchema keeps the demo's tables apart when it runs in a real database.
const demoSchema = "skillsync_demo"

// demoLockKey is the demo's run lock (a Postgres advisory lock, which is
// per database, not per schema): with the default key, a demo run in a
// production database would make a production run skip, and the other
// way round.
const demoLockKey int64 = 0x5ea1_de30

func (c *cli) demoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "The whole loop on a built-in LivePerson simulator and sample HR data",
		Long: `Run skillsync end to end with nothing to set up: a LivePerson simulator in the
process, IBM's public HR sample (1,470 people) as the feed, and PostgreSQL.

The database is SKILLSYNC_DATABASE_URL or database.url when set (the demo then
works in its own schema, skillsync_demo, dropped and recreated each time, under
its own run lock: it never blocks a skillsync using that database, nor waits for
one), otherwise a throwaway server started for the demo (the PostgreSQL server
programs must be installed) and removed at the end.

It shows a plan, applies it, changes the feed (a department renamed, a team
leaving, a skill edited by hand), shows the second plan with its update and
pending deletes, applies it, and lets the next run finish the deletes.`,
		Example: `  go run ./cmd/skillsync demo
  SKILLSYNC_DATABASE_URL=postgres://me@localhost/scratch skillsync demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return c.demo(cmd.Context(), cmd.OutOrStdout()) },
	}
}

// demoPrinter writes the demo's story: headings in colour on a terminal.
type demoPrinter struct {
	w     io.Writer
	color bool
}

func (p demoPrinter) heading(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if p.color {
		s = "\033[1;36m" + s + "\033[0m"
	}
	fmt.Fprintf(p.w, "\n%s\n", s)
}

func (p demoPrinter) say(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p demoPrinter) fact(label, format string, args ...any) {
	l := fmt.Sprintf("%-17s", label)
	if p.color {
		l = "\033[1m" + l + "\033[0m"
	}
	fmt.Fprintf(p.w, "  %s %s\n", l, fmt.Sprintf(format, args...))
}

func (c *cli) demo(ctx context.Context, out io.Writer) error {
	began := time.Now()
	p := demoPrinter{w: out, color: colorOn(out, c.env.lookupEnv)}
	// Warnings only, unless asked: the screen is for the story.
	lc := LogConfig{Format: "auto", Level: "warn"}
	secret := randomHex(16)
	log, err := c.logger(lc, []string{secret})
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "skillsync-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)

	p.say("skillsync demo: the whole loop against a simulated LivePerson account, with IBM's sample HR export as the feed.")

	sim := lpsim.New(lpsim.Options{AccountID: "12345678", ClientID: "skillsync-demo", ClientSecret: secret})
	others := sim.SeedSkills(
		map[string]any{"name": "VIP Support", "description": "made by hand, not by skillsync"},
		map[string]any{"name": "Billing", "description": "made by hand, not by skillsync"},
	)
	srv := lpsim.Serve(sim)
	defer srv.Close()

	dbURL, dbWhere, stopDB, err := c.demoDatabase(ctx)
	if err != nil {
		return err
	}
	defer stopDB()

	hrPath := filepath.Join(dir, "hr.csv")
	if err := os.WriteFile(hrPath, demoCSV, 0o600); err != nil {
		return fmt.Errorf("demo: write the HR sample: %w", err)
	}
	cfg := demoConfig(hrPath, srv.URL(), dbURL, secret)
	if problems := cfg.Validate(); len(problems) > 0 {
		return fmt.Errorf("demo configuration: %w", errors.Join(problems...))
	}

	p.fact("LivePerson", "simulator at %s (account %s, OAuth 2.0), holding %d skills made by hand", srv.URL(), cfg.LivePerson.AccountID, len(others))
	p.fact("PostgreSQL", "%s", dbWhere)
	p.fact("HR feed", "ibm-hr-employee-attrition.csv: 1,470 people, active when Attrition is \"No\"")
	p.fact("Rules", "a skill per department, one per department and role with 5+ people, and a static \"Escalations\"")
	p.fact("Deletes", "after %d healthy apply runs without the skill, at most %d per run", cfg.Sync.DeleteAfterRuns, cfg.Sync.MaxDeletes)

	c.remember(cfg)
	a, err := newAppWith(ctx, cfg, log, appOptions{env: &env{lpHTTPClient: srv.Client()}, lockKey: demoLockKey})
	if err != nil {
		return err
	}
	defer a.close()
	// step runs once; dry runs show their plan, apply runs what they did.
	step := func(mode store.Mode) error {
		res, err := a.runOnce(ctx, mode, store.TriggerDemo)
		if err == nil && res != nil && !slices.Contains([]store.Outcome{store.OutcomePlanned, store.OutcomeApplied, store.OutcomeNoChanges}, res.Run.Outcome) {
			err = fmt.Errorf("run %d ended %s: %s", res.Run.ID, res.Run.Outcome, res.Run.Error)
		}
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if mode == store.ModePlan {
			return writePlan(out, res, "text", p.color)
		}
		p.say("%s", runSummary(res.Run))
		return nil
	}

	p.heading("1. Dry run: what would change? (skillsync plan)")
	if err := step(store.ModePlan); err != nil {
		return err
	}
	p.heading("2. Apply it (skillsync sync)")
	if err := step(store.ModeApply); err != nil {
		return err
	}
	p.say("The %d skills made by hand are untouched: skillsync only changes skills it owns.", len(others))

	renamed, left, err := changeFeed(hrPath)
	if err != nil {
		return err
	}
	drifted := "Research & Development"
	for _, s := range sim.Skills(false) {
		if s["name"] == drifted {
			id, err := strconv.ParseInt(fmt.Sprint(s["id"]), 10, 64)
			if err != nil {
				return fmt.Errorf("demo: skill id %v: %w", s["id"], err)
			}
			sim.EditSkill(id, func(m map[string]any) { m["maxWaitTime"] = 600 })
		}
	}
	p.heading("3. The world changes")
	p.say("  - HR renames the department \"Human Resources\" to \"People & Culture\" (%d people)", renamed)
	p.say("  - the %d active Sales Representatives leave the company", left)
	p.say("  - someone raises the max wait time of %q to 600 by hand in LivePerson", drifted)
	p.heading("4. The next dry run shows it: creates, a drift repair, pending deletes")
	if err := step(store.ModePlan); err != nil {
		return err
	}
	p.heading("5. Apply: deletes wait out their grace, everything else goes ahead")
	if err := step(store.ModeApply); err != nil {
		return err
	}
	p.heading("6. The next scheduled run: the grace is over, the pending skills are deleted")
	if err := step(store.ModeApply); err != nil {
		return err
	}

	p.heading("Run history (skillsync runs)")
	runs, err := a.store.ListRuns(ctx, 10)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := writeRunsTable(out, runs); err != nil {
		return err
	}

	p.heading("Where to look next")
	p.say("  - README.md: configuring a real LivePerson account, operating the daemon, metrics and alerts")
	p.say("  - config.example.yaml: every setting, commented; then 'skillsync config check' and 'skillsync plan'")
	p.say("  - 'skillsync run' serves /status and /metrics on 127.0.0.1:9090 while it syncs on its schedule")
	p.say("  - 'skillsync runs show ID' lists every operation of a run, as journaled in PostgreSQL")
	p.say("\nDemo finished in %s.", time.Since(began).Round(100*time.Millisecond))
	return nil
}

// demoConfig is the configuration the demo runs with.
func demoConfig(hrPath, lpURL, dbURL, secret string) *Config {
	cfg := defaultConfig()
	cfg.Database.URL = dbURL
	cfg.LivePerson.AccountID = "12345678"
	cfg.LivePerson.DomainAPIURL = lpURL
	cfg.LivePerson.Auth = liveperson.AuthConfig{Method: "oauth2", ClientID: "skillsync-demo", ClientSecret: secret}
	cfg.HR.Type = "csv"
	cfg.HR.Path = hrPath
	cfg.HR.Fields.ID = "EmployeeNumber"
	cfg.HR.Active = `Attrition == "No"`
	cfg.HR.StatsAttributes = []string{"Department"}
	maxWait, canTransfer := 120, true
	cfg.Skills.Defaults = sync.Settings{MaxWaitTime: &maxWait, CanTransfer: &canTransfer}
	cfg.Skills.Rules = []sync.Rule{
		{ID: "department", Name: "{{ .Department }}", Description: "{{ .Department }} staff", MinMembers: 1},
		{ID: "department-role", Name: "{{ .Department }} / {{ .JobRole }}", Description: "{{ .Department }}: {{ .JobRole }}", MinMembers: 5},
	}
	cfg.Skills.Static = []sync.Static{{Name: "Escalations", Description: "Supervisors on call"}}
	cfg.Sync.MaxDeletePercent = 50
	cfg.fillDefaults()
	return &cfg
}

// changeFeed rewrites the HR file as next week's export: a department
// renamed, a team gone. It returns how many people each change touched.
func changeFeed(path string) (renamed, left int, err error) {
	rows, err := csv.NewReader(bytes.NewReader(demoCSV)).ReadAll()
	if err != nil || len(rows) < 2 {
		return 0, 0, fmt.Errorf("demo: read the HR sample: %v", err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	dept, role, attr := col["Department"], col["JobRole"], col["Attrition"]
	for _, r := range rows[1:] {
		if r[dept] == "Human Resources" {
			r[dept] = "People & Culture"
			renamed++
		}
		if r[role] == "Sales Representative" && r[attr] == "No" {
			r[attr] = "Yes"
			left++
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		return 0, 0, fmt.Errorf("demo: write the changed feed: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return 0, 0, fmt.Errorf("demo: write the changed feed: %w", err)
	}
	return renamed, left, nil
}

// demoDatabase returns the database the demo uses and how to describe it:
// the configured one (in a schema of its own, so the demo never mixes with
// real state), else a throwaway cluster.
func (c *cli) demoDatabase(ctx context.Context) (url, where string, stop func(), err error) {
	url, from := c.configuredDatabase()
	if url != "" {
		url, err := demoSchemaURL(ctx, url)
		if err != nil {
			return "", "", nil, err
		}
		return url, fmt.Sprintf("%s, schema %s (recreated for each demo)", from, demoSchema), func() {}, nil
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{BinDir: c.env.pgBinDir})
	if err != nil {
		return "", "", nil, fmt.Errorf(`the demo needs PostgreSQL and could not start a throwaway server: %w

Either install the PostgreSQL server programs (initdb, postgres), e.g.
  Debian/Ubuntu:  apt-get install postgresql
  Fedora/RHEL:    dnf install postgresql-server
  macOS:          brew install postgresql
or point the demo at a database you may write to:
  SKILLSYNC_DATABASE_URL=postgres://user:password@localhost:5432/scratch skillsync demo`, err)
	}
	return cluster.URL(), "throwaway server in " + cluster.Dir() + " (removed at the end)", func() { _ = cluster.Stop() }, nil
}

// configuredDatabase is SKILLSYNC_DATABASE_URL, else database.url of the
// configuration file if there is one that parses.
func (c *cli) configuredDatabase() (url, from string) {
	if u, ok := c.env.lookupEnv("SKILLSYNC_DATABASE_URL"); ok && u != "" {
		return u, "SKILLSYNC_DATABASE_URL"
	}
	raw, err := os.ReadFile(c.path())
	if err != nil {
		return "", ""
	}
	cfg, _, err := parseConfig(c.path(), raw, c.env.lookupEnv)
	if err != nil || cfg.Database.URL == "" {
		return "", ""
	}
	return cfg.Database.URL, "database.url of " + c.path()
}

// demoSchemaURL recreates the demo schema and returns url with its
// search_path pointing there.
func demoSchemaURL(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("demo: connect to the configured database: %s", secret.Text(err.Error(), secret.OfURL(url)))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+demoSchema+" CASCADE; CREATE SCHEMA "+demoSchema); err != nil {
		return "", fmt.Errorf("demo: create schema %s (the demo needs CREATE on the database): %w", demoSchema, err)
	}
	if strings.Contains(url, "://") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		return url + sep + "search_path=" + demoSchema, nil
	}
	return url + " search_path=" + demoSchema, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
