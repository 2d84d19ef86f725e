package hrsource

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fuzzConfig is the configuration fuzzed inputs are read with.
func fuzzConfig(typ string) *Config {
	cfg := Config{Type: typ, Fields: FieldsConfig{ID: "id", Email: "email"}}.WithDefaults()
	return &cfg
}

// readCSVString reads a CSV document held in memory.
func readCSVString(data string) (*Snapshot, error) {
	c := newCollector(fuzzConfig(TypeCSV), nil)
	c.columns = c.readCSV(strings.NewReader(data), "f.csv", ',')
	return c.finish("f.csv")
}

// readJSONString reads a JSON document held in memory.
func readJSONString(data string) (*Snapshot, error) {
	c := newCollector(fuzzConfig(TypeJSON), nil)
	reread := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }
	c.readJSON(strings.NewReader(data), reread, "f.json", "", "")
	return c.finish("f.json")
}

// readJSONLString reads JSON Lines held in memory.
func readJSONLString(data string) (*Snapshot, error) {
	c := newCollector(fuzzConfig(TypeJSONL), nil)
	c.readJSONL(strings.NewReader(data), "f.jsonl")
	return c.finish("f.jsonl")
}

// checkSnapshot asserts the invariants of any accepted snapshot.
func checkSnapshot(t *testing.T, s *Snapshot) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range s.Records {
		if r.ID == "" || seen[r.ID] {
			t.Fatalf("accepted record with empty or duplicate id %q", r.ID)
		}
		seen[r.ID] = true
		if len(r.Values) != len(s.Schema.Columns) || r.Schema != s.Schema || r.Origin == "" {
			t.Fatalf("record %q: %d values for %d columns, origin %q", r.ID, len(r.Values), len(s.Schema.Columns), r.Origin)
		}
		_ = r.Env()
	}
	if s.Stats.Records != len(s.Records) {
		t.Fatalf("stats %+v for %d records", s.Stats, len(s.Records))
	}
}

// sameRecords compares two snapshots, origins aside.
func sameRecords(t *testing.T, a, b *Snapshot) {
	t.Helper()
	if !slices.Equal(a.Schema.Columns, b.Schema.Columns) {
		t.Fatalf("columns %q became %q", a.Schema.Columns, b.Schema.Columns)
	}
	if len(a.Records) != len(b.Records) {
		t.Fatalf("%d records became %d", len(a.Records), len(b.Records))
	}
	for i := range a.Records {
		x, y := a.Records[i], b.Records[i]
		if x.ID != y.ID || x.Email != y.Email || x.Active != y.Active || !slices.Equal(x.Values, y.Values) {
			t.Fatalf("record %d: %q %q became %q %q", i, x.ID, x.Values, y.ID, y.Values)
		}
	}
	if !reflect.DeepEqual(a.Stats, b.Stats) {
		t.Fatalf("stats %+v became %+v", a.Stats, b.Stats)
	}
}

func renderCSV(t *testing.T, s *Snapshot) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(s.Schema.Columns)
	for _, r := range s.Records {
		_ = w.Write(r.Values)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func renderJSON(t *testing.T, s *Snapshot) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range s.Records {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, col := range s.Schema.Columns {
			if j > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(col)
			v, _ := json.Marshal(r.Values[j])
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String()
}

// FuzzCSV: never panic; whatever is accepted, written back as CSV, reads
// back to the same records.
func FuzzCSV(f *testing.F) {
	for _, seed := range []string{
		"id,email,tags\n1,a@x.io,x;y\n2,b@x.io,\n",
		"\uFEFFid,email\r\n1,\"a\r\nb\"\r\n2,\"say \"\"hi\"\"\"\r\n",
		" id , email \n 1 , a \n",
		"id,email\n1,a\n,b\n1,c\n2\n3,\xff\n",
		"id,email\n1,\"a\n",
		"id,email,email\n1,a,b\n",
		"id\n1\n2\n\n3\n",
		"",
		"\xff\xfei\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		snap, err := readCSVString(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 || snap != nil {
				t.Fatalf("error %v (%T) with snapshot %v", err, err, snap)
			}
			return
		}
		checkSnapshot(t, snap)
		again, err := readCSVString(renderCSV(t, snap))
		if err != nil {
			t.Fatalf("rendered CSV refused: %v", err)
		}
		sameRecords(t, snap, again)
	})
}

