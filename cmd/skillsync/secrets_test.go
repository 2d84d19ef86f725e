package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/internal/secret"
	"github.com/skillsync/skillsync/store/pgtest"
)

// TestNoSecretInOutputLogsOrRows runs every kind of run with known
// credentials, debug logging on, and looks for them in standard output,
// the logs and every row of the database.
func TestNoSecretInOutputLogsOrRows(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	const wrongSecret = "wrong-lp-secret-41d2e0c9"
	const dbPassword = "db-password-5be21c7a"
	dbURL := f.dbURL
	if u, err := url.Parse(dbURL); err == nil && u.User != nil {
		_, hasPassword := u.User.Password()
		if _, external := os.LookupEnv(pgtest.EnvURL); !hasPassword && !external {
			// The throwaway cluster trusts local connections, so the password
			// is ignored by the server but is in the URL skillsync handles.
			u.User = url.UserPassword(u.User.Username(), dbPassword)
			dbURL = u.String()
		}
	}
	secrets := []string{testClientSecret, wrongSecret, testTriggerToken}
	if dbURL != f.dbURL {
		secrets = append(secrets, dbPassword)
	}

	var seen strings.Builder
	collect := func(code int, stdout, stderr string) int {
		seen.WriteString(stdout)
		seen.WriteString(stderr)
		return code
	}
	debug := []string{"--log-level", "debug", "--log-format", "json"}

	// Refused credentials: the error path must not echo them either.
	f.lookup = envMap("DB_URL", dbURL, "LP_CLIENT_SECRET", wrongSecret, "TRIGGER_TOKEN", testTriggerToken)
	if code := collect(f.run(append([]string{"plan"}, debug...)...)); code != exitError {
		t.Errorf("plan with a wrong client secret: exit %d, want 1", code)
	}
	f.lookup = envMap("DB_URL", dbURL, "LP_CLIENT_SECRET", testClientSecret, "TRIGGER_TOKEN", testTriggerToken)
	for _, args := range [][]string{{"config", "check"}, {"plan"}, {"sync"}, {"plan", "--format", "json"}, {"runs"}, {"runs", "show", "2"}, {"release", "Sales"}} {
		if code := collect(f.run(append(args, debug...)...)); code != exitOK {
			t.Errorf("%v: exit %d\n%s", args, code, seen.String())
		}
	}
	d := f.startDaemon(&env{})
	if code, body, _ := d.do("POST", "/v1/runs", testTriggerToken); code != 200 {
		t.Errorf("trigger: %d %s", code, body)
	}
	d.nextRun()
	_, status, _ := d.do("GET", "/status", "")
	_, metrics, _ := d.do("GET", "/metrics", "")
	d.stop()
	seen.WriteString(d.stderr.String() + status + metrics)

	text := seen.String()
	if !strings.Contains(text, `"msg":"run finished"`) || !strings.Contains(text, "[redacted]") {
		t.Fatalf("the runs did not log or print what this test inspects:\n%s", text)
	}
	rows := dumpDatabase(t, f.dbURL)
	if !strings.Contains(rows, "Sales / Sales Executive") {
		t.Fatalf("the database dump lacks the runs' rows")
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("secret %q appears in output or logs: %s", s, around(text, s))
		}
		if strings.Contains(rows, s) {
			t.Errorf("secret %q appears in a database row: %s", s, around(rows, s))
		}
	}
	bearer := regexp.MustCompile(`Bearer [A-Za-z0-9._~+/-]{16,}`)
	if m := bearer.FindString(text + rows); m != "" {
		t.Errorf("a bearer token appears: %q", m)
	}
}

// dumpDatabase returns every row of every table of the public schema as text.
func dumpDatabase(t *testing.T, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 3 {
		t.Fatalf("list tables: %v %v", tables, err)
	}
	var b strings.Builder
	for _, table := range tables {
		var dump string
		q := fmt.Sprintf(`SELECT coalesce(string_agg(t::text, E'\n'), '') FROM %s t`, pgx.Identifier{table}.Sanitize())
		if err := conn.QueryRow(ctx, q).Scan(&dump); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		b.WriteString(dump)
		b.WriteString("\n")
	}
	return b.String()
}

func around(s, sub string) string {
	i := strings.Index(s, sub)
	return s[max(0, i-200):min(len(s), i+len(sub)+200)]
}

