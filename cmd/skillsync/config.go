package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/liveperson"
	"github.com/skillsync/skillsync/sync"
	"github.com/skillsync/skillsync/sync/notify"
)

// Config is the whole configuration file (see config.example.yaml, where
// every key is documented).
type Config struct {
	// Schedule is a cron spec (5 fields) or a descriptor (@every 10m, @hourly).
	Schedule string `yaml:"schedule"`
	// Timezone is the IANA zone the schedule is read in.
	Timezone string `yaml:"timezone"`
	// RunAtStart runs once as soon as the daemon has started.
	RunAtStart bool `yaml:"run_at_start"`
	// ShutdownTimeout bounds how long a running run may take to finish after
	// SIGTERM before it is cancelled.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	Database DatabaseConfig `yaml:"database"`
	Log      LogConfig      `yaml:"log"`
	Server   ServerConfig   `yaml:"server"`

	LivePerson  liveperson.Config      `yaml:"liveperson"`
	HR          hrsource.Config        `yaml:"hr"`
	Skills      sync.SkillsConfig      `yaml:"skills"`
	Assignments sync.AssignmentsConfig `yaml:"assignments"`
	Sync        sync.SyncConfig        `yaml:"sync"`

	// Notify is where skillsync tells people about runs (design §7.3).
	Notify notify.Config `yaml:"notify"`

	// Accounts, when set, are the LivePerson accounts served (accounts.go);
	// without it the blocks above are one account named default.
	Accounts []AccountConfig `yaml:"accounts,omitempty"`
	Daemon   DaemonConfig    `yaml:"daemon"`
}

// DatabaseConfig is the `database:` section.
type DatabaseConfig struct {
	// URL is a PostgreSQL connection string (URL or key=value form).
	URL string `yaml:"url"`
}

// LogConfig is the `log:` section; the --log-format and --log-level flags
// override it.
type LogConfig struct {
	Format string `yaml:"format"` // auto | text | json
	Level  string `yaml:"level"`  // debug | info | warn | error
}

// ServerConfig is the `server:` section of the daemon's HTTP server.
type ServerConfig struct {
	Listen string `yaml:"listen"`
	// TriggerToken enables POST /v1/runs for callers that send it as a
	// bearer token; empty disables the endpoint.
	TriggerToken string `yaml:"trigger_token"`
	// TLSCertFile and TLSKeyFile (PEM), both or neither, serve every
	// endpoint over HTTPS; the console's session cookie is then Secure.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// UserHeader names the request header that carries the signed-in user
	// when an authenticating proxy (oauth2-proxy, say) fronts the daemon:
	// an approval over HTTP is recorded as approved by its value (else
	// "token"). Empty: not read.
	UserHeader string `yaml:"user_header"`
}

// TLS says whether the server serves HTTPS.
func (s ServerConfig) TLS() bool { return s.TLSCertFile != "" }

// Defaults of the settings this package owns.
const (
	defaultSchedule        = "@every 1h"
	defaultTimezone        = "UTC"
	defaultShutdownTimeout = 30 * time.Second
	defaultListen          = "127.0.0.1:9090"
	// minTriggerTokenLength is the shortest server.trigger_token accepted.
	minTriggerTokenLength = 16
)

// defaultConfig is the configuration before the file is read: decoding on
// top of it keeps every key the file leaves out at its default, and every
// value the file sets is used as written. That matters for the sync and
// assignments guards, where 0 is a real setting (max_deletes: 0 freezes
// deletes): nothing re-applies their defaults after decoding.
func defaultConfig() Config {
	return Config{
		Schedule:        defaultSchedule,
		Timezone:        defaultTimezone,
		ShutdownTimeout: defaultShutdownTimeout,
		Log:             LogConfig{Format: "auto", Level: "info"},
		Server:          ServerConfig{Listen: defaultListen},
		LivePerson:      liveperson.Config{}.WithDefaults(),
		HR:              hrsource.Config{}.WithDefaults(),
		Skills:          sync.SkillsConfig{NameMaxLength: sync.DefaultNameMaxLength},
		Assignments:     sync.DefaultAssignmentsConfig(),
		Sync:            sync.DefaultSyncConfig(),
		Daemon:          DaemonConfig{Concurrency: defaultConcurrency},
	}
}

