package hrsource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readDated writes content to a file of the given name and reads it with
// hr.fields.start_date and end_date set, in loc.
func readDated(t *testing.T, name, content string, cfg Config, loc *time.Location) (*Snapshot, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Path = path
	if cfg.Type == "" {
		cfg.Type = TypeCSV
	}
	cfg.Fields.ID = "id"
	cfg.Fields.StartDate, cfg.Fields.EndDate = "start", "end"
	src, err := New(cfg, Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	return src.Read(context.Background())
}

func TestDates(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		layout     string
		loc        *time.Location
		content    string
		start, end []Date
		stale      []Date   // per record, StaleEnd (nil: none)
		problems   []string // per record, a substring of DateProblem ("" none)
	}{
		{
			name:    "default layout, empty dates open",
			content: "id,start,end\n1,2026-12-07,\n2,,2026-12-31\n3,,\n",
			start:   []Date{20261207, 0, 0},
			end:     []Date{0, 20261231, 0},
		},
		{
			name:    "custom layout",
			layout:  "02/01/2006",
			content: "id,start,end\n1,07/12/2026,31/01/2027\n",
			start:   []Date{20261207},
			end:     []Date{20270131},
		},
		{
			name:    "RFC 3339 is taken to the day of the timezone",
			loc:     paris,
			content: "id,start,end\n1,2026-12-06T23:30:00Z,2026-12-31T22:59:59-01:00\n",
			start:   []Date{20261207},
			end:     []Date{20270101},
		},
		{
			name:    "RFC 3339 west of UTC",
			loc:     newYork,
			content: "id,start,end\n1,2026-12-07T03:00:00Z,\n",
			start:   []Date{20261206},
			end:     []Date{0},
		},
		{
			// A date serialised as a timestamp (JavaScript's toISOString,
			// many HR APIs) is midnight of that day in its own offset: in
			// New York, midnight UTC is the evening before, and a
			// termination "2026-12-31T00:00:00.000Z" would take the skills
			// on the last day itself.
			name:    "RFC 3339 at midnight is the day as written",
			loc:     newYork,
			content: "id,start,end\n1,2026-12-07T00:00:00.000Z,2026-12-31T00:00:00+01:00\n",
			start:   []Date{20261207},
			end:     []Date{20261231},
		},
		{
			// PostgreSQL's text for a timestamptz column (the postgres
			// source reads values as text): a timestamp like RFC 3339's.
			name:    "PostgreSQL timestamps",
			loc:     newYork,
			content: "id,start,end\n1,2026-12-07 00:00:00+00,2026-12-31 03:00:00.5+05:30\n",
			start:   []Date{20261207},
			end:     []Date{20261230},
		},
		{
			// XML Schema's xs:date with its offset, as Workday writes
			// dates in XML (and in its own URL parameters): the day as
			// written, whatever the timezone.
			name:    "a date with an offset is the day as written",
			loc:     paris,
			content: "id,start,end\n1,2026-12-07-08:00,2026-12-31Z\n",
			start:   []Date{20261207},
			end:     []Date{20261231},
		},
		{
			// BambooHR writes an empty date as 0000-00-00 (MySQL's zero
			// date); as a problem, every active employee without a
			// termination would hold the deletes of every rule.
			name:    "a zero date is no date",
			content: "id,start,end\n1,2024-01-15,0000-00-00\n2,0000-00-00,0000-00-00 00:00:00\n3,2024-01-15,00/00/0000\n",
			start:   []Date{20240115, 0, 20240115},
			end:     []Date{0, 0, 0},
		},
		{
			name:     "bad dates are the record's problem, named with their column",
			content:  "id,start,end\n1,2026-13-01,\n2,2026-12-07,tomorrow\n3,2026-12-07,2026-12-07\n",
			start:    []Date{0, 0, 20261207},
			end:      []Date{0, 0, 20261207},
			problems: []string{`hr.fields.start_date (column "start"): "2026-13-01" is not a date`, `hr.fields.end_date (column "end"): "tomorrow"`, ""},
		},
		{
			// A rehire whose record still carries the previous
			// employment's termination: in force from its start date,
			// the end date kept aside for the plan's warning.
			name:    "an end date before the start date is an earlier employment's",
			content: "id,start,end\n1,2026-03-01,2025-06-30\n2,2026-03-01,2026-02-28\n",
			start:   []Date{20260301, 20260301},
			end:     []Date{0, 0},
			stale:   []Date{20250630, 20260228},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			loc := tt.loc
			if loc == nil {
				loc = time.UTC
			}
			snap, err := readDated(t, "hr.csv", tt.content, Config{DateFormat: tt.layout}, loc)
			if err != nil {
				t.Fatal(err)
			}
			if !snap.Dated {
				t.Error("snapshot not marked dated")
			}
			for i, r := range snap.Records {
				if r.Start != tt.start[i] || r.End != tt.end[i] {
					t.Errorf("record %s: start %s end %s, want %s and %s", r.ID, r.Start, r.End, tt.start[i], tt.end[i])
				}
				if want := Date(0); tt.stale != nil && r.StaleEnd != tt.stale[i] || tt.stale == nil && r.StaleEnd != want {
					t.Errorf("record %s: stale end %s", r.ID, r.StaleEnd)
				}
				want := ""
				if tt.problems != nil {
					want = tt.problems[i]
				}
				if want == "" && r.DateProblem != "" || want != "" && !strings.Contains(r.DateProblem, want) {
					t.Errorf("record %s: problem %q, want one with %q", r.ID, r.DateProblem, want)
				}
			}
		})
	}
}

