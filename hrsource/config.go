package hrsource

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Source types (hr.type).
const (
	TypeCSV      = "csv"
	TypeJSON     = "json"
	TypeJSONL    = "jsonl"
	TypeHTTP     = "http"
	TypePostgres = "postgres"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultDelimiter = ","
	DefaultFormat    = "json"
	DefaultTimeout   = 30 * time.Second
	DefaultMaxErrors = 50
)

// DefaultRetryDelays are the waits before retrying an HTTP request that failed
// with a 5xx status or a transport error.
var DefaultRetryDelays = []time.Duration{1 * time.Second, 5 * time.Second, 15 * time.Second}

// Config is the `hr:` section of the configuration.
type Config struct {
	// Type is csv, json, jsonl, http or postgres.
	Type string `yaml:"type"`
	// Path is the file read by the csv, json and jsonl sources.
	Path string `yaml:"path"`
	// Delimiter separates CSV fields (one character, default ",").
	Delimiter string `yaml:"delimiter"`

	// URL is the HTTPS endpoint of the http source.
	URL string `yaml:"url"`
	// Format is what the http source returns: json (default) or csv.
	Format string `yaml:"format"`
	// RecordsPath is the dotted path of the array of records inside a JSON
	// object, e.g. Report_Entry (Workday) or employees (BambooHR). Empty: the
	// document is the array itself.
	RecordsPath string `yaml:"records_path"`
	// NextPagePath is the dotted path, in a JSON page, of the URL of the next
	// page (empty or null on the last page). Link: rel="next" headers are
	// followed regardless.
	NextPagePath string `yaml:"next_page_path"`
	// Headers are sent with every request (e.g. Authorization: Bearer ${HR_TOKEN}).
	Headers map[string]string `yaml:"headers"`
	// Username and Password are HTTP basic-auth credentials.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds one HTTP attempt, or the whole Postgres read.
	Timeout time.Duration `yaml:"timeout"`
	// RetryDelays are the waits before each retry of a 5xx or transport error.
	RetryDelays []time.Duration `yaml:"retry_delays"`

	// Query is the SELECT of the postgres source, one row per person.
	Query string `yaml:"query"`
	// DatabaseURL is the HR database of the postgres source.
	DatabaseURL string `yaml:"database_url"`

	// Fields maps record fields onto columns (dotted paths for nested JSON).
	Fields FieldsConfig `yaml:"fields"`
	// Active is an expr-lang expression over a record's attributes deciding
	// whether the person is active (empty: everyone is).
	Active string `yaml:"active"`
	// MultiValue maps a multi-valued column to its separator.
	MultiValue map[string]string `yaml:"multi_value"`
	// StatsAttributes are the columns whose values are counted in the
	// snapshot statistics (for the source-health guard and the status page).
	StatsAttributes []string `yaml:"stats_attributes"`
	// MaxErrors bounds the problems reported for one bad feed (default 50).
	MaxErrors int `yaml:"max_errors"`
}

// FieldsConfig names the columns holding the record fields.
type FieldsConfig struct {
	ID        string `yaml:"id"`
	Email     string `yaml:"email"`
	LoginName string `yaml:"login_name"`
	Name      string `yaml:"name"`
	// EmployeeID names the column of the employee id LivePerson keeps on
	// the user (employeeId): assignments send it back on every user
	// update, because the Users API masks it on read.
	EmployeeID string `yaml:"employee_id"`
}

// Options are the dependencies of a source.
type Options struct {
	// HTTPClient is used by the http source instead of one built from the
	// config (ca_file is then ignored: the client decides what it trusts).
	HTTPClient *http.Client
	// Logger receives debug lines about pages and retries (default: discard).
	// Every line is logged with the context given to Read, so a handler can
	// add what that context carries (the run's run_id).
	Logger *slog.Logger
}