// cronParser accepts the 5-field specs and the descriptors (@hourly,
// @every 10m) the design promises, nothing else.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// configFile remembers where each key of a loaded file sits and which
// environment variables it referenced but found unset, so that a problem
// found after decoding can still point at a line and a cause.
type configFile struct {
	path  string
	lines map[string]int      // key path → line
	unset map[string][]string // key path → ${VARS} that were not set
	// emptied are the keys whose whole value was ${VARS} set to nothing,
	// with those variables: the key keeps its default.
	emptied map[string][]string
	// unreadable are ${file:PATH} references that could not be read, by
	// key path.
	unreadable map[string][]string
	// literalSecrets are the key paths whose secret is written in the
	// file itself (not a ${VAR} or ${file:PATH} reference).
	literalSecrets []string
	// warnings are problems that do not stop the configuration from
	// being used (unset variables of keys with a safe default, a file
	// others may read): every command logs them.
	warnings []string
	// failed is set when decoding had problems (parseConfig): unknown
	// keys or wrong types.
	failed bool
	// expansion are the problems of ${VAR} and ${file:PATH} references
	// (expansionProblems), by key: the key is then empty, and the rest
	// of the file decoded as meant.
	expansion []keyProblem
}

// keyProblem is a problem of one key, formatted with its file and line.
type keyProblem struct{ key, msg string }

// strictUnsetPrefixes are the sections where an unset ${VAR} is an error,
// not a warning: their defaults are not a safe fallback. An unset
// sync.policy falls back to sync (deletes on), an unset guard to its
// default, an unset assignments key turns assignments off or changes
// who is matched, and skills decides what skillsync owns (rules and
// static skills are created, renamed and deleted, adopt_existing takes
// skills over).
var strictUnsetPrefixes = []string{"sync", "assignments", "skills"}

// strictUnset reports whether key is in one of strictUnsetPrefixes.
func strictUnset(key string) bool {
	for _, p := range strictUnsetPrefixes {
		if key == p || strings.HasPrefix(key, p+".") || strings.HasPrefix(key, p+"[") {
			return true
		}
	}
	return false
}

