package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/sync"
)

// Exit codes (a contract: scripts and CI jobs depend on them).
const (
	exitOK      = 0
	exitError   = 1 // config, network, API or database error
	exitChanges = 2 // plan --detailed-exitcode: changes pending
	exitRefused = 3 // a guard refused the run
	exitStale   = 4 // a saved plan is stale, nothing applied
)

// exitCodeError carries an exit code other than 1 out of a command. A nil
// err means the command has already said everything it had to say.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

// env is what a command may touch of the outside world. run fills it from
// the process; tests fill it with their own servers and buffers.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)

	// lpHTTPClient, when set, is the LivePerson client's HTTP client (tests
	// pass lpsim's, which trusts its certificate).
	lpHTTPClient *http.Client
	// pgBinDir, when set, is where the demo looks for the PostgreSQL server
	// programs (tests point it at an empty directory).
	pgBinDir string
	// onListen, when set, is told the daemon's HTTP address once it serves.
	onListen func(addr string)
	// onStopping, when set, is called once the daemon has asked the
	// running run to stop (tests hold a request until then).
	onStopping func()
	// afterRun, when set, is told of every run once it has finished.
	afterRun func(*sync.Result, error)
	// notifyPoll, when set, replaces how often the notification sender
	// looks at the outbox unprompted (tests make it long).
	notifyPoll time.Duration
	// serverLimits, when set, replaces the daemon's HTTP timeouts and
	// header limit (tests shorten them).
	serverLimits *serverLimits
	// terminal, when set, makes apply treat standard input as a terminal
	// (tests answer its prompt).
	terminal bool
}

// run is the whole program: it parses args, runs the command and returns
// the process exit code. main calls it once; tests call it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, &env{stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv})
}

func runEnv(ctx context.Context, args []string, e *env) int {
	root, c := newRoot(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	// Errors quote what failed, and what failed may echo a secret (an HR
	// server's error body repeating the API key of its URL): the message
	// goes through the same redactor as the logs.
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintf(e.stderr, "skillsync: %s\n", c.redact(ec.err.Error()))
		}
		return ec.code
	}
	fmt.Fprintf(e.stderr, "skillsync: %s\n", c.redact(err.Error()))
	return exitError
}

// cli holds the global flags and the environment shared by every command.
type cli struct {
	env *env
	// account is --account: the one account a command works on (empty:
	// plan and sync run every account, the others want the only one).
	account string
	// legacyAccount is migrate --legacy-account.
	legacyAccount string
	// cfg is the configuration loadForStore read.
	cfg        *Config
	configPath string
	logFormat  string
	logLevel   string
	// secrets hides the configuration's secrets in what the command
	// prints; nil until a configuration has been read.
	secrets *secret.Set
}

// redact hides the secrets of the configuration read so far in s.
func (c *cli) redact(s string) string {
	if c.secrets == nil {
		return s
	}
	return c.secrets.Replace(s)
}

// remember notes the secrets of cfg for redact. It is called as soon as a
// configuration is decoded, valid or not.
func (c *cli) remember(cfg *Config) {
	if cfg != nil {
		c.secrets = secret.NewSet(configSecrets(cfg)...)
	}
}

func newRootCommand(e *env) *cobra.Command {
	root, _ := newRoot(e)
	return root
}

// newRoot builds the command tree and returns the cli its commands share.
func newRoot(e *env) (*cobra.Command, *cli) {
	c := &cli{env: e}
	root := &cobra.Command{
		Use:   "skillsync",
		Short: "Keep LivePerson skills and agent skill assignments in line with HR",
		Long: `skillsync keeps the skills of a LivePerson (Conversational Cloud) account, and the
skills its agents hold, in line with an HR system. It runs as a daemon on a cron
schedule (skillsync run), or once by hand (skillsync plan, skillsync sync), and
records every run in PostgreSQL.

Plans, tables and JSON go to standard output; logs go to standard error.
Exit codes: 0 success, 1 error, 2 changes pending (plan --detailed-exitcode),
3 refused by a guard, 4 a stored plan is stale (apply: nothing applied).`,
		Example: `  # See it work end to end, with nothing to set up:
  skillsync demo

  # Check a configuration, then see what a run would change:
  skillsync config check --config /etc/skillsync/config.yaml
  skillsync plan --config /etc/skillsync/config.yaml`,
		Version:       currentBuild().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(versionTemplate)
	pf := root.PersistentFlags()
	pf.StringVar(&c.configPath, "config", "", "configuration file (default $SKILLSYNC_CONFIG, else ./config.yaml)")
	pf.StringVar(&c.logFormat, "log-format", "", "log format: auto (text on a terminal, JSON otherwise), text or json (default: log.format, else auto); colours only on a terminal, never with NO_COLOR set")
	pf.StringVar(&c.logLevel, "log-level", "", "log level: debug, info, warn or error (default: log.level, else info)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage", err, cmd.CommandPath())
	})

	root.AddCommand(
		c.planCommand(),
		c.syncCommand(),
		c.applyCommand(),
		c.runCommand(),
		c.migrateCommand(),
		c.runsCommand(),
		c.configCommand(),
		c.releaseCommand(),
		c.demoCommand(),
		c.versionCommand(),
	)
	return root, c
}

// path is the configuration file to read.
func (c *cli) path() string {
	if c.configPath != "" {
		return c.configPath
	}
	if p, ok := c.env.lookupEnv("SKILLSYNC_CONFIG"); ok && p != "" {
		return p
	}
	return "config.yaml"
}

// load reads and validates the configuration and builds the logger (the
// flags override log.format and log.level).
func (c *cli) load() (*Config, *slog.Logger, error) { return c.loadThen(nil) }

// loadThen is load, calling first (when set) with the logger before the
// configuration's warnings are logged: the daemon's first line is the one
// naming its version.
func (c *cli) loadThen(first func(*slog.Logger)) (*Config, *slog.Logger, error) {
	cfg, file, err := loadConfig(c.path(), c.env.lookupEnv)
	c.remember(cfg)
	if err != nil {
		c.warnConfig(nil, file)
		return nil, nil, err
	}
	log, err := c.logger(cfg.Log, configSecrets(cfg))
	if err != nil {
		return nil, nil, err
	}
	if first != nil {
		first(log)
	}
	c.warnConfig(log, file)
	return cfg, log, nil
}

// warnConfig logs the configuration's warnings (an unset ${VAR} whose key
// keeps its default, secrets in a file others may read). With no logger
// (the configuration did not load) they go through one built from the
// flags alone, before the command fails.
func (c *cli) warnConfig(log *slog.Logger, file *configFile) {
	if file == nil || len(file.warnings) == 0 {
		return
	}
	if log == nil {
		var err error
		if log, err = c.logger(LogConfig{Format: "auto", Level: "info"}, nil); err != nil {
			return
		}
	}
	for _, w := range file.warnings {
		log.Warn("configuration: " + c.redact(w))
	}
}

// logger builds the logger from the config's log section and the flags.
func (c *cli) logger(lc LogConfig, secrets []string) (*slog.Logger, error) {
	format, level := lc.Format, lc.Level
	if c.logFormat != "" {
		format = c.logFormat
	}
	if c.logLevel != "" {
		level = c.logLevel
	}
	return newLogger(c.env.stderr, format, level, secrets, colorOn(c.env.stderr, c.env.lookupEnv))
}

// formatFlag validates a --format value.
func formatFlag(v string) error {
	if v != "text" && v != "json" {
		return fmt.Errorf("--format %q: want text or json", v)
	}
	return nil
}