// FuzzJSON: never panic; whatever is accepted, written back as a JSON
// array of flat objects, reads back to the same records.
func FuzzJSON(f *testing.F) {
	for _, seed := range []string{
		`[{"id": 1, "email": "a@x.io", "work": {"site": "Paris", "n": 2.5, "ok": true}, "tags": ["a", " b "]}, {"id": "2", "x": null}]`,
		`[{"id": "\u00e9", "email": "Zo\u00eb \"Z\""}, {"id": "3", "list": [1, {"a": []}]}]`,
		`[{"id": "1"}, {"id": "2",, }]`,
		`[{"id": "1"}, 42, "x"]`,
		`{"employees": [{"id": "1"}]}`,
		`[{"id": "1", "a.b": "x", "a": {"b": "y"}}]`,
		`[]`,
		"[{\"id\": \"2\xff\"}]",
		`[{"id": "1"}] [1]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		snap, err := readJSONString(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 || snap != nil {
				t.Fatalf("error %v (%T) with snapshot %v", err, err, snap)
			}
			return
		}
		checkSnapshot(t, snap)
		compareWithEncodingJSON(t, data, snap)
		again, err := readJSONString(renderJSON(t, snap))
		if err != nil {
			t.Fatalf("rendered JSON refused: %v", err)
		}
		sameRecords(t, snap, again)
	})
}

// compareWithEncodingJSON checks the records of an accepted document
// against encoding/json's reading of it, flattened the documented way.
func compareWithEncodingJSON(t *testing.T, data string, snap *Snapshot) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(strings.TrimPrefix(data, "\uFEFF")))
	dec.UseNumber()
	var docs []map[string]any
	if err := dec.Decode(&docs); err != nil {
		t.Fatalf("encoding/json refuses an accepted document: %v", err)
	}
	if len(docs) != len(snap.Records) {
		t.Fatalf("encoding/json reads %d records, we read %d", len(docs), len(snap.Records))
	}
	for i, doc := range docs {
		want := map[string]string{}
		flattenReference(doc, "", want)
		r := snap.Records[i]
		for col, v := range want {
			got, ok := r.Attr(col)
			if !ok || (v != skipValue && got != v) {
				t.Fatalf("record %d %s = %q, encoding/json says %q", i, col, got, v)
			}
		}
		for j, col := range snap.Schema.Columns {
			if _, ok := want[col]; !ok && r.Values[j] != "" {
				t.Fatalf("record %d has %s = %q, which encoding/json does not see", i, col, r.Values[j])
			}
		}
	}
}

// skipValue marks arrays, whose compact JSON keeps the document's escapes.
const skipValue = "\x00array"

func flattenReference(m map[string]any, prefix string, out map[string]string) {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			flattenReference(v, prefix+k+".", out)
		case []any:
			out[prefix+k] = skipValue
		case nil:
			out[prefix+k] = ""
		case string:
			out[prefix+k] = strings.TrimSpace(v)
		case json.Number:
			out[prefix+k] = v.String()
		case bool:
			out[prefix+k] = strconv.FormatBool(v)
		}
	}
}

// FuzzJSONL: never panic; whatever is accepted, written back one object
// per line, reads back to the same records.
func FuzzJSONL(f *testing.F) {
	for _, seed := range []string{
		"{\"id\": 1, \"email\": \"a@x.io\", \"work\": {\"site\": \"Paris\"}}\r\n\n{\"id\": \"2\", \"x\": [1, 2]}",
		"{\"id\": \"1\"}\n{\"id\": \"2\"\n[1]\n{\"id\": \"\xff\"}\n{\"id\": \"1\"}\n",
		"\uFEFF{\"id\": \"\\u00e9\"}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		snap, err := readJSONLString(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 || snap != nil {
				t.Fatalf("error %v (%T) with snapshot %v", err, err, snap)
			}
			return
		}
		checkSnapshot(t, snap)
		var lines strings.Builder
		for _, r := range snap.Records {
			one := &Snapshot{Schema: snap.Schema, Records: []Record{r}}
			doc := renderJSON(t, one)
			lines.WriteString(doc[1 : len(doc)-1])
			lines.WriteByte('\n')
		}
		again, err := readJSONLString(lines.String())
		if err != nil {
			t.Fatalf("rendered JSON Lines refused: %v", err)
		}
		sameRecords(t, snap, again)
	})
}