// ConfigError lists every problem found in a configuration file, each
// prefixed with file:line and key path where known.
type ConfigError struct {
	Path     string
	Problems []string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration %s (%d problem", e.Path, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// loadConfig reads, expands, strictly decodes and validates the file at
// path. lookup is os.LookupEnv outside tests. A *ConfigError lists every
// problem, those of decoding (unknown keys, wrong types, unreadable
// ${file:PATH}, unset ${VARS} where no default is safe) and of validation
// together, in the order of the file. The decoded Config is returned with
// it whenever the file is YAML (config check prints it); file.decodeFailed
// says whether decoding itself had problems. Warnings (file.warnings) do
// not make an error.
func loadConfig(path string, lookup func(string) (string, bool)) (*Config, *configFile, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("config file %s not found: pass --config PATH or set SKILLSYNC_CONFIG, start from config.example.yaml, or try `skillsync demo` first", path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	cfg, file, err := parseConfig(path, raw, lookup)
	var ce *ConfigError
	if cfg == nil || err != nil && !errors.As(err, &ce) {
		return nil, file, err
	}
	file.checkMode()
	var problems []string
	if ce != nil {
		problems = ce.Problems
	}
	problems = append(problems, file.annotate(cfg.Validate())...)
	if len(problems) > 0 {
		return cfg, file, &ConfigError{Path: path, Problems: sortProblems(problems)}
	}
	return cfg, file, nil
}

// decodeFailed reports whether decoding the file had problems (unknown
// keys, wrong types; see parseConfig): its Config is then only partly
// what was meant. A ${VAR} or ${file:PATH} that could not be expanded
// is not one: only its key is empty (file.expansion).
func (f *configFile) decodeFailed() bool { return f != nil && f.failed }

// sortProblems orders problems by their line in the file (stable; those
// without a line keep their place at the end).
func sortProblems(problems []string) []string {
	line := func(p string) int {
		if m := problemLine.FindStringSubmatch(p); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return int(^uint(0) >> 1)
	}
	slices.SortStableFunc(problems, func(a, b string) int { return line(a) - line(b) })
	return problems
}

var problemLine = regexp.MustCompile(`^[^\n]*?:(\d+): `)

// checkMode warns when the file holds secrets written in it (not taken
// from the environment or from files) and group or others may read it.
func (f *configFile) checkMode() {
	if len(f.literalSecrets) == 0 {
		return
	}
	st, err := os.Stat(f.path)
	if err != nil || st.Mode().Perm()&0o044 == 0 {
		return
	}
	f.warnings = append(f.warnings, fmt.Sprintf("%s is readable by group or others (mode %04o) and holds secrets written in it (%s): "+
		"make it readable by its owner only (chmod 600), or take the secrets from the environment (${VAR}) or from files (${file:/run/secrets/NAME})",
		f.path, st.Mode().Perm(), strings.Join(f.literalSecrets, ", ")))
}

// parseConfig decodes raw without validating it. It returns the Config
// whenever raw is YAML; a *ConfigError then lists the problems of
// decoding (the Config holds what could be decoded).
func parseConfig(path string, raw []byte, lookup func(string) (string, bool)) (*Config, *configFile, error) {
	file := &configFile{path: path, lines: map[string]int{}, unset: map[string][]string{}, emptied: map[string][]string{},
		unreadable: map[string][]string{}}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, file, &ConfigError{Path: path, Problems: []string{fmt.Sprintf("%s: %s (the file is not valid YAML)", path, strings.TrimPrefix(err.Error(), "yaml: "))}}
	}
	cfg := defaultConfig()
	if len(root.Content) == 0 { // an empty file: every default
		cfg.fillDefaults()
		return &cfg, file, nil
	}
	byLine := map[int][]string{}
	file.walk(root.Content[0], "", byLine, lookup)

	var problems []string
	// Unknown keys are found on the text as written: yaml.v3 only checks
	// them when decoding from a Decoder. The values are not expanded yet,
	// so its other complaints are left to the real decoding below.
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var probe Config
	if err := dec.Decode(&probe); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, file, &ConfigError{Path: path, Problems: []string{fmt.Sprintf("%s: %v", path, err)}}
		}
		for _, msg := range te.Errors {
			if strings.Contains(msg, "not found in type") {
				problems = append(problems, file.yamlProblem(msg, byLine))
			}
		}
	}
	if err := root.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, file, &ConfigError{Path: path, Problems: []string{fmt.Sprintf("%s: %v", path, err)}}
		}
		for _, msg := range te.Errors {
			problems = append(problems, file.yamlProblem(msg, byLine))
		}
	}
	cfg.decodeAccountBlocks(root.Content[0])
	file.failed = len(problems) > 0
	file.expansion = file.expansionProblems()
	for _, p := range file.expansion {
		problems = append(problems, p.msg)
	}
	cfg.fillDefaults()
	if len(problems) > 0 {
		return &cfg, file, &ConfigError{Path: path, Problems: sortProblems(problems)}
	}
	return &cfg, file, nil
}