// WithDefaults returns c with empty settings replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.Delimiter == "" {
		c.Delimiter = DefaultDelimiter
	}
	if c.Type == TypeHTTP && c.Format == "" {
		c.Format = DefaultFormat
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryDelays == nil {
		c.RetryDelays = append([]time.Duration(nil), DefaultRetryDelays...)
	}
	if c.MaxErrors == 0 {
		c.MaxErrors = DefaultMaxErrors
	}
	return c
}

// Validate reports every problem of the configuration, each naming its key
// path ("hr.fields.id: required ..."). Call it on the result of WithDefaults.
func (c Config) Validate() []error {
	errs := c.validate()
	if _, err := compileActive(c.Active, c.MultiValue); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// validate is Validate without compiling hr.active, which New compiles
// once for good.
func (c Config) validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("hr.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch c.Type {
	case TypeCSV, TypeJSON, TypeJSONL:
		if c.Path == "" {
			add("path", "required for type %s: the file to read", c.Type)
		}
	case TypeHTTP:
		c.validateHTTP(add)
	case TypePostgres:
		if strings.TrimSpace(c.Query) == "" {
			add("query", "required for type postgres: a SELECT returning one row per person")
		}
		if c.DatabaseURL == "" {
			add("database_url", "required for type postgres: the HR database, e.g. postgres://reader@hr-db/hr")
		} else if _, err := pgx.ParseConfig(c.DatabaseURL); err != nil {
			// The parse error may quote the URL; say only that it is wrong.
			add("database_url", "not a valid PostgreSQL URL or connection string")
		}
	case "":
		add("type", "required: one of csv, json, jsonl, http, postgres")
	default:
		add("type", "unknown type %q: use one of csv, json, jsonl, http, postgres", c.Type)
	}
	if c.Type == TypeCSV || (c.Type == TypeHTTP && c.Format == "csv") {
		if r, n := utf8.DecodeRuneInString(c.Delimiter); n == 0 || n != len(c.Delimiter) || r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
			add("delimiter", "must be a single character other than a quote or line break, got %q", c.Delimiter)
		}
	}
	if c.Fields.ID == "" {
		add("fields.id", "required: the column (or dotted JSON path) holding each person's unique id")
	}
	for col, sep := range c.MultiValue {
		if sep == "" {
			add("multi_value."+col, "separator must not be empty")
		}
	}
	if c.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	for i, d := range c.RetryDelays {
		if d < 0 {
			add(fmt.Sprintf("retry_delays[%d]", i), "must not be negative")
		}
	}
	if c.MaxErrors < 0 {
		add("max_errors", "must not be negative")
	}
	return errs
}

func (c Config) validateHTTP(add func(key, format string, args ...any)) {
	if c.URL == "" {
		add("url", "required for type http: the HTTPS endpoint of the HR report")
	} else if u, err := url.Parse(c.URL); err != nil || u.Host == "" {
		add("url", "not an absolute URL")
	} else if u.Scheme != "https" {
		add("url", "must use https (HR data is personal data), got %s", u.Scheme)
	} else if u.User != nil {
		add("url", "must not carry credentials: use hr.username/hr.password or hr.headers")
	}
	if c.Format != "json" && c.Format != "csv" {
		add("format", "must be json or csv, got %q", c.Format)
	}
	if c.Format == "csv" && c.NextPagePath != "" {
		add("next_page_path", "only applies to format json (CSV pages are followed through Link headers)")
	}
	if c.Password != "" && c.Username == "" {
		add("username", "required when hr.password is set (basic auth)")
	}
	for name, value := range c.Headers {
		if name == "" || strings.ContainsAny(name, " :\r\n\t") {
			add("headers", "invalid header name %q", name)
		}
		if strings.ContainsAny(value, "\r\n") {
			add("headers."+name, "value must not contain line breaks")
		}
	}
}

// joinConfigErrors turns Validate's list into one error.
func joinConfigErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid hr configuration: %w", errors.Join(errs...))
}