func TestInForce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		start, end Date
		problem    string
		day        Date
		want       bool
	}{
		{0, 0, "", 20261207, true},
		{20261207, 0, "", 20261206, false},
		{20261207, 0, "", 20261207, true},
		{0, 20261231, "", 20261231, true}, // the end date is inclusive
		{0, 20261231, "", 20270101, false},
		{0, 0, "bad", 20261207, false},
	}
	for _, tt := range tests {
		r := Record{Start: tt.start, End: tt.end, DateProblem: tt.problem}
		if got := r.InForce(tt.day); got != tt.want {
			t.Errorf("start %s end %s problem %q on %s: %v, want %v", tt.start, tt.end, tt.problem, tt.day, got, tt.want)
		}
	}
}

func TestDatesConfig(t *testing.T) {
	t.Parallel()
	// A date column missing from the data is a configuration mistake: the
	// read fails and names the key.
	_, err := readDated(t, "hr.csv", "id,start\n1,2026-12-07\n", Config{}, time.UTC)
	var verr *ValidationError
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), `hr.fields.end_date: names column "end"`) {
		t.Errorf("missing end column: %v", err)
	}
	base := Config{Type: TypeCSV, Path: "x.csv", Fields: FieldsConfig{ID: "id", StartDate: "s"}}
	for _, tt := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.DateFormat = "15:04" }, "hr.date_format"},
		{func(c *Config) { c.DateFormat = "2006-01" }, "hr.date_format"},
		{func(c *Config) { c.EventDebounce = -time.Second }, "hr.event_debounce"},
		{func(c *Config) { c.Fields.EndDate = "s" }, "hr.fields.end_date"},
		{func(c *Config) { c.WebhookSecret = "short" }, "hr.webhook_secret"},
	} {
		c := base
		tt.mutate(&c)
		errs := c.WithDefaults().Validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
			t.Errorf("%s: %v", tt.want, errs)
		}
	}
	if errs := base.WithDefaults().Validate(); len(errs) != 0 {
		t.Errorf("valid config: %v", errs)
	}
	if d := base.WithDefaults().EventDebounce; d != DefaultEventDebounce {
		t.Errorf("default event_debounce %s", d)
	}
}

func TestDateArithmetic(t *testing.T) {
	t.Parallel()
	d, err := ParseDay("2026-12-31")
	if err != nil || d != 20261231 || d.AddDays(1) != 20270101 || d.AddDays(-31) != 20261130 || d.String() != "2026-12-31" {
		t.Errorf("ParseDay: %d %v, +1 %s", d, err, d.AddDays(1))
	}
	if _, err := ParseDay("31.12.2026"); err == nil {
		t.Error("ParseDay accepted 31.12.2026")
	}
}

func FuzzDateParse(f *testing.F) {
	for _, s := range []string{"2026-12-07", "2026-13-01", "2026-12-06T23:30:00Z", "", "tomorrow", "07/12/2026"} {
		f.Add(s)
	}
	p := dateParser{layout: DefaultDateFormat, loc: time.UTC}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := p.parse(s)
		if !ok {
			return
		}
		if d != 0 && d.Time(time.UTC).Format(time.DateOnly) != d.String() {
			t.Errorf("%q: day %d does not round-trip", s, d)
		}
	})
}

// TestODataDates: SuccessFactors (OData v2) sends dates as /Date(ms)/, a
// date-only field at midnight UTC: its day is the UTC day even in a time
// zone west of UTC; /Date(ms+offset)/ is the day at that offset.
func TestODataDates(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	p := dateParser{layout: DefaultDateFormat, loc: ny}
	tests := []struct {
		in   string
		want string // "" = not a date
	}{
		{"/Date(1420070400000)/", "2015-01-01"},
		{"/Date(1420070400000+0000)/", "2015-01-01"},
		{"/Date(1420070400000-0300)/", "2014-12-31"},
		{"/Date(1420066800000+0060)/", "2015-01-01"},
		{"/Date(-86400000)/", "1969-12-31"},
		{"/Date(253402300799999)/", "9999-12-31"},
		{"/Date(253402300800000)/", ""},
		{"/Date()/", ""},
		{"/Date(14200704x)/", ""},
		{"/Date(1420070400000+60)/", ""},
		{"Date(1420070400000)", ""},
	}
	for _, tt := range tests {
		d, ok := p.parse(tt.in)
		switch {
		case tt.want == "" && ok:
			t.Errorf("parse(%q) = %s, want not a date", tt.in, d)
		case tt.want != "" && (!ok || d.String() != tt.want):
			t.Errorf("parse(%q) = %s, %v; want %s", tt.in, d, ok, tt.want)
		}
	}
}
