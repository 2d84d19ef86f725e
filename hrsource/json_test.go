package hrsource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		cfg     Config
		content string
		ids     []string
		active  []string
		origins []string
		check   func(t *testing.T, s *Snapshot)
	}{
		{
			name:    "array of objects, nested values by dotted path",
			file:    "hr.json",
			cfg:     Config{Fields: FieldsConfig{ID: "id", Email: "work.email", Name: "name"}, Active: `status == "active" and work.site == "Paris"`},
			content: `[{"id": 1, "name": "Ann", "status": "active", "work": {"email": "ann@x.io", "site": "Paris", "remote": true}},` + "\n" + `{"id": 2, "name": "Bob", "status": "active", "work": {"email": "bob@x.io", "site": "Lyon", "grade": 3.5}}]`,
			ids:     []string{"1", "2"},
			active:  []string{"1"},
			origins: []string{"hr.json: [0]", "hr.json: [1]"},
			check: func(t *testing.T, s *Snapshot) {
				want := []string{"id", "name", "status", "work.email", "work.site", "work.remote", "work.grade"}
				if !slices.Equal(s.Schema.Columns, want) {
					t.Errorf("columns = %q, want %q", s.Schema.Columns, want)
				}
				a, b := s.Records[0], s.Records[1]
				if a.Email != "ann@x.io" || a.Name != "Ann" {
					t.Errorf("record 1 = %+v", a)
				}
				if v, _ := a.Attr("work.remote"); v != "true" {
					t.Errorf("bool rendered %q", v)
				}
				if v, _ := b.Attr("work.grade"); v != "3.5" {
					t.Errorf("number rendered %q", v)
				}
				if v, ok := b.Attr("work.remote"); !ok || v != "" {
					t.Errorf("missing value = %q, %v; want empty", v, ok)
				}
			},
		},
		{
			name:    "Workday Report_Entry",
			file:    "report.json",
			cfg:     Config{RecordsPath: "Report_Entry", Fields: FieldsConfig{ID: "Employee_ID", Email: "Email_Address"}, Active: `Active_Status == "1"`},
			content: `{"Report_Entry": [{"Employee_ID": "21001", "Email_Address": "a@x.io", "Active_Status": "1", "Languages": ["en", "de"]}, {"Employee_ID": "21002", "Email_Address": "b@x.io", "Active_Status": "0", "Languages": []}]}`,
			ids:     []string{"21001", "21002"},
			active:  []string{"21001"},
			origins: []string{"report.json: Report_Entry[0]", "report.json: Report_Entry[1]"},
			check: func(t *testing.T, s *Snapshot) {
				if v, _ := s.Records[0].Attr("Languages"); v != `["en","de"]` {
					t.Errorf("array not configured multi-valued = %q, want compact JSON", v)
				}
			},
		},
		{
			name:    "nested records path, other keys skipped, arrays as multi-valued",
			file:    "hr.json",
			cfg:     Config{RecordsPath: "data.people", Fields: FieldsConfig{ID: "id"}, MultiValue: map[string]string{"langs": "|"}, Active: `"fr" in langs`},
			content: `{"meta": {"count": 2, "tags": [1, {"a": []}]}, "data": {"total": 2, "people": [{"id": "a", "langs": ["en", " fr "]}, {"id": "b", "langs": null}]}, "tail": [1]}`,
			ids:     []string{"a", "b"},
			active:  []string{"a"},
			check: func(t *testing.T, s *Snapshot) {
				if v, _ := s.Records[0].Attr("langs"); v != "en| fr" {
					t.Errorf("langs = %q", v)
				}
			},
		},
		{
			name:    "escapes and unicode",
			file:    "hr.json",
			cfg:     Config{Fields: FieldsConfig{ID: "id", Name: "name"}},
			content: "\uFEFF" + `[{"id": "\u00e9-1", "name": "Zo\u00eb \"Z\" Smith", "city": "Zürich"}]`,
			ids:     []string{"é-1"},
			active:  []string{"é-1"},
			check: func(t *testing.T, s *Snapshot) {
				if s.Records[0].Name != `Zoë "Z" Smith` {
					t.Errorf("name = %q", s.Records[0].Name)
				}
			},
		},
		{
			name:    "empty array",
			file:    "hr.json",
			cfg:     Config{Fields: FieldsConfig{ID: "id"}},
			content: `[]`,
			ids:     []string{},
		},
		{
			name:    "JSON Lines",
			file:    "hr.jsonl",
			cfg:     Config{Fields: FieldsConfig{ID: "id", LoginName: "login"}, Active: `active == "true"`},
			content: "{\"id\": 1, \"login\": \"ann\", \"active\": true}\r\n\n{\"id\": 2, \"login\": \"bob\", \"active\": false}\n{\"id\": 3, \"login\": \"cy\", \"active\": true}",
			ids:     []string{"1", "2", "3"},
			active:  []string{"1", "3"},
			origins: []string{"hr.jsonl:1", "hr.jsonl:3", "hr.jsonl:4"},
			check: func(t *testing.T, s *Snapshot) {
				if s.Records[1].LoginName != "bob" {
					t.Errorf("login = %q", s.Records[1].LoginName)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, err := readDoc(t, tt.file, tt.content, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(snap.Records); !slices.Equal(got, tt.ids) {
				t.Errorf("ids = %q, want %q", got, tt.ids)
			}
			if got := activeIDs(snap.Records); !slices.Equal(got, tt.active) {
				t.Errorf("active = %q, want %q", got, tt.active)
			}
			for i, o := range tt.origins {
				if snap.Records[i].Origin != o {
					t.Errorf("record %d origin = %q, want %q", i, snap.Records[i].Origin, o)
				}
			}
			if tt.check != nil {
				tt.check(t, snap)
			}
		})
	}
}

func TestJSONProblems(t *testing.T) {
	t.Parallel()
	id := FieldsConfig{ID: "id"}
	tests := []struct {
		name    string
		file    string
		cfg     Config
		content string
		want    []want
	}{
		{
			name:    "undecodable JSON with byte offset",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: `[{"id": "1"}, {"id": "2",, }]`,
			want:    []want{{"hr.json: [1]", []string{"undecodable JSON at byte 26", "invalid character ','"}}},
		},
		{
			name:    "cut short",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: `[{"id": "1"}, {"id": `,
			want:    []want{{"hr.json: [1]", []string{"undecodable JSON", "ends early"}}},
		},
		{
			name:    "missing id field",
			file:    "hr.json",
			cfg:     Config{Fields: FieldsConfig{ID: "employeeId", Email: "work.email"}},
			content: `[{"id": "1", "work": {"mail": "a@x.io"}}]`,
			want: []want{
				{"hr.fields.id", []string{`no field "employeeId"`, "id, work.mail"}},
				{"hr.fields.email", []string{`"work.email"`, "not in the data"}},
			},
		},
		{
			name:    "empty and absent ids, duplicate ids",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: `[{"id": "1"}, {"id": ""}, {"x": 1}, {"id": 1}]`,
			want: []want{
				{"hr.json: [1]", []string{"empty id", `field "id"`}},
				{"hr.json: [2]", []string{"empty id"}},
				{"hr.json: [3]", []string{`duplicate id "1"`, "also at hr.json: [0]"}},
			},
		},
		{
			name:    "invalid UTF-8",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: "[{\"id\": \"1\"}, {\"id\": \"2\xff\"}]",
			want:    []want{{"hr.json: [1]", []string{"not valid UTF-8"}}},
		},
		{
			name:    "record not an object",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: `[{"id": "1"}, 42, "x"]`,
			want: []want{
				{"hr.json: [1]", []string{"is a number, not an object"}},
				{"hr.json: [2]", []string{"is a string, not an object"}},
			},
		},
		{
			name:    "object without records_path",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: `{"count": 1, "employees": [{"id": "1"}]}`,
			want:    []want{{"hr.json", []string{"set hr.records_path", "arrays found at: employees"}}},
		},
		{
			name:    "wrong records_path",
			file:    "hr.json",
			cfg:     Config{Fields: id, RecordsPath: "Report_Entry"},
			content: `{"employees": [{"id": "1"}]}`,
			want:    []want{{"hr.json", []string{`no array of records at hr.records_path "Report_Entry"`, "employees"}}},
		},
		{
			name:    "records_path set on an array",
			file:    "hr.json",
			cfg:     Config{Fields: id, RecordsPath: "employees"},
			content: `[{"id": "1"}]`,
			want:    []want{{"hr.json", []string{"clear hr.records_path"}}},
		},
		{
			name:    "records_path not an array",
			file:    "hr.json",
			cfg:     Config{Fields: id, RecordsPath: "employees"},
			content: `{"employees": {"id": "1"}}`,
			want:    []want{{"hr.json", []string{"employees is an object, not an array"}}},
		},
		{
			name:    "trailing data",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: `[{"id": "1"}] [{"id": "2"}]`,
			want:    []want{{"hr.json", []string{"unexpected data after the JSON document at byte"}}},
		},
		{
			name:    "field twice after flattening",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: `[{"id": "1", "a.b": "x", "a": {"b": "y"}}]`,
			want:    []want{{"hr.json: [0]", []string{`"a.b" appears twice`}}},
		},
		{
			name:    "empty document",
			file:    "hr.json",
			cfg:     Config{Fields: id},
			content: ` `,
			want:    []want{{"hr.json", []string{"empty"}}},
		},
		{
			name:    "JSON Lines: every bad line reported",
			file:    "hr.jsonl",
			cfg:     Config{Fields: id},
			content: "{\"id\": \"1\"}\n{\"id\": \"2\"\n[1]\n{\"id\": \"\xff\"}\n{\"id\": \"1\"}\n",
			want: []want{
				{"hr.jsonl:2", []string{"undecodable JSON at byte 22"}},
				{"hr.jsonl:3", []string{"is an array, not an object"}},
				{"hr.jsonl:4", []string{"not valid UTF-8"}},
				{"hr.jsonl:5", []string{`duplicate id "1"`, "also at hr.jsonl:1"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, err := readDoc(t, tt.file, tt.content, tt.cfg)
			if snap != nil {
				t.Errorf("got a snapshot of %d records from a bad feed", len(snap.Records))
			}
			checkProblems(t, err, tt.want)
		})
	}
}

// readBothWays reads a JSON document held in memory through the streaming
// decoder (files) and through the in-place walk (HTTP pages).
func readBothWays(doc, recordsPath, nextPath string) (stream, inPlace *Snapshot, streamNext, inPlaceNext string, streamErr, inPlaceErr error) {
	cfg := fuzzConfig(TypeJSON)
	c := newCollector(cfg, nil)
	reread := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(doc)), nil }
	streamNext = c.readJSON(strings.NewReader(doc), reread, "page 1", recordsPath, nextPath)
	stream, streamErr = c.finish("f")
	c = newCollector(cfg, nil)
	inPlaceNext = c.readJSONBytes([]byte(doc), "page 1", recordsPath, nextPath)
	inPlace, inPlaceErr = c.finish("f")
	return
}

// TestJSONInPlaceMatchesStream: an HTTP page walked in place gives the
// records, origins, next page and problems the streaming decoder gives.
func TestJSONInPlaceMatchesStream(t *testing.T) {
	t.Parallel()
	tests := []struct{ doc, records, next string }{
		{`[{"id": "1", "email": "a@x.io"}, {"id": "2", "n": {"x": [1, 2]}}]`, "", ""},
		{"\uFEFF" + `{"d": {"results": [{"id": "1"}, {"id": "2"}], "__next": "https://h/x?$skiptoken=a\u0026b"}}`, "d.results", "d.__next"},
		{`{"meta": {"n": 1}, "d": [1], "Report_Entry": [{"id": "1"}], "x": []}`, "Report_Entry", ""},
		{`{"d": {"results": [], "__next": null}}`, "d.results", "d.__next"},
		{`{"data": [{"id": "1"}], "links": {"next": 3}}`, "data", "links.next"},
		{`{"data": {"id": "1"}}`, "data", ""},
		{`{"rows": [{"id": "1"}], "other": [1]}`, "records", ""},
		{`{"rows": [{"id": "1"}]}`, "", ""},
		{`[{"id": "1"}]`, "rows", ""},
		{`"just a string"`, "", ""},
		{`[{"id": "1"}, 7, {"id": "1"}, {"id": ""}, {"id": "3", "id": "4"}]`, "", ""},
		{`[{"id": "1", "e\u0301": "x", "k\\"q": "y"}]`, "", ""},
		// Not JSON past records the walk had read: what it added (records,
		// columns, problems) is undone before the streaming decoder reads
		// the page again.
		{`[{"id": "1", "a": null}, {"id": "1"}, {"id": "2", "extra": {"x": 1,]`, "", ""},
		{`{"data": [{"id": "1", "q": 1}], "next": "/p2", "tail": [1,}`, "data", "next"},
		{`[{"id": "1"}, {"id": "2"}] [`, "", ""},
		// Not UTF-8 somewhere: each record is checked before it is read.
		{"[{\"id\": \"1\", \"a\": 1}, {\"id\": \"\xff\", \"b\": 2}, {\"id\": \"3\"}]", "", ""},
	}
	for _, tt := range tests {
		stream, inPlace, sNext, iNext, sErr, iErr := readBothWays(tt.doc, tt.records, tt.next)
		if fmt.Sprint(sErr) != fmt.Sprint(iErr) || sNext != iNext {
			t.Errorf("%s:\nstream:   %v, next %q\nin place: %v, next %q", tt.doc, sErr, sNext, iErr, iNext)
			continue
		}
		if (stream == nil) != (inPlace == nil) {
			t.Errorf("%s: snapshots %v and %v", tt.doc, stream, inPlace)
			continue
		}
		if stream != nil && !reflect.DeepEqual(stream.Records, inPlace.Records) {
			t.Errorf("%s: records differ:\n%+v\n%+v", tt.doc, stream.Records, inPlace.Records)
		}
	}
}

// FuzzJSONInPlace: on any input, the in-place walk and the streaming
// decoder agree on the records and on whether the document is refused.
func FuzzJSONInPlace(f *testing.F) {
	f.Add(`{"d": {"results": [{"id": "1"}], "__next": "x"}}`, "d.results", "d.__next")
	f.Add(`[{"id": "1", "email": "a@x.io"}, {"id": "2"}]`, "", "")
	f.Add(`{"a": [1], "b": {"c": [{"id": "1"}]}}`, "b.c", "a")
	f.Add(`[{"id": "1"}, {"id": "1"}]`, "", "")
	f.Fuzz(func(t *testing.T, doc, records, next string) {
		if strings.ContainsAny(records+next, "\x00") {
			return
		}
		stream, inPlace, sNext, iNext, sErr, iErr := readBothWays(doc, records, next)
		if (sErr == nil) != (iErr == nil) {
			t.Fatalf("%q: stream %v, in place %v", doc, sErr, iErr)
		}
		if sErr == nil && (sNext != iNext || !reflect.DeepEqual(ids(stream.Records), ids(inPlace.Records))) {
			t.Fatalf("%q: stream %q next %q, in place %q next %q", doc, ids(stream.Records), sNext, ids(inPlace.Records), iNext)
		}
	})
}

// FuzzCompactJSON: compactJSON agrees with encoding/json's Compact on
// valid JSON, and returns text without whitespace unchanged.
func FuzzCompactJSON(f *testing.F) {
	for _, s := range []string{`[1, 2]`, `{"a": [ "x y", {"b" :null} ]}`, `["\" ", "\\", "a\tb"]`, "[\n\t1\r\n]", `[]`, `{"k":"v"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if got := compactJSON(s); got != want.String() {
			t.Fatalf("compactJSON(%q) = %q, want %q", s, got, want.String())
		}
	})
}
