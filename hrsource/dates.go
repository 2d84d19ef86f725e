package hrsource

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultDateFormat is hr.date_format when unset: ISO 8601 calendar dates.
const DefaultDateFormat = time.DateOnly

// minWebhookSecretLength is the shortest hr.webhook_secret accepted.
const minWebhookSecretLength = 16

// Date is a calendar day as YYYYMMDD (20261207), 0 for none. Days compare
// with < and ==, and a record holds two of them for a few bytes.
type Date int32

// DateOf returns the day of t as t's own location sees it.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date(y*10000 + int(m)*100 + d)
}

// ParseDay parses YYYY-MM-DD (the --as-of flag).
func ParseDay(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a date: write it as YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// Time returns midnight of the day in loc (UTC when nil).
func (d Date) Time(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(int(d)/10000, time.Month(int(d)/100%100), int(d)%100, 0, 0, 0, 0, loc)
}

// AddDays returns the day n days after d (before it when n is negative).
func (d Date) AddDays(n int) Date {
	return DateOf(d.Time(time.UTC).AddDate(0, 0, n))
}

// String writes the day as YYYY-MM-DD ("" for none).
func (d Date) String() string {
	if d == 0 {
		return ""
	}
	return d.Time(time.UTC).Format(time.DateOnly)
}

// MarshalText writes the day as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// InForce says whether the record's dates hold on day d: its start date is
// empty or on or before d, and its end date (the last day in force,
// inclusive) is empty or on or after d. hr.active is the caller's to check;
// a record whose dates could not be read (DateProblem) is in force on no
// day.
func (r *Record) InForce(d Date) bool {
	return r.DateProblem == "" && (r.Start == 0 || r.Start <= d) && (r.End == 0 || r.End >= d)
}

// Dated says whether the configuration maps a start or an end date.
func (c Config) Dated() bool { return c.Fields.StartDate != "" || c.Fields.EndDate != "" }

// validateDates checks hr.date_format, hr.event_debounce and the date
// fields.
func (c Config) validateDates(add func(key, format string, args ...any)) {
	if c.DateFormat != "" {
		ref := time.Date(2027, time.November, 28, 0, 0, 0, 0, time.UTC)
		back, err := time.Parse(c.DateFormat, ref.Format(c.DateFormat))
		if err != nil || DateOf(back) != DateOf(ref) {
			add("date_format", "%q is not a Go time layout naming the year, month and day (e.g. 2006-01-02, 02/01/2006, Jan 2, 2006)", c.DateFormat)
		}
	}
	if c.EventDebounce < 0 {
		add("event_debounce", "must not be negative")
	}
	if n := len(c.WebhookSecret); n > 0 && n < minWebhookSecretLength {
		add("webhook_secret", "%d characters; it must be at least %d (a long random value, e.g. from `openssl rand -hex 32`), or empty to accept only the bearer token on POST /v1/hr-events", n, minWebhookSecretLength)
	}
	if c.Fields.StartDate != "" && c.Fields.StartDate == c.Fields.EndDate {
		add("fields.end_date", "is the column of hr.fields.start_date too (%q): name the column of the last day in force", c.Fields.EndDate)
	}
}

// dateParser reads the date columns of one snapshot.
type dateParser struct {
	layout string
	loc    *time.Location
}

// parse reads one value: the layout first (the day as written), then a
// date with its offset (XML Schema's xs:date, 2026-12-31-08:00: the day as
// written), then an RFC 3339 (or PostgreSQL) timestamp: at midnight, a
// date serialised as a timestamp ("2026-12-31T00:00:00.000Z", as
// JavaScript's toISOString and many HR APIs write dates), the day as
// written; at any other time an instant, the day it falls on in loc.
func (p dateParser) parse(v string) (Date, bool) {
	if v == "" || zeroDate(v) {
		return 0, true
	}
	if t, err := time.ParseInLocation(p.layout, v, p.loc); err == nil {
		return DateOf(t), true
	}
	for _, layout := range timestampLayouts {
		t, err := time.Parse(layout, v)
		if err != nil {
			continue
		}
		if h, m, s := t.Clock(); h == 0 && m == 0 && s == 0 && t.Nanosecond() == 0 {
			return DateOf(t), true
		}
		return DateOf(t.In(p.loc)), true
	}
	if t, err := time.Parse("2006-01-02Z07:00", v); err == nil {
		return DateOf(t), true // xs:date with its offset (Workday's XML)
	}
	if d, ok := odataDate(v); ok {
		return d, true
	}
	return 0, false
}

// timestampLayouts are the timestamps always accepted: RFC 3339, and
// PostgreSQL's text for timestamptz (a space for the T, and an offset of
// hours only when it has no minutes), which the postgres source reads.
var timestampLayouts = []string{time.RFC3339, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05Z07"}

// zeroDate says whether v is a zero date, which some systems write for
// none: BambooHR's 0000-00-00 (MySQL's zero date, with or without a zero
// time), 00/00/0000 and the like: zeros and separators only.
func zeroDate(v string) bool {
	return strings.Contains(v, "0000") && strings.Trim(v, "0-/.: T") == ""
}

// odataDate reads OData v2's JSON dates, as SAP SuccessFactors sends them:
// "/Date(1420070400000)/" (Edm.DateTime: milliseconds since the epoch; a
// date-only field such as hireDate is midnight UTC, so its day is the UTC
// day, whatever hr's timezone) and "/Date(1420070400000+0060)/"
// (Edm.DateTimeOffset: the same instant, and the offset in minutes of the
// local time whose day it is).
func odataDate(v string) (Date, bool) {
	inner, ok := strings.CutPrefix(v, "/Date(")
	if !ok {
		return 0, false
	}
	if inner, ok = strings.CutSuffix(inner, ")/"); !ok {
		return 0, false
	}
	offset := 0
	if i := strings.LastIndexAny(inner, "+-"); i > 0 {
		m, err := strconv.Atoi(inner[i+1:])
		if err != nil || len(inner[i+1:]) != 4 || m > 18*60 {
			return 0, false
		}
		if inner[i] == '-' {
			m = -m
		}
		offset, inner = m, inner[:i]
	}
	ms, err := strconv.ParseInt(inner, 10, 64)
	if err != nil || ms < -62135596800000 || ms > 253402300799999 { // years 1 to 9999
		return 0, false
	}
	t := time.UnixMilli(ms).UTC().Add(time.Duration(offset) * time.Minute)
	return DateOf(t), true
}

// readDates fills Start, End and DateProblem of every record from the
// columns hr.fields.start_date and end_date. A column missing from the data
// is a problem of the feed (a configuration mistake); a value that is not a
// date is a problem of its record only, which the planner reports and
// which holds the deletes that record could cause. An end date before the
// start date belongs to an earlier employment (a rehire): it is ignored
// (kept in StaleEnd, which the planner warns of).
func (c *collector) readDates(s *Schema) {
	f := c.cfg.Fields
	if f.StartDate == "" && f.EndDate == "" {
		return
	}
	word := c.fieldWord()
	cols := [2]int{-1, -1}
	for i, m := range []struct{ key, col string }{{"start_date", f.StartDate}, {"end_date", f.EndDate}} {
		if m.col == "" {
			continue
		}
		if cols[i] = s.Index(m.col); cols[i] < 0 {
			c.probs.add("hr.fields."+m.key, "names %s %q, which is not in the data (%ss: %s): fix the name or leave it empty", word, m.col, word, columnList(s.Columns))
		}
	}
	if cols[0] < 0 && f.StartDate != "" || cols[1] < 0 && f.EndDate != "" {
		return
	}
	p := dateParser{layout: c.cfg.DateFormat, loc: c.cfg.loc}
	if p.layout == "" {
		p.layout = DefaultDateFormat
	}
	if p.loc == nil {
		p.loc = time.UTC
	}
	for i := range c.recs {
		r := &c.recs[i]
		var bad []string
		for j, key := range []string{"start_date", "end_date"} {
			if cols[j] < 0 {
				continue
			}
			v := strings.TrimSpace(r.Values[cols[j]])
			d, ok := p.parse(v)
			if !ok {
				bad = append(bad, fmt.Sprintf("hr.fields.%s (%s %q): %q is not a date in hr.date_format %q nor an RFC 3339 timestamp", key, word, s.Columns[cols[j]], v, p.layout))
				continue
			}
			if j == 0 {
				r.Start = d
			} else {
				r.End = d
			}
		}
		if len(bad) == 0 && r.Start != 0 && r.End != 0 && r.End < r.Start {
			// A rehire whose record still carries the previous
			// employment's termination: the end date belongs to an
			// earlier employment, and the record is in force from its
			// start date. The planner warns of it.
			r.StaleEnd, r.End = r.End, 0
		}
		if len(bad) > 0 {
			r.DateProblem = strings.Join(bad, "; ") + "; fix the record"
			r.Start, r.End = 0, 0
		}
	}
}