// expansionProblems reports the ${file:PATH} references that could not be
// read, and the unset ${VARS} of keys whose default is not a safe
// fallback (strictUnset); the other unset ${VARS} become warnings.
func (f *configFile) expansionProblems() []keyProblem {
	var out []keyProblem
	for _, key := range slices.Sorted(maps.Keys(f.unreadable)) {
		for _, why := range f.unreadable[key] {
			out = append(out, keyProblem{key, f.at(key, why)})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(f.unset)) {
		vars := "${" + strings.Join(f.unset[key], "}, ${") + "}"
		if strictUnset(key) {
			section, _, _ := strings.Cut(key, ".")
			section, _, _ = strings.Cut(section, "[")
			out = append(out, keyProblem{key, f.at(key, fmt.Sprintf("%s is not set in the environment, and for a key under %s the default is no safe fallback: set it, or write the value in the file", vars, section))})
			continue
		}
		f.warnings = append(f.warnings, f.at(key, vars+" is not set in the environment; the key keeps its default"))
	}
	// Set to nothing (a Helm value or compose variable left out often
	// arrives so) is a choice, but under the strict sections it has the
	// effect an unset one would have, so it is said.
	for _, key := range slices.Sorted(maps.Keys(f.emptied)) {
		if strictUnset(key) {
			f.warnings = append(f.warnings, f.at(key, "${"+strings.Join(f.emptied[key], "}, ${")+"} is set but empty; the key keeps its default"))
		}
	}
	return out
}

// at formats msg about key as "file:line: key: msg".
func (f *configFile) at(key, msg string) string { return f.locate(key, key+": "+msg) }

// locate prefixes msg, which is about key, with "file:line: ".
func (f *configFile) locate(key, msg string) string {
	line := 0
	for p := key; p != "" && line == 0; p = parentPath(p) {
		line = f.lines[p]
	}
	switch {
	case f.path == "":
		return msg
	case line > 0:
		return fmt.Sprintf("%s:%d: %s", f.path, line, msg)
	}
	return fmt.Sprintf("%s: %s", f.path, msg)
}

// fillDefaults lets the adapters fill what depends on other keys (an
// explicit `hr.type` changes which defaults apply, for instance). The sync
// and assignments sections are not among them: their defaults were in
// place before decoding, and an explicit 0 must stay 0. Their
// WithDefaults fill only an empty policy or match, which has no meaning of
// its own (policy: "" is what an unset ${VAR} leaves).
func (c *Config) fillDefaults() {
	c.LivePerson = c.LivePerson.WithDefaults()
	c.HR = c.HR.WithDefaults()
	c.Assignments = c.Assignments.WithDefaults()
	c.Sync = c.Sync.WithDefaults()
	c.Notify = c.Notify.WithDefaults()
}

// envRef matches ${VAR} and ${file:PATH}.
var envRef = regexp.MustCompile(`\$\{(file:[^}]*|[A-Za-z_][A-Za-z0-9_]*)\}`)

// walk records the line of every key, and expands ${VAR} and
// ${file:PATH} in scalar values in place. Expanding values in the parsed
// tree, rather than in the text, keeps a secret containing `: ` or `#`
// from changing the YAML's structure and keeps line numbers exact, and
// what a variable or file holds is never expanded again. An unset
// variable becomes the empty string (the key's default then applies, and
// Validate reports it if required; expansionProblems says more). A file
// is read whole, one trailing newline dropped (secrets mounted by
// Kubernetes, Docker or systemd's LoadCredential often end with one).
func (f *configFile) walk(n *yaml.Node, path string, byLine map[int][]string, lookup func(string) (string, bool)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			f.lines[p] = k.Line
			byLine[k.Line] = append(byLine[k.Line], p)
			f.walk(v, p, byLine, lookup)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			f.lines[p] = v.Line
			byLine[v.Line] = append(byLine[v.Line], p)
			f.walk(v, p, byLine, lookup)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			if n.Value != "" && literalSecret(path, n.Value) {
				f.literalSecrets = append(f.literalSecrets, path)
			}
			return
		}
		var refs []string
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			if file, ok := strings.CutPrefix(name, "file:"); ok {
				v, err := readSecretFile(file)
				if err != nil {
					f.unreadable[path] = append(f.unreadable[path], err.Error())
				}
				return v
			}
			v, ok := lookup(name)
			if !ok {
				f.unset[path] = append(f.unset[path], name)
			}
			refs = append(refs, name)
			return v
		})
		if n.Value == "" && len(refs) > 0 && len(f.unset[path])+len(f.unreadable[path]) == 0 {
			f.emptied[path] = refs
		}
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			// A plain scalar is typed by its expanded value: `batch_size:
			// ${N}` is an int, and an unset variable is null (the default).
			n.Tag = ""
		}
	}
}