func TestLoggerRedacts(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-value-9f8e"
	tests := []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Info("token is " + secret) }},
		{"string attr", func(l *slog.Logger) { l.Info("x", "detail", "got "+secret) }},
		{"error attr", func(l *slog.Logger) { l.Error("x", "err", fmt.Errorf("call: %w", errors.New(secret))) }},
		{"secret-named attr", func(l *slog.Logger) { l.Info("x", "client_secret", "anything-else") }},
		{"authorization attr", func(l *slog.Logger) { l.Info("x", "authorization", "Bearer abc.def.ghi") }},
		{"url with password", func(l *slog.Logger) { l.Info("x", "url", "postgres://u:other-pass-77@h/db") }},
		{"group", func(l *slog.Logger) { l.Info("x", slog.Group("g", "v", secret)) }},
		{"with attrs", func(l *slog.Logger) { l.With("v", secret).Info("x") }},
		{"any value", func(l *slog.Logger) { l.Info("x", "v", struct{ S string }{secret}) }},
	}
	for _, format := range []string{"json", "text"} {
		for _, tc := range tests {
			var buf bytes.Buffer
			l, err := newLogger(&buf, format, "debug", []string{secret}, false)
			if err != nil {
				t.Fatal(err)
			}
			tc.log(l)
			out := buf.String()
			for _, leaked := range []string{secret, "anything-else", "abc.def.ghi", "other-pass-77"} {
				if strings.Contains(out, leaked) {
					t.Errorf("%s/%s: %q leaked: %s", format, tc.name, leaked, out)
				}
			}
			if !strings.Contains(out, `[redacted]`) {
				t.Errorf("%s/%s: nothing redacted: %s", format, tc.name, out)
			}
		}
	}
}

func TestLoggerKeepsErrorChains(t *testing.T) {
	t.Parallel()
	var got error
	h := newRedactHandler(captureHandler{fn: func(r slog.Record) {
		r.Attrs(func(a slog.Attr) bool {
			if e, ok := a.Value.Any().(error); ok {
				got = e
			}
			return true
		})
	}}, secret.NewSet("hidden-1234"))
	slog.New(h).Error("x", "err", fmt.Errorf("wrap hidden-1234: %w", context.Canceled))
	if got == nil || !errors.Is(got, context.Canceled) || strings.Contains(got.Error(), "hidden-1234") {
		t.Errorf("redacted error: %v (errors.Is Canceled: %v)", got, errors.Is(got, context.Canceled))
	}
}

type captureHandler struct{ fn func(slog.Record) }

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.fn(r)
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

// TestURLQuerySecretsAreRedacted: a URL-valued setting may carry its
// credential in the query string (?api_key=...). config check prints none
// of its values, and the logger hides the secret wherever it appears.
func TestURLQuerySecretsAreRedacted(t *testing.T) {
	t.Parallel()
	const apiKey = "hr-query-key-61f0c2"
	cfg := defaultConfig()
	cfg.Database.URL = "postgres://app@db/skillsync?sslmode=require&application_name=skillsync"
	cfg.HR.Type, cfg.HR.Format = "http", "json"
	cfg.HR.URL = "https://hr.example.com/api/people?api_key=" + url.QueryEscape(apiKey+" ") + "&page=2"
	out, secrets, err := redactedConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, leaked := range []string{apiKey, "page=2", "sslmode=require", "=skillsync"} {
		if strings.Contains(string(out), leaked) {
			t.Errorf("config check prints %q:\n%s", leaked, out)
		}
	}
	for _, want := range []string{"https://hr.example.com/api/people?api_key=[redacted]&page=[redacted]", "sslmode=[redacted]"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config check lacks %s:\n%s", want, out)
		}
	}
	if !slices.Contains(secrets, apiKey+" ") || !slices.Contains(secrets, url.QueryEscape(apiKey+" ")) {
		t.Errorf("the query secret, decoded and raw, is not given to the log redactor: %q", secrets)
	}
	// Short settings are not secrets the logs should hunt for: blanking
	// "require" or "2" would garble every line.
	for _, plain := range []string{"require", "2", "skillsync"} {
		if slices.Contains(secrets, plain) {
			t.Errorf("%q treated as a secret: %q", plain, secrets)
		}
	}

	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "debug", secrets, false)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("fetching", "url", cfg.HR.URL)
	log.Error("hr said no", "err", fmt.Errorf("GET: 403 Forbidden: invalid key %q", apiKey+" "))
	log.Info("elsewhere", "link", "https://other.example/x?access_token=tok-99c1e7a&v=4.0")
	if s := buf.String(); strings.Contains(s, apiKey) || strings.Contains(s, "tok-99c1e7a") || !strings.Contains(s, "v=4.0") {
		t.Errorf("logs:\n%s", s)
	}
}

