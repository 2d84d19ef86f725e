package hrsource

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
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
	// The vendor connectors: presets over the http source.
	TypeWorkday        = "workday"
	TypeBambooHR       = "bamboohr"
	TypeSuccessFactors = "successfactors"
)

// typeList names the types for messages.
const typeList = "csv, json, jsonl, http, postgres, workday, bamboohr, successfactors"

// Defaults applied by Config.WithDefaults.
const (
	DefaultDelimiter = ","
	DefaultFormat    = "json"
	DefaultTimeout   = 30 * time.Second
	DefaultMaxErrors = 50
	// DefaultMaxPages and DefaultMaxBytes bound what one read of an HTTP
	// feed may fetch (all pages together); more is an error, never a
	// truncated feed.
	DefaultMaxPages = 10000
	DefaultMaxBytes = ByteSize(512 << 20)
	// DefaultMaxRetryWait bounds the wait a 429 or 503 answer may ask for
	// in Retry-After (SuccessFactors asks for 5 minutes).
	DefaultMaxRetryWait = 5 * time.Minute
	// DefaultEventDebounce is hr.event_debounce when unset.
	DefaultEventDebounce = 10 * time.Second
)

// DefaultRetryDelays are the waits before retrying an HTTP request that failed
// with a 5xx status or a transport error.
var DefaultRetryDelays = []time.Duration{1 * time.Second, 5 * time.Second, 15 * time.Second}

// Config is the `hr:` section of the configuration.
type Config struct {
	// Type is csv, json, jsonl, http, postgres, or a vendor connector:
	// workday, bamboohr, successfactors.
	Type string `yaml:"type"`
	// Path is the file read by the csv, json and jsonl sources.
	Path string `yaml:"path"`
	// Delimiter separates CSV fields (one character, default ",").
	Delimiter string `yaml:"delimiter"`

	// URL is the HTTPS endpoint of the http source; for workday the
	// report's URL, for successfactors the OData v2 entity URL, for
	// bamboohr an override of the custom report endpoint.
	URL string `yaml:"url"`
	// Subdomain is the BambooHR company subdomain (acme for
	// acme.bamboohr.com).
	Subdomain string `yaml:"subdomain"`
	// Auth is how the http source and the vendor connectors authenticate.
	Auth AuthConfig `yaml:"auth"`
	// HTTPMethod is GET (default) or POST; Body is sent with a POST (with
	// Content-Type application/json unless hr.headers says otherwise),
	// to every page.
	HTTPMethod string `yaml:"http_method"`
	Body       string `yaml:"body"`
	// Filter is the OData $filter of successfactors, e.g.
	// status in 't','f'.
	Filter string `yaml:"filter"`
	// Columns adds columns read at a path of each JSON record (name →
	// path, e.g. Department: empInfo/jobInfoNav/results/0/department).
	Columns map[string]string `yaml:"columns"`
	// MaxPages and MaxBytes bound one read of an HTTP feed, all pages
	// together; MaxRetryWait bounds a Retry-After.
	MaxPages     int           `yaml:"max_pages"`
	MaxBytes     ByteSize      `yaml:"max_bytes"`
	MaxRetryWait time.Duration `yaml:"max_retry_wait"`
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
	// Username and Password are HTTP basic-auth credentials (the older
	// spelling of hr.auth with method basic).
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

	// DateFormat is the Go layout of hr.fields.start_date and end_date
	// (default 2006-01-02); RFC 3339 timestamps are always accepted.
	DateFormat string `yaml:"date_format"`
	// EventDebounce is how long after the last of a burst of HR events
	// (POST /v1/hr-events) the run they ask for starts (default 10s).
	EventDebounce time.Duration `yaml:"event_debounce"`
	// WebhookSecret is the HMAC-SHA256 key of X-Skillsync-Signature on
	// POST /v1/hr-events (empty: only the bearer token is accepted).
	WebhookSecret string `yaml:"webhook_secret"`

	// loc is the zone dates are read in (Options.Location).
	loc *time.Location
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
	// StartDate and EndDate name the columns of the first and the last
	// day (inclusive) a record is in force (optional, see hr.date_format).
	StartDate string `yaml:"start_date"`
	EndDate   string `yaml:"end_date"`
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
	// Columns are the record columns the caller reads besides those the
	// hr section names: the skills rules' attributes (as dotted paths
	// where they reach inside a value, see ExprColumns). The bamboohr and
	// successfactors connectors ask the vendor for these fields too.
	Columns []string
	// Location is the zone (config timezone) in which RFC 3339 timestamps
	// of hr.fields.start_date and end_date are taken to a day (default UTC).
	Location *time.Location
}

