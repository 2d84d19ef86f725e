package hrsource_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// setupHRDB returns the URL of a fresh database holding an HR table.
func setupHRDB(t *testing.T) string {
	t.Helper()
	url := pgtest.DB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		CREATE TABLE hr_people (
			id int PRIMARY KEY, email text, full_name text, active bool,
			dept text, langs text, hired date, salary numeric(10,2));
		INSERT INTO hr_people VALUES
			(1, 'ann@x.io', '  Ann Lee ', true, 'Sales', 'en;fr', '2020-01-15', 4200.50),
			(2, NULL, 'Bob', false, 'Sales', NULL, NULL, NULL),
			(3, 'cy@x.io', 'Cy', true, 'Support', 'de', '2021-06-01', 3900)`)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	url := setupHRDB(t)
	base := hrsource.Config{
		Type:        hrsource.TypePostgres,
		DatabaseURL: url,
		Fields:      hrsource.FieldsConfig{ID: "employee_id", Email: "email", Name: "full_name"},
	}
	tests := []struct {
		name    string
		cfg     func(*hrsource.Config)
		ids     []string
		active  []string
		check   func(t *testing.T, s *hrsource.Snapshot)
		wantErr []string
	}{
		{
			name: "columns become attributes, NULL becomes empty",
			cfg: func(c *hrsource.Config) {
				c.Query = `SELECT id AS employee_id, email, full_name, active, dept, langs, hired, salary FROM hr_people ORDER BY id`
				c.Active = `active == "true"`
				c.MultiValue = map[string]string{"langs": ";"}
				c.StatsAttributes = []string{"dept", "langs"}
			},
			ids:    []string{"1", "2", "3"},
			active: []string{"1", "3"},
			check: func(t *testing.T, s *hrsource.Snapshot) {
				want := []string{"employee_id", "email", "full_name", "active", "dept", "langs", "hired", "salary"}
				if !slices.Equal(s.Schema.Columns, want) {
					t.Errorf("columns = %q", s.Schema.Columns)
				}
				ann, bob := s.Records[0], s.Records[1]
				if ann.Name != "Ann Lee" || ann.Email != "ann@x.io" || ann.Origin != "query row 1" {
					t.Errorf("ann = %+v", ann)
				}
				if !slices.Equal(ann.Values[6:], []string{"2020-01-15", "4200.50"}) {
					t.Errorf("ann's date and numeric = %q", ann.Values[6:])
				}
				if bob.Email != "" || !slices.Equal(bob.Values[5:], []string{"", "", ""}) {
					t.Errorf("bob's NULLs = %q", bob.Values)
				}
				if s.Stats.ValueCounts["langs"]["fr"] != 1 || s.Stats.ValueCounts["dept"]["Support"] != 1 {
					t.Errorf("value counts = %v", s.Stats.ValueCounts)
				}
			},
		},
		{
			name: "writes are refused: the transaction is read-only",
			cfg: func(c *hrsource.Config) {
				c.Query = `WITH gone AS (DELETE FROM hr_people RETURNING id AS employee_id) SELECT * FROM gone`
			},
			wantErr: []string{"hr.query", "read-only transaction"},
		},
		{
			name:    "bad SQL",
			cfg:     func(c *hrsource.Config) { c.Query = `SELECT nope FROM hr_people` },
			wantErr: []string{"hr.query", `column "nope" does not exist`},
		},
		{
			name: "duplicate and empty ids",
			cfg: func(c *hrsource.Config) {
				c.Query = `SELECT CASE WHEN id = 3 THEN '1' WHEN id = 2 THEN NULL ELSE id::text END AS employee_id FROM hr_people ORDER BY id`
				c.Fields = hrsource.FieldsConfig{ID: "employee_id"}
			},
			wantErr: []string{"query row 2: empty id", `query row 3: duplicate id "1", also at query row 1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			tt.cfg(&cfg)
			src, err := hrsource.New(cfg, hrsource.Options{})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := src.Read(context.Background())
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("read = %d records, want an error", len(snap.Records))
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(snap.Records); !slices.Equal(got, tt.ids) {
				t.Errorf("ids = %q, want %q", got, tt.ids)
			}
			var active []string
			for _, r := range snap.Records {
				if r.Active {
					active = append(active, r.ID)
				}
			}
			if !slices.Equal(active, tt.active) {
				t.Errorf("active = %q, want %q", active, tt.active)
			}
			if tt.check != nil {
				tt.check(t, snap)
			}
		})
	}

	// The rows are all still there: the DELETE above was refused.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM hr_people`).Scan(&n); err != nil || n != 3 {
		t.Errorf("hr_people has %d rows (%v), want 3", n, err)
	}
}

// TestPostgresErrorsHidePassword connects where nothing listens.
func TestPostgresErrorsHidePassword(t *testing.T) {
	t.Parallel()
	const password = "pw-s3cret-77"
	src, err := hrsource.New(hrsource.Config{
		Type:        hrsource.TypePostgres,
		DatabaseURL: "postgres://reader:" + password + "@127.0.0.1:1/hr?connect_timeout=2",
		Query:       "SELECT 1 AS id",
		Fields:      hrsource.FieldsConfig{ID: "id"},
	}, hrsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Read(context.Background())
	if err == nil {
		t.Fatal("read from a closed port succeeded")
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), "postgres 127.0.0.1/hr: connect") {
		t.Errorf("error %q does not say where it connected", err)
	}
	var ve *hrsource.ValidationError
	if errors.As(err, &ve) {
		t.Errorf("a connection failure is not a validation error: %v", err)
	}
}

func ids(recs []hrsource.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}