// TestTopLevelErrorsAreRedacted: the error a command ends with is printed
// through the configuration's secrets, like the logs, and the runs it
// recorded keep none of them in any text column. Here the HR server
// answers 403 repeating the API key of its URL and a header's token.
func TestTopLevelErrorsAreRedacted(t *testing.T) {
	t.Parallel()
	const apiKey, token = "hr-api-key-0b7d53aa", "hr-bearer-3e9f01c4"
	hr := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("key %s and %s are not valid here", r.URL.Query().Get("api_key"), r.Header.Get("Authorization")),
			http.StatusForbidden)
	}))
	t.Cleanup(hr.Close)
	f := setup(t, "")
	caFile := writeFile(t, t.TempDir(), "hr-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hr.Certificate().Raw})))
	raw, err := os.ReadFile(f.configPath)
	if err != nil {
		t.Fatal(err)
	}
	// The CSV source becomes an HTTP one that refuses us.
	cfg := regexp.MustCompile(`(?s)hr:\n.*?\nskills:`).ReplaceAllLiteralString(string(raw), fmt.Sprintf(`hr:
  type: http
  format: csv
  url: "%s/people?api_key=${HR_KEY}"
  headers: {Authorization: "Bearer ${HR_TOKEN}"}
  ca_file: %s
  retry_delays: []
  fields: {id: EmployeeNumber}
skills:`, hr.URL, caFile))
	if err := os.WriteFile(f.configPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f.lookup = envMap("DB_URL", f.dbURL, "LP_CLIENT_SECRET", testClientSecret, "TRIGGER_TOKEN", testTriggerToken,
		"HR_KEY", apiKey, "HR_TOKEN", token)
	for _, args := range [][]string{{"plan"}, {"sync", "--format", "json"}} {
		_, stdout, stderr := f.run(args...)
		if !strings.Contains(stderr, "403") || !strings.Contains(stderr, "are not valid here") {
			t.Fatalf("%v: the HR refusal is not reported:\n%s", args, stderr)
		}
		for _, s := range []string{apiKey, token} {
			if strings.Contains(stdout+stderr, s) {
				t.Errorf("%v: %q printed: %s", args, s, around(stdout+stderr, s))
			}
		}
	}
	// Both runs were recorded, failed, with the refusal: nowhere in the
	// database may the secrets the server quoted be kept.
	cols := dumpTextColumns(t, f.dbURL)
	for _, table := range []string{"runs", "run_operations", "owned_skills", "source_snapshots", "pending_deletes"} {
		if _, ok := cols[table]; !ok {
			t.Errorf("table %s has no text column to scan (renamed?): %v", table, slices.Sorted(maps.Keys(cols)))
		}
	}
	if !strings.Contains(cols["runs"], "are not valid here") {
		t.Fatalf("the runs' stored error lacks the HR refusal:\n%s", cols["runs"])
	}
	for table, text := range cols {
		for _, s := range []string{apiKey, token} {
			if strings.Contains(text, s) {
				t.Errorf("%q stored in %s: %s", s, table, around(text, s))
			}
		}
	}
}

// echoingTransport answers every skills create with a 400 quoting a
// secret, as a server repeating a credential back would; everything else
// goes to the simulator.
type echoingTransport struct {
	next   http.RoundTripper
	secret string
}

func (e echoingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/skills") {
		return e.next.RoundTrip(r)
	}
	body := fmt.Sprintf(`{"message":"token %s may not create skills"}`, e.secret)
	return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: r}, nil
}

// TestStoredJournalIsRedacted: LivePerson refusing every create with an
// answer that quotes a configured secret leaves it in no text column: the
// journal's errors go through the configuration's secrets before they are
// stored. The LivePerson client hides its own credentials itself, so the
// secret quoted is one it does not know (the trigger token: contrived, but
// only the run's redaction can catch it, which is what is tested).
func TestStoredJournalIsRedacted(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	f.httpClient = &http.Client{Transport: echoingTransport{next: f.httpClient.Transport, secret: testTriggerToken}}
	if code, _, stderr := f.run("sync"); code == exitOK {
		t.Fatalf("sync succeeded though every create was refused:\n%s", stderr)
	}
	cols := dumpTextColumns(t, f.dbURL)
	if !strings.Contains(cols["run_operations"], "may not create skills") {
		t.Fatalf("the journal lacks the refusals:\n%s", cols["run_operations"])
	}
	for table, text := range cols {
		if strings.Contains(text, testTriggerToken) {
			t.Errorf("the trigger token is stored in %s: %s", table, around(text, testTriggerToken))
		}
	}
}

