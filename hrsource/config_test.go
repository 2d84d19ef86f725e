package hrsource

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	const doc = `
type: http
url: https://hr.example.com/report
format: json
records_path: Report_Entry
next_page_path: links.next
headers: {Authorization: Bearer x}
username: u
password: p
ca_file: /etc/ssl/hr.pem
timeout: 45s
retry_delays: [1s, 2s]
fields: {id: Employee_ID, email: work.email, login_name: Login, name: Name}
active: 'Status == "Active"'
multi_value: {Languages: ";"}
stats_attributes: [Department]
max_errors: 10
`
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 45*time.Second || len(cfg.RetryDelays) != 2 || cfg.Fields.Email != "work.email" ||
		cfg.Fields.LoginName != "Login" || cfg.MultiValue["Languages"] != ";" || cfg.MaxErrors != 10 ||
		cfg.NextPagePath != "links.next" || cfg.CAFile != "/etc/ssl/hr.pem" || cfg.Headers["Authorization"] != "Bearer x" {
		t.Errorf("decoded %+v", cfg)
	}
	if errs := cfg.WithDefaults().Validate(); len(errs) != 0 {
		t.Errorf("Validate() = %v", errs)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Type: TypeHTTP}.WithDefaults()
	if c.Delimiter != "," || c.Format != "json" || c.Timeout != DefaultTimeout || len(c.RetryDelays) != 3 || c.MaxErrors != 50 {
		t.Errorf("defaults = %+v", c)
	}
	if c := (Config{Type: TypeCSV, RetryDelays: []time.Duration{}}).WithDefaults(); c.Format != "" || len(c.RetryDelays) != 0 {
		t.Errorf("defaults overrode settings: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	csv := Config{Type: TypeCSV, Path: "hr.csv", Fields: FieldsConfig{ID: "id"}}
	tests := []struct {
		name string
		cfg  func(*Config)
		want []string // one fragment per expected error, in order
	}{
		{name: "valid csv", cfg: func(*Config) {}},
		{name: "no type", cfg: func(c *Config) { c.Type = "" }, want: []string{"hr.type: required"}},
		{name: "unknown type", cfg: func(c *Config) { c.Type = "xlsx" }, want: []string{`hr.type: unknown type "xlsx"`}},
		{name: "no path, no id", cfg: func(c *Config) { c.Path = ""; c.Fields.ID = "" }, want: []string{"hr.path: required", "hr.fields.id: required"}},
		{name: "bad delimiter", cfg: func(c *Config) { c.Delimiter = ";;" }, want: []string{"hr.delimiter: must be a single character"}},
		{name: "quote delimiter", cfg: func(c *Config) { c.Delimiter = `"` }, want: []string{"hr.delimiter"}},
		{name: "tab delimiter", cfg: func(c *Config) { c.Delimiter = "\t" }},
		{name: "empty separator", cfg: func(c *Config) { c.MultiValue = map[string]string{"L": ""} }, want: []string{"hr.multi_value.L: separator must not be empty"}},
		{name: "active does not compile", cfg: func(c *Config) { c.Active = `Attrition ==` }, want: []string{"hr.active:"}},
		{name: "active is not a bool", cfg: func(c *Config) { c.Active = `len(Department)` }, want: []string{"hr.active: expected bool, but got int"}},
		{name: "active type error", cfg: func(c *Config) { c.Active = `"a" + 1 > 0` }, want: []string{"hr.active: invalid operation"}},
		{name: "active misuses a multi-valued column", cfg: func(c *Config) {
			c.MultiValue = map[string]string{"Languages": ";"}
			c.Active = `Languages > 3`
		}, want: []string{"hr.active: invalid operation"}},
		{name: "negatives", cfg: func(c *Config) {
			c.Timeout = -1
			c.RetryDelays = []time.Duration{time.Second, -time.Second}
			c.MaxErrors = -1
		}, want: []string{"hr.timeout", "hr.retry_delays[1]", "hr.max_errors"}},
		{name: "http without url", cfg: func(c *Config) { c.Type = TypeHTTP }, want: []string{"hr.url: required"}},
		{name: "http over plain http", cfg: func(c *Config) { c.Type = TypeHTTP; c.URL = "http://hr.example.com/x" }, want: []string{"hr.url: must use https"}},
		{name: "http url with credentials", cfg: func(c *Config) { c.Type = TypeHTTP; c.URL = "https://u:p@hr.example.com/x" }, want: []string{"hr.url: must not carry credentials"}},
		{name: "http bad format", cfg: func(c *Config) { c.Type = TypeHTTP; c.URL = "https://h/x"; c.Format = "xml" }, want: []string{`hr.format: must be json or csv, got "xml"`}},
		{name: "http csv with next_page_path", cfg: func(c *Config) {
			c.Type = TypeHTTP
			c.URL = "https://h/x"
			c.Format = "csv"
			c.NextPagePath = "next"
		}, want: []string{"hr.next_page_path"}},
		{name: "http password without username", cfg: func(c *Config) { c.Type = TypeHTTP; c.URL = "https://h/x"; c.Password = "p" }, want: []string{"hr.username"}},
		{name: "http header with line break", cfg: func(c *Config) {
			c.Type = TypeHTTP
			c.URL = "https://h/x"
			c.Headers = map[string]string{"X-Token": "a\r\nb"}
		}, want: []string{"hr.headers.X-Token"}},
		{name: "postgres without query and url", cfg: func(c *Config) { c.Type = TypePostgres }, want: []string{"hr.query: required", "hr.database_url: required"}},
		{name: "postgres bad url hides it", cfg: func(c *Config) {
			c.Type = TypePostgres
			c.Query = "SELECT 1"
			c.DatabaseURL = "postgres://u:s3cret@host:notaport/db"
		}, want: []string{"hr.database_url: not a valid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := csv
			tt.cfg(&cfg)
			errs := cfg.WithDefaults().Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors %q", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
				if strings.Contains(errs[i].Error(), "s3cret") {
					t.Errorf("error %d leaks a secret: %v", i, errs[i])
				}
			}
			_, err := New(cfg, Options{})
			if (err != nil) != (len(tt.want) > 0) {
				t.Errorf("New() error = %v", err)
			}
		})
	}
}