// WithDefaults returns c with empty settings replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.Delimiter == "" {
		c.Delimiter = DefaultDelimiter
	}
	if v := vendors[c.Type]; v != nil {
		c.Format = cmpOr(c.Format, "json")
		c.RecordsPath = cmpOr(c.RecordsPath, v.recordsPath)
		c.NextPagePath = cmpOr(c.NextPagePath, v.nextPagePath)
	}
	if c.Type == TypeHTTP && c.Format == "" {
		c.Format = DefaultFormat
	}
	if c.MaxPages == 0 {
		c.MaxPages = DefaultMaxPages
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxRetryWait == 0 {
		c.MaxRetryWait = DefaultMaxRetryWait
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
	if c.EventDebounce == 0 {
		c.EventDebounce = DefaultEventDebounce
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
	case TypeHTTP, TypeWorkday, TypeBambooHR, TypeSuccessFactors:
		c.validateHTTP(vendors[c.Type], add)
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
		add("type", "required: one of %s", typeList)
	default:
		add("type", "unknown type %q: use one of %s", c.Type, typeList)
	}
	if c.Subdomain != "" && c.Type != TypeBambooHR {
		add("subdomain", "only for type bamboohr")
	}
	switch c.Type {
	case TypeCSV, TypeJSON, TypeJSONL, TypePostgres:
		if c.Auth != (AuthConfig{}) {
			add("auth", "only for type http and the connectors (workday, bamboohr, successfactors)")
		}
		if c.HTTPMethod != "" {
			add("http_method", "only for type http")
		}
		if c.Body != "" {
			add("body", "only for type http")
		}
	}
	if c.Filter != "" && c.Type != TypeSuccessFactors {
		add("filter", "only for type successfactors (an OData $filter)")
	}
	c.validatePaths(add)
	c.validateDates(add)
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
	if c.MaxPages < 0 {
		add("max_pages", "must not be negative")
	}
	if c.MaxBytes < 0 {
		add("max_bytes", "must not be negative")
	}
	if c.MaxRetryWait < 0 {
		add("max_retry_wait", "must not be negative")
	}
	return errs
}

// jsonFeed says whether the source reads JSON records, where paths apply.
func (c Config) jsonFeed() bool {
	switch c.Type {
	case TypeJSON, TypeJSONL, TypeWorkday, TypeBambooHR, TypeSuccessFactors:
		return true
	case TypeHTTP:
		return c.Format != "csv"
	}
	return false
}

// eachField calls fn with the key and column of every field hr.fields
// maps. It reads FieldsConfig's yaml tags, so a field added there is never
// left out of what a vendor report is asked for.
func (f FieldsConfig) eachField(fn func(key, col string)) {
	v := reflect.ValueOf(f)
	for _, sf := range reflect.VisibleFields(v.Type()) {
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if col, ok := v.FieldByIndex(sf.Index).Interface().(string); ok && name != "" && name != "-" {
			fn(name, col)
		}
	}
}

// pathColumns lists the columns read at a path: hr.columns, and the
// hr.fields values holding a "/" (named as written). Call it on a valid
// configuration of a JSON feed.
func (c Config) pathColumns() []pathColumn {
	var out []pathColumn
	seen := map[string]bool{}
	c.Fields.eachField(func(key, col string) {
		if !isPath(col) || seen[col] {
			return
		}
		if p, err := parsePath(col); err == nil {
			seen[col] = true
			out = append(out, pathColumn{name: col, key: "hr.fields." + key, path: p, col: -1})
		}
	})
	for _, name := range sortedKeys(c.Columns) {
		if p, err := parsePath(c.Columns[name]); err == nil && !seen[name] {
			seen[name] = true
			out = append(out, pathColumn{name: name, key: "hr.columns." + name, path: p, col: -1})
		}
	}
	return out
}

// validatePaths checks the paths of hr.fields and hr.columns.
func (c Config) validatePaths(add func(key, format string, args ...any)) {
	if !c.jsonFeed() {
		if len(c.Columns) > 0 {
			add("columns", "only for JSON sources (paths reach into nested JSON values)")
		}
		return
	}
	c.Fields.eachField(func(key, col string) {
		if isPath(col) {
			if _, err := parsePath(col); err != nil {
				add("fields."+key, "not a valid path: %v", err)
			}
		}
	})
	for _, name := range sortedKeys(c.Columns) {
		if strings.TrimSpace(name) == "" {
			add("columns", "a column name must not be empty")
			continue
		}
		if _, err := parsePath(c.Columns[name]); err != nil {
			add("columns."+name, "not a valid path: %v", err)
		}
	}
}

// validateHTTP checks the http source, or the vendor connector v.
func (c Config) validateHTTP(v *vendor, add func(key, format string, args ...any)) {
	switch {
	case c.URL == "" && v == nil:
		add("url", "required for type http: the HTTPS endpoint of the HR report")
	case c.URL == "" && c.Type == TypeBambooHR:
		if c.Subdomain == "" {
			add("subdomain", "required for bamboohr: the company subdomain (acme for acme.bamboohr.com), or set hr.url")
		} else if !validSubdomain(c.Subdomain) {
			add("subdomain", "%q is not a subdomain: give the part before .bamboohr.com (letters, digits, dashes)", c.Subdomain)
		}
	case c.URL == "":
		add("url", "required for %s: %s", c.Type, v.urlHelp)
	default:
		c.validateURL(v, add)
	}
	if v != nil {
		if c.Format != "json" {
			add("format", "%s is read as JSON (skillsync asks for it), leave hr.format empty", c.Type)
		}
		if c.RecordsPath != v.recordsPath {
			add("records_path", "%s's records are at %q: leave hr.records_path empty", c.Type, v.recordsPath)
		}
		if c.NextPagePath != v.nextPagePath {
			add("next_page_path", "%s pages through %s: leave hr.next_page_path empty", c.Type, cmpOr(v.nextPagePath, "nothing (the report comes whole)"))
		}
		if c.HTTPMethod != "" {
			add("http_method", "%s builds its own request: remove it", c.Type)
		}
		if c.Body != "" {
			add("body", "%s builds its own request: remove it", c.Type)
		}
	} else {
		if c.Format != "json" && c.Format != "csv" {
			add("format", "must be json or csv, got %q", c.Format)
		}
		switch c.HTTPMethod {
		case "", http.MethodGet:
			if c.Body != "" {
				add("body", "is sent with a POST: set hr.http_method: POST")
			}
		case http.MethodPost:
		default:
			add("http_method", "must be GET or POST, got %q", c.HTTPMethod)
		}
	}
	if c.Format == "csv" && c.NextPagePath != "" {
		add("next_page_path", "only applies to format json (CSV pages are followed through Link headers)")
	}
	c.validateAuth(v, add)
	for name, value := range c.Headers {
		if name == "" || strings.ContainsAny(name, " :\r\n\t") {
			add("headers", "invalid header name %q", name)
		}
		if strings.ContainsAny(value, "\r\n") {
			add("headers."+name, "value must not contain line breaks")
		}
	}
}

// validateURL checks hr.url: HTTPS, no credentials, and the shape the
// vendor documents.
func (c Config) validateURL(v *vendor, add func(key, format string, args ...any)) {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || u.Host == "":
		add("url", "not an absolute URL")
		return
	case u.Scheme != "https":
		add("url", "must use https (HR data is personal data), got %s", u.Scheme)
		return
	case u.User != nil:
		add("url", "must not carry credentials: use hr.auth")
		return
	}
	switch c.Type {
	case TypeWorkday:
		if !strings.Contains(u.Path, "/ccx/service/") {
			add("url", "not a Workday report URL: %s", v.urlHelp)
		}
	case TypeSuccessFactors:
		_, entity, ok := strings.Cut(u.Path, "/odata/v2/")
		if !ok || entity == "" || strings.Contains(strings.Trim(entity, "/"), "/") {
			add("url", "not an OData v2 entity URL: %s", v.urlHelp)
		}
		if c.Filter != "" && u.Query().Has("$filter") {
			add("filter", "hr.url already has a $filter: keep one of them")
		}
	}
}

// validSubdomain accepts a DNS label.
func validSubdomain(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' && i > 0) {
			return false
		}
	}
	return s != "" && len(s) <= 63
}

// joinConfigErrors turns Validate's list into one error.
func joinConfigErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid hr configuration: %w", errors.Join(errs...))
}