// dumpTextColumns returns, per table of the public schema, the values of
// all its text, character and JSON columns, one per line.
func dumpTextColumns(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
		ORDER BY table_name, ordinal_position`)
	type column struct{ Table, Name string }
	columns, err := pgx.CollectRows(rows, pgx.RowToStructByPos[column])
	if err != nil {
		t.Fatalf("list text columns: %v", err)
	}
	out := map[string]string{}
	for _, c := range columns {
		var dump string
		q := fmt.Sprintf(`SELECT coalesce(string_agg(%s::text, E'\n'), '') FROM %s`,
			pgx.Identifier{c.Name}.Sanitize(), pgx.Identifier{c.Table}.Sanitize())
		if err := conn.QueryRow(ctx, q).Scan(&dump); err != nil {
			t.Fatalf("dump %s.%s: %v", c.Table, c.Name, err)
		}
		out[c.Table] += dump + "\n"
	}
	return out
}

// TestShortValuesAreNotHuntedFor: a short header value (X-Version: 2) or a
// short secret is printed redacted by config check, but is not searched
// for in free text: hiding every "2" would garble counts, stored plan
// reasons and errors. Values named like secrets are hunted from 3
// characters on, others from 8.
func TestShortValuesAreNotHuntedFor(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.Server.TriggerToken = "ab"
	cfg.LivePerson.Auth.Password = "k9z"
	cfg.Database.URL = "postgres://app:pw@db/skillsync"
	cfg.HR.Headers = map[string]string{"X-Version": "2", "X-Tenant": "acme-eu", "X-Api-Key": "k3y", "X-Trace": "trace-id-0a1b"}
	out, secrets, err := redactedConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"trigger_token: '[redacted]'", "password: '[redacted]'", "X-Version: '[redacted]'",
		"X-Tenant: '[redacted]'", "X-Api-Key: '[redacted]'", "X-Trace: '[redacted]'", "app:[redacted]@db"} {
		if !strings.Contains(string(out), want) && !strings.Contains(string(out), strings.ReplaceAll(want, "[redacted]", "%5Bredacted%5D")) {
			t.Errorf("config check lacks %q:\n%s", want, out)
		}
	}
	for _, s := range []string{"ab", "pw", "2", "acme-eu"} {
		if slices.Contains(secrets, s) {
			t.Errorf("%q is hunted for in free text: %q", s, secrets)
		}
	}
	for _, s := range []string{"k9z", "k3y", "trace-id-0a1b"} {
		if !slices.Contains(secrets, s) {
			t.Errorf("%q is not hunted for: %q", s, secrets)
		}
	}

	// End to end: a header value "2" leaves the printed plans and every
	// stored text (a pending delete's reason: "after 2 consecutive apply
	// runs") as they are.
	f := setup(t, "")
	raw, err := os.ReadFile(f.configPath)
	if err != nil {
		t.Fatal(err)
	}
	withHeader := strings.Replace(string(raw), "  type: csv\n", "  type: csv\n  headers: {X-Version: \"2\"}\n", 1)
	if err := os.WriteFile(f.configPath, []byte(withHeader), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, _ := f.mustRun(exitOK, "config", "check")
	if !strings.Contains(stdout, "X-Version: '[redacted]'") || !strings.Contains(stdout, "trigger_token: '[redacted]'") {
		t.Errorf("config check does not redact the header and the trigger token:\n%s", stdout)
	}
	f.mustRun(exitOK, "sync")
	// Human Resources leaves: its skills become pending deletes.
	var kept []string
	for line := range strings.SplitAfterSeq(string(demoCSV), "\n") {
		if !strings.Contains(line, ",Human Resources,") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(f.hrPath, []byte(strings.Join(kept, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	printed, stderr := f.mustRun(exitOK, "sync", "--format", "json")
	printed += stderr
	cols := dumpTextColumns(t, f.dbURL)
	reason := regexp.MustCompile(`after 2 consecutive apply runs|delete_after_runs 2`)
	if !reason.MatchString(printed) || !reason.MatchString(cols["runs"]) {
		t.Fatalf("the pending delete's reason is not printed and stored as is:\n%s", printed)
	}
	if strings.Contains(printed, secret.Redacted) {
		t.Errorf("the output is garbled: %s", around(printed, secret.Redacted))
	}
	for table, text := range cols {
		if strings.Contains(text, secret.Redacted) {
			t.Errorf("%s stores a garbled text: %s", table, around(text, secret.Redacted))
		}
	}
}

// TestBodySecretsAreRedacted: hr.body may carry credentials; config check
// prints it with them hidden, and they are given to the log redactor.
func TestBodySecretsAreRedacted(t *testing.T) {
	t.Parallel()
	const password = "hr-body-pw-7d1e9a"
	cfg := defaultConfig()
	cfg.HR.Type, cfg.HR.Format, cfg.HR.HTTPMethod = "http", "json", "POST"
	cfg.HR.URL = "https://hr.example.com/api/people"
	cfg.HR.Body = `{"user": "svc", "password": "` + password + `", "report": "staff"}`
	out, secrets, err := redactedConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), password) {
		t.Errorf("config check prints hr.body's password:\n%s", out)
	}
	if !strings.Contains(string(out), `"report": "staff"`) {
		t.Errorf("config check hides more of hr.body than its secrets:\n%s", out)
	}
	if !slices.Contains(secrets, password) {
		t.Errorf("hr.body's password is not given to the log redactor: %q", secrets)
	}
}
