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

// TestConfigValidateConnectors checks the keys of hr.auth, the vendor
// connectors and the http source's new settings, each error naming its
// key path.
func TestConfigValidateConnectors(t *testing.T) {
	t.Parallel()
	const wd = "https://wd2-impl-services1.workday.com/ccx/service/customreport2/acme/ISU_skillsync/Staff"
	const sf = "https://api4.successfactors.com/odata/v2/User"
	tests := []struct {
		name string
		cfg  Config
		want []string // one fragment per expected error, in order
	}{
		{name: "workday basic", cfg: Config{Type: TypeWorkday, URL: wd, Auth: AuthConfig{Method: AuthBasic, Username: "ISU_skillsync", Password: "p"}}},
		{name: "workday refresh token, token URL derived", cfg: Config{Type: TypeWorkday, URL: wd, Auth: AuthConfig{Method: AuthOAuth2RefreshToken, ClientID: "c", ClientSecret: "s", RefreshToken: "r"}}},
		{name: "workday without auth", cfg: Config{Type: TypeWorkday, URL: wd}, want: []string{"hr.auth.method: required for type workday: one of basic, oauth2_refresh_token"}},
		{name: "workday with bearer", cfg: Config{Type: TypeWorkday, URL: wd, Auth: AuthConfig{Method: AuthBearer, Token: "t"}},
			want: []string{`hr.auth.method: "bearer" is not how Workday authenticates: use basic or oauth2_refresh_token`}},
		{name: "workday without url", cfg: Config{Type: TypeWorkday, Auth: AuthConfig{Method: AuthBasic, Username: "u", Password: "p"}},
			want: []string{"hr.url: required for workday: the report's URL as Workday shows it"}},
		{name: "workday with another URL", cfg: Config{Type: TypeWorkday, URL: "https://wd.example/report", Auth: AuthConfig{Method: AuthBasic, Username: "u", Password: "p"}},
			want: []string{"hr.url: not a Workday report URL"}},
		{name: "workday refresh token without a derivable token URL", cfg: Config{Type: TypeWorkday, URL: "https://h/ccx/service/x", Auth: AuthConfig{Method: AuthOAuth2RefreshToken, ClientID: "c", RefreshToken: "r"}},
			want: []string{"hr.auth.token_url: required for method oauth2_refresh_token: https://HOST/ccx/oauth2/TENANT/token"}},
		{name: "workday with csv and a records path", cfg: Config{Type: TypeWorkday, URL: wd, Format: "csv", RecordsPath: "rows", HTTPMethod: "POST", Auth: AuthConfig{Method: AuthBasic, Username: "u", Password: "p"}},
			want: []string{"hr.format: workday is read as JSON", `hr.records_path: workday's records are at "Report_Entry"`, "hr.http_method: workday builds its own request"}},
		{name: "bamboohr", cfg: Config{Type: TypeBambooHR, Subdomain: "acme", Auth: AuthConfig{Token: "k"}}},
		{name: "bamboohr without subdomain", cfg: Config{Type: TypeBambooHR, Auth: AuthConfig{Token: "k"}}, want: []string{"hr.subdomain: required for bamboohr"}},
		{name: "bamboohr bad subdomain", cfg: Config{Type: TypeBambooHR, Subdomain: "acme.bamboohr.com", Auth: AuthConfig{Token: "k"}}, want: []string{`hr.subdomain: "acme.bamboohr.com" is not a subdomain`}},
		{name: "bamboohr url instead of subdomain", cfg: Config{Type: TypeBambooHR, URL: "https://proxy.example/bamboo/custom", Auth: AuthConfig{Token: "k"}}},
		{name: "bamboohr without the key", cfg: Config{Type: TypeBambooHR, Subdomain: "acme"}, want: []string{"hr.auth.token: required for method api_key: the BambooHR API key"}},
		{name: "bamboohr with basic and a header", cfg: Config{Type: TypeBambooHR, Subdomain: "acme", Auth: AuthConfig{Method: AuthBasic, Username: "u", Password: "p"}},
			want: []string{`hr.auth.method: "basic" is not how BambooHR authenticates: use api_key`}},
		{name: "bamboohr api key header", cfg: Config{Type: TypeBambooHR, Subdomain: "acme", Auth: AuthConfig{Token: "k", Header: "X-Key"}},
			want: []string{"hr.auth.header: BambooHR decides how the key is sent"}},
		{name: "successfactors basic", cfg: Config{Type: TypeSuccessFactors, URL: sf, Filter: "status in 't','f'", Auth: AuthConfig{Method: AuthBasic, Username: "sfapi@ACME", Password: "p"}}},
		{name: "successfactors user without company", cfg: Config{Type: TypeSuccessFactors, URL: sf, Auth: AuthConfig{Method: AuthBasic, Username: "sfapi", Password: "p"}},
			want: []string{`hr.auth.username: SuccessFactors expects user@companyId`}},
		{name: "successfactors service URL", cfg: Config{Type: TypeSuccessFactors, URL: "https://api4.successfactors.com/odata/v2/", Auth: AuthConfig{Method: AuthBearer, Token: "t"}},
			want: []string{"hr.url: not an OData v2 entity URL"}},
		{name: "successfactors two filters", cfg: Config{Type: TypeSuccessFactors, URL: sf + "?$filter=status%20eq%20't'", Filter: "x", Auth: AuthConfig{Method: AuthBearer, Token: "t"}},
			want: []string{"hr.filter: hr.url already has a $filter"}},
		{name: "filter and subdomain elsewhere", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Filter: "x", Subdomain: "acme"},
			want: []string{"hr.subdomain: only for type bamboohr", "hr.filter: only for type successfactors"}},
		{name: "unknown auth method", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Auth: AuthConfig{Method: "x"}},
			want: []string{`hr.auth.method: unknown "x": use one of none, basic, bearer, api_key, oauth2_client_credentials, oauth2_refresh_token`}},
		{name: "client credentials without its keys", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Auth: AuthConfig{Method: AuthOAuth2ClientCredentials, Token: "t"}},
			want: []string{"hr.auth.token: not used by method oauth2_client_credentials", "hr.auth.client_id: required", "hr.auth.client_secret: required", "hr.auth.token_url: required"}},
		{name: "token url over http", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Auth: AuthConfig{Method: AuthOAuth2ClientCredentials, ClientID: "c", ClientSecret: "s", TokenURL: "http://idp/token"}},
			want: []string{"hr.auth.token_url: must use https"}},
		{name: "credentials without a method", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Auth: AuthConfig{Token: "t"}},
			want: []string{"hr.auth.token: not used by method none"}},
		{name: "auth and the older spelling", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Username: "u", Password: "p", Auth: AuthConfig{Method: AuthBearer, Token: "t"}},
			want: []string{"hr.auth: hr.username/hr.password (the older spelling) and hr.auth are both set"}},
		{name: "auth and an Authorization header", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Headers: map[string]string{"Authorization": "Bearer x"}, Auth: AuthConfig{Method: AuthBearer, Token: "t"}},
			want: []string{"hr.headers.Authorization: set, and hr.auth.method is bearer"}},
		{name: "api key header twice", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Headers: map[string]string{"x-api-key": "a"}, Auth: AuthConfig{Method: AuthAPIKey, Token: "t"}},
			want: []string{"hr.headers.x-api-key: also set by hr.auth"}},
		{name: "POST with a body", cfg: Config{Type: TypeHTTP, URL: "https://h/x", HTTPMethod: "POST", Body: `{"q": 1}`}},
		{name: "body without POST", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Body: `{"q": 1}`}, want: []string{"hr.body: is sent with a POST"}},
		{name: "PUT", cfg: Config{Type: TypeHTTP, URL: "https://h/x", HTTPMethod: "PUT"}, want: []string{`hr.http_method: must be GET or POST, got "PUT"`}},
		{name: "negative caps", cfg: Config{Type: TypeHTTP, URL: "https://h/x", MaxPages: -1, MaxBytes: -1, MaxRetryWait: -1},
			want: []string{"hr.max_pages: must not be negative", "hr.max_bytes: must not be negative", "hr.max_retry_wait: must not be negative"}},
		{name: "columns on a CSV feed", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Format: "csv", Columns: map[string]string{"D": "a/b"}},
			want: []string{"hr.columns: only for JSON sources"}},
		{name: "auth and a body on a file", cfg: Config{Type: TypeCSV, Path: "hr.csv", Body: "x", Auth: AuthConfig{Method: AuthBearer, Token: "t"}},
			want: []string{"hr.auth: only for type http and the connectors", "hr.body: only for type http"}},
		{name: "bad paths", cfg: Config{Type: TypeHTTP, URL: "https://h/x", Fields: FieldsConfig{ID: "id", Email: "a//b"}, Columns: map[string]string{"D": "a/~2"}},
			want: []string{"hr.fields.email: not a valid path", "hr.columns.D: not a valid path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			if cfg.Fields.ID == "" {
				cfg.Fields.ID = "id"
			}
			errs := cfg.WithDefaults().Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors %q", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}