// readSecretFile reads a ${file:PATH} reference: the whole file, less one
// trailing newline.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("${file:} names no file: write ${file:/run/secrets/NAME}")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("${file:%s} cannot be read (relative paths start from the working directory): %w", path, err)
	}
	v := string(b)
	if t, ok := strings.CutSuffix(v, "\n"); ok {
		v = strings.TrimSuffix(t, "\r")
	}
	return v, nil
}

// literalSecret reports whether value, written in the file at key path,
// is a secret: the key names one (client_secret, password, trigger_token,
// an Authorization header, ...) or the value is a connection string with a
// password.
func literalSecret(path, value string) bool {
	if strings.HasSuffix(path, "]") {
		return false
	}
	last := path[strings.LastIndex(path, ".")+1:]
	return secret.Key(last) || len(secret.OfURL(value)) > 0 || notifySinkURL.MatchString(path)
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)
var unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlProblem turns a yaml.v3 message into "file:line: key.path: what".
func (f *configFile) yamlProblem(msg string, byLine map[int][]string) string {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Sprintf("%s: %s", f.path, msg)
	}
	line, _ := strconv.Atoi(m[1])
	what := m[2]
	paths := byLine[line]
	if u := unknownField.FindStringSubmatch(what); u != nil {
		for _, p := range paths {
			if p == u[1] || strings.HasSuffix(p, "."+u[1]) {
				return fmt.Sprintf("%s:%d: %s: unknown key (check its spelling and place against config.example.yaml)", f.path, line, p)
			}
		}
		return fmt.Sprintf("%s:%d: %s: unknown key (check its spelling and place against config.example.yaml)", f.path, line, u[1])
	}
	if len(paths) > 0 {
		// The deepest key on the line is the one whose value is wrong.
		p := slices.MaxFunc(paths, func(a, b string) int { return len(a) - len(b) })
		return fmt.Sprintf("%s:%d: %s: %s", f.path, line, p, what)
	}
	return fmt.Sprintf("%s:%d: %s", f.path, line, what)
}

// annotate formats validation errors (each "key.path: what") with the line
// of the key and the unset variables it referenced.
func (f *configFile) annotate(errs []error) []string {
	if f == nil {
		f = &configFile{}
	}
	out := make([]string, 0, len(errs))
	for _, err := range errs {
		msg := err.Error()
		key, _, _ := strings.Cut(msg, ": ")
		var vars []string
		for p := key; p != "" && vars == nil; p = parentPath(p) {
			vars = f.unset[p]
		}
		if len(vars) > 0 {
			msg += fmt.Sprintf(" (${%s} is not set in the environment)", strings.Join(vars, "}, ${"))
		}
		out = append(out, f.locate(key, msg))
	}
	return out
}

// parentPath is "a.b" for "a.b.c" and "a.b" for "a.b[3]".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Validate returns every problem of the configuration, each naming its key
// path. It compiles the rules and expressions and checks that files exist,
// but makes no network call.
func (c *Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	if _, err := cronParser.Parse(c.Schedule); err != nil {
		add("schedule", "%q is not a cron spec (5 fields like \"0 * * * *\", or a descriptor like \"@every 1h\", \"@daily\"): %v", c.Schedule, err)
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		add("timezone", "%q is not an IANA time zone name (e.g. UTC, Europe/Paris)", c.Timezone)
	}
	if c.ShutdownTimeout <= 0 {
		add("shutdown_timeout", "must be a positive duration such as 30s")
	}
	if c.Database.URL == "" {
		add("database.url", "required: a PostgreSQL URL such as postgres://skillsync@db.internal/skillsync")
	} else if _, err := pgconn.ParseConfig(c.Database.URL); err != nil {
		add("database.url", "not a PostgreSQL connection string: %s", secret.Text(err.Error(), secret.OfURL(c.Database.URL)))
	}
	if !slices.Contains([]string{"auto", "text", "json"}, c.Log.Format) {
		add("log.format", "%q: want auto, text or json", c.Log.Format)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		add("log.level", "%v", err)
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		add("server.listen", "%q is not host:port (e.g. 127.0.0.1:9090, :9090): %v", c.Server.Listen, err)
	}
	if h := c.Server.UserHeader; h != "" && !headerName(h) {
		add("server.user_header", "%q is not an HTTP header name (e.g. X-Forwarded-User, X-Auth-Request-User)", h)
	}
	if n := utf8.RuneCountInString(c.Server.TriggerToken); n > 0 && n < minTriggerTokenLength {
		// Whoever has the token can start runs: it must not be guessable.
		add("server.trigger_token", "%d characters; it must be at least %d (a long random value, e.g. from `openssl rand -hex 32`), or empty to turn POST /v1/runs off",
			n, minTriggerTokenLength)
	}

	errs = append(errs, c.Server.validateTLS()...)
	errs = append(errs, c.validateAccounts()...)
	errs = append(errs, c.Notify.Validate()...)
	if c.accountsLive() {
		// Each account's blocks, and the top-level ones it inherits.
		return errs
	}
	errs = append(errs, c.LivePerson.Validate()...)
	errs = append(errs, c.HR.Validate()...)
	errs = append(errs, validateHRFile(c.HR)...)
	errs = append(errs, validateEngine(c.engine())...)
	errs = append(errs, c.AccountList()[0].matchFieldErrors()...)
	return errs
}

// validateHRFile reports a file-based HR source whose file is missing now,
// rather than at the first scheduled run an hour later.
func validateHRFile(hr hrsource.Config) []error {
	switch hr.Type {
	case "csv", "json", "jsonl":
	default:
		return nil
	}
	if hr.Path == "" {
		return nil // hrsource.Validate reports it
	}
	st, err := os.Stat(hr.Path)
	switch {
	case err != nil:
		return []error{fmt.Errorf("hr.path: %s cannot be read (relative paths start from the working directory): %w", hr.Path, err)}
	case st.IsDir():
		return []error{fmt.Errorf("hr.path: %s is a directory, not a %s file", hr.Path, hr.Type)}
	}
	return nil
}

// validateEngine checks the skills, sync and assignments sections as the
// engine will (sync.Config.Check, which compiles the rules' templates and
// expressions), so that a typo fails `config check`, not the 3 a.m. run.
func validateEngine(engine sync.Config) []error {
	_, _, problems := engine.Check()
	var errs []error
	for _, err := range problems {
		var ce *sync.ConfigError
		if !errors.As(err, &ce) {
			errs = append(errs, err)
			continue
		}
		for _, p := range ce.Problems {
			errs = append(errs, errors.New(p))
		}
	}
	return errs
}

// engine is the part of the configuration the sync engine reads.
func (c *Config) engine() sync.Config {
	loc, _ := time.LoadLocation(c.Timezone) // checked by Validate; "" is UTC
	return sync.Config{Skills: c.Skills, Assignments: c.Assignments, Sync: c.Sync, Location: loc}
}

// engineFor is the engine's configuration of account a.
func (c *Config) engineFor(a Account) sync.Config {
	e := c.engine()
	e.Skills, e.Assignments, e.Sync = a.Skills, a.Assignments, a.Sync
	return e
}

// validateTLS checks server.tls_cert_file and server.tls_key_file: both or
// neither, readable, and a certificate with its key.
func (s ServerConfig) validateTLS() []error {
	switch {
	case s.TLSCertFile == "" && s.TLSKeyFile == "":
		return nil
	case s.TLSCertFile == "":
		return []error{fmt.Errorf("server.tls_cert_file: required with server.tls_key_file (both or neither)")}
	case s.TLSKeyFile == "":
		return []error{fmt.Errorf("server.tls_key_file: required with server.tls_cert_file (both or neither)")}
	}
	var errs []error
	for _, f := range []struct{ key, path string }{{"server.tls_cert_file", s.TLSCertFile}, {"server.tls_key_file", s.TLSKeyFile}} {
		if _, err := os.ReadFile(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if _, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile); err != nil {
		// The error names neither file's content, only what is wrong.
		return []error{fmt.Errorf("server.tls_cert_file, server.tls_key_file: not a PEM certificate and its private key: %v", err)}
	}
	return nil
}
