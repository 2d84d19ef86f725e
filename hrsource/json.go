package hrsource

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/skillsync/skillsync/internal/jsonscan"
)

// jsonDoc reads one JSON document: an array of objects, or an object holding
// the array at a dotted records path (and, for HTTP pages, the URL of the
// next page at a dotted next-page path). Records are decoded one at a time.
type jsonDoc struct {
	c    *collector
	dec  *json.Decoder
	name string
	// records and next are the dotted paths, split.
	records, next []string
	// found tells whether the records array was found; nextURL is the
	// next-page value; arrays lists the top-level keys holding arrays (for
	// the hint when records_path is wrong).
	found   bool
	nextURL string
	arrays  []string
	// reread opens the document again, to locate a syntax error.
	reread func() (io.ReadCloser, error)
}

type kv struct {
	col   int
	value string
}

// readJSONBytes is readJSON for a document held in memory (an HTTP page,
// a JSON file read whole); data must not change afterwards (aliasText).
// It walks the page once with jsonscan's validating scanner, each record
// flattened where it lies and its values slices of the page's text. A
// page that turns out not to be JSON is read again through readJSON,
// which reports the error exactly as for a file, once what the walk had
// added is undone.
func (c *collector) readJSONBytes(data []byte, name, recordsPath, nextPath string) string {
	body := bytes.TrimPrefix(data, utf8BOM)
	d := &jsonDoc{c: c, name: name, records: splitPath(recordsPath), next: splitPath(nextPath)}
	pg := &page{doc: d, sc: jsonscan.Scanner{Data: body}, t: aliasText(body), utf8: utf8.Valid(body)}
	before := c.mark()
	err := pg.document()
	if syntaxError(err) != nil {
		c.undo(before)
		reread := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		return c.readJSON(bytes.NewReader(data), reread, name, recordsPath, nextPath)
	}
	c.setOrigins(before.recs, d.origin(name))
	if err == nil && !d.found {
		d.notFound(recordsPath)
	}
	return d.nextURL
}

// jsonText is JSON held as bytes, which jsonscan reads, and as a string of
// the same content, whose substrings become values without a copy.
type jsonText struct {
	data []byte
	text string
}

// aliasText is the jsonText of data without a copy: its text shares
// data's memory. data must never change afterwards; the callers' buffers
// (an HTTP page's body, a JSON file read whole) are read once and then
// only read. A copy would hold a second page (or file) in memory while
// the records are read, and for as long as their values live.
func aliasText(data []byte) jsonText {
	return jsonText{data: data, text: unsafe.String(unsafe.SliceData(data), len(data))}
}

// str returns the text of b, a slice of t.data (as jsonscan hands them
// out, its capacity running to the end of t.data).
func (t *jsonText) str(b []byte) string {
	off := cap(t.data) - cap(b)
	if off < 0 || off+len(b) > len(t.text) {
		return string(b) // not one of ours: a copy, never a wrong slice
	}
	return t.text[off : off+len(b)]
}

// syntaxError returns the *jsonscan.SyntaxError in err, if any.
func syntaxError(err error) *jsonscan.SyntaxError {
	if err == nil {
		return nil // before the variable, which errors.As moves to the heap
	}
	var se *jsonscan.SyntaxError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// errStop ends a walk at a problem already recorded.
var errStop = errors.New("stopped at a problem")

// stop turns the verdict of problems.add into a walk's error.
func stop(goOn bool) error {
	if goOn {
		return nil
	}
	return errStop
}

// page walks one HTTP page. Its methods return nil, errStop or the
// *jsonscan.SyntaxError where the page stops being JSON.
type page struct {
	doc *jsonDoc
	sc  jsonscan.Scanner
	t   jsonText
	// utf8 says that the whole page is valid UTF-8, so that its records
	// need no check of their own.
	utf8 bool
}

// origin formats the origins of a document's records ("page 2: d.results[3]").
func (d *jsonDoc) origin(name string) func(dst []byte, i int) []byte {
	label := strings.Join(d.records, ".")
	return func(dst []byte, i int) []byte {
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, label...)
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(i), 10)
		return append(dst, ']')
	}
}

// notFound reports a document without its records array.
func (d *jsonDoc) notFound(recordsPath string) {
	if len(d.records) == 0 {
		d.c.probs.add(d.name, "the document is an object, not an array of records: set hr.records_path to the key holding the records%s", d.arraysHint())
		return
	}
	d.c.probs.add(d.name, "no array of records at hr.records_path %q%s", recordsPath, d.arraysHint())
}

// document walks the page, as jsonDoc.document does.
func (p *page) document() error {
	d, sc := p.doc, &p.sc
	switch sc.Peek() {
	case '[':
		if len(d.records) > 0 {
			d.c.probs.add(d.name, "the document is an array, but hr.records_path is %q: clear hr.records_path", strings.Join(d.records, "."))
			return errStop
		}
		d.found = true
		if err := p.array(); err != nil {
			return err
		}
	case '{':
		if err := p.object(nil); err != nil {
			return err
		}
	default:
		v, err := sc.Value()
		if err != nil {
			return err
		}
		d.c.probs.add(d.name, "the document is %s, not an array of records or an object holding one", describeJSON(p.t.str(v)))
		return errStop
	}
	return sc.End()
}

// key returns an object key as a string: a slice of the text when it
// needs no decoding.
func (t *jsonText) key(raw []byte, plain bool) (string, error) {
	body := t.str(raw[1 : len(raw)-1])
	if plain {
		return body, nil
	}
	return unquote(body)
}

// object walks an object at path, as jsonDoc.object does: towards the
// records and next-page paths, skipping (and validating) everything else.
func (p *page) object(path []string) error {
	d, sc := p.doc, &p.sc
	return sc.ObjectAt(func(raw []byte, plain bool) error {
		key, err := p.t.key(raw, plain)
		if err != nil {
			return p.badText(err)
		}
		at := append(path[:len(path):len(path)], key)
		switch {
		case len(d.records) > 0 && equalPath(at, d.records):
			if sc.Peek() != '[' {
				v, err := sc.Value()
				if err != nil {
					return err
				}
				d.c.probs.add(d.name, "%s is %s, not an array of records: fix hr.records_path", strings.Join(at, "."), describeJSON(p.t.str(v)))
				return errStop
			}
			d.found = true
			return p.array()
		case len(d.next) > 0 && equalPath(at, d.next):
			raw, err := sc.Value()
			if err != nil {
				return err
			}
			switch v := p.t.str(raw); v[0] {
			case '"':
				if d.nextURL, err = unquote(v[1 : len(v)-1]); err != nil {
					return p.badText(err)
				}
			case 'n':
			default:
				d.c.probs.add(d.name, "%s (hr.next_page_path) is %s, not a URL string", strings.Join(at, "."), describeJSON(v))
				return errStop
			}
		case sc.Peek() == '{' && (hasPrefix(d.records, at) || hasPrefix(d.next, at)):
			return p.object(at)
		default:
			v, err := sc.Value()
			if err != nil {
				return err
			}
			if len(path) == 0 && v[0] == '[' {
				d.arrays = append(d.arrays, key)
			}
		}
		return nil
	})
}

// badText reports a string of valid JSON that does not decode (this does
// not happen, but must not panic).
func (p *page) badText(err error) error {
	p.doc.c.probs.add(p.doc.name, "undecodable JSON: %v", err)
	return errStop
}

// array reads the records of the array at the scanner, as jsonDoc.array
// does: each flattened where it lies, in the same pass that validates it.
func (p *page) array() error {
	d, sc := p.doc, &p.sc
	label := strings.Join(d.records, ".")
	i := 0
	return sc.ArrayAt(func() error {
		pos := i
		i++
		where := func() string { return fmt.Sprintf("%s: %s[%d]", d.name, label, pos) }
		if p.utf8 {
			if err := d.c.jsonRecordAt(sc, &p.t, where, pos); err != nil {
				return err
			}
		} else {
			// Somewhere the page is not UTF-8: check each record before
			// reading it, as the streaming decoder does.
			raw, err := sc.Value()
			if err != nil {
				return err
			}
			if !utf8.Valid(raw) {
				return stop(d.c.probs.add(where(), "not valid UTF-8: the feed must be UTF-8"))
			}
			rec := jsonscan.Scanner{Data: raw}
			if err := d.c.jsonRecordAt(&rec, &p.t, where, pos); err != nil {
				return err
			}
		}
		d.c.sized(pos+1, int64(sc.Pos))
		return nil
	})
}

// readJSON reads a JSON document from r; name prefixes problems and origins
// ("report.json" gives "report.json: Report_Entry[41]"), reread opens the
// document again to locate a syntax error exactly. It returns the value
// found at nextPath, if any.
func (c *collector) readJSON(r io.Reader, reread func() (io.ReadCloser, error), name, recordsPath, nextPath string) string {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); bytes.HasPrefix(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	d := &jsonDoc{c: c, dec: json.NewDecoder(br), name: name, records: splitPath(recordsPath), next: splitPath(nextPath), reread: reread}
	d.dec.UseNumber()
	from := len(c.recs)
	ok := d.document()
	c.setOrigins(from, d.origin(name))
	if ok && !d.found {
		d.notFound(recordsPath)
	}
	return d.nextURL
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, ".")
}

func (d *jsonDoc) arraysHint() string {
	if len(d.arrays) == 0 {
		return ""
	}
	return " (arrays found at: " + strings.Join(d.arrays, ", ") + ")"
}

// document reads the whole document; false means it stopped at a problem.
func (d *jsonDoc) document() bool {
	tok, err := d.dec.Token()
	if err == io.EOF {
		d.c.probs.add(d.name, "empty: expected a JSON array of records or an object holding one")
		return false
	}
	if err != nil {
		return d.syntax(err, "")
	}
	switch tok {
	case json.Delim('['):
		if len(d.records) > 0 {
			d.c.probs.add(d.name, "the document is an array, but hr.records_path is %q: clear hr.records_path", strings.Join(d.records, "."))
			return false
		}
		d.found = true
		if !d.array() {
			return false
		}
	case json.Delim('{'):
		if !d.object(nil) {
			return false
		}
	default:
		d.c.probs.add(d.name, "the document is %s, not an array of records or an object holding one", describeToken(tok))
		return false
	}
	if _, err := d.dec.Token(); err != io.EOF {
		d.c.probs.add(d.name, "unexpected data after the JSON document at byte %d: a file holds one document", d.dec.InputOffset())
		return false
	}
	return true
}

// object walks an object whose '{' was read, at path, descending towards
// the records and next-page paths and skipping everything else.
func (d *jsonDoc) object(path []string) bool {
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return d.syntax(err, "")
		}
		key, _ := tok.(string)
		p := append(path[:len(path):len(path)], key)
		switch {
		case len(d.records) > 0 && equalPath(p, d.records):
			tok, err := d.dec.Token()
			if err != nil {
				return d.syntax(err, "")
			}
			if tok != json.Delim('[') {
				d.c.probs.add(d.name, "%s is %s, not an array of records: fix hr.records_path", strings.Join(p, "."), describeToken(tok))
				return false
			}
			d.found = true
			if !d.array() {
				return false
			}
		case len(d.next) > 0 && equalPath(p, d.next):
			tok, err := d.dec.Token()
			if err != nil {
				return d.syntax(err, "")
			}
			switch v := tok.(type) {
			case string:
				d.nextURL = v
			case nil:
			default:
				d.c.probs.add(d.name, "%s (hr.next_page_path) is %s, not a URL string", strings.Join(p, "."), describeToken(tok))
				return false
			}
		case hasPrefix(d.records, p) || hasPrefix(d.next, p):
			tok, err := d.dec.Token()
			if err != nil {
				return d.syntax(err, "")
			}
			if tok == json.Delim('{') {
				if !d.object(p) {
					return false
				}
			} else if delim, ok := tok.(json.Delim); ok && !d.skipRest(delim) {
				return false
			}
		default:
			var raw json.RawMessage
			if err := d.dec.Decode(&raw); err != nil {
				return d.syntax(err, "")
			}
			if len(path) == 0 && len(raw) > 0 && raw[0] == '[' {
				d.arrays = append(d.arrays, key)
			}
		}
	}
	if _, err := d.dec.Token(); err != nil { // the closing '}'
		return d.syntax(err, "")
	}
	return true
}

// skipRest skips the rest of a composite value whose opening delim was read.
func (d *jsonDoc) skipRest(open json.Delim) bool {
	if open != '[' && open != '{' {
		return true
	}
	for depth := 1; depth > 0; {
		tok, err := d.dec.Token()
		if err != nil {
			return d.syntax(err, "")
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	return true
}

// array reads the records of an array whose '[' was read.
func (d *jsonDoc) array() bool {
	label := strings.Join(d.records, ".")
	for i := 0; d.dec.More(); i++ {
		// Built only for a problem: formatting it for every record costs.
		where := func() string { return fmt.Sprintf("%s: %s[%d]", d.name, label, i) }
		var raw json.RawMessage
		if err := d.dec.Decode(&raw); err != nil {
			return d.syntax(err, where())
		}
		if !utf8.Valid(raw) {
			if !d.c.probs.add(where(), "not valid UTF-8: the feed must be UTF-8") {
				return false
			}
			continue
		}
		if !d.c.jsonRecord(raw, where, i) {
			return false
		}
		d.c.sized(i+1, d.dec.InputOffset())
	}
	if _, err := d.dec.Token(); err != nil { // the closing ']'
		return d.syntax(err, "")
	}
	return true
}

// syntax records undecodable JSON, with its byte offset; reading stops.
func (d *jsonDoc) syntax(err error, where string) bool {
	if where == "" {
		where = d.name
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// A Decoder's offsets are relative to its buffer mid-stream: find the
		// exact one by decoding the document again, on this error path only.
		at := se.Offset
		if d.reread != nil {
			if off, ok := syntaxOffset(d.reread); ok {
				at = off
			}
		}
		d.c.probs.add(where, "undecodable JSON at byte %d: %v: fix the document (it must be valid JSON)", at, se)
	} else if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		d.c.probs.add(where, "undecodable JSON: the document ends early at byte %d: it is cut short", d.dec.InputOffset())
	} else {
		d.c.probs.add(where, "undecodable JSON at byte %d: %v", d.dec.InputOffset(), err)
	}
	return false
}

// jsonRecord adds the object raw as a record at position pos, flattening
// nested objects into dotted columns. raw must be valid JSON (the callers
// have had a json.Decoder or json.Valid check it). It reports whether to go
// on.
func (c *collector) jsonRecord(raw []byte, where func() string, pos int) bool {
	t := jsonText{data: raw, text: string(raw)} // values without escapes are slices of this
	sc := jsonscan.Scanner{Data: raw}
	err := c.jsonRecordAt(&sc, &t, where, pos)
	if se := syntaxError(err); se != nil {
		return c.probs.add(where(), "undecodable JSON at byte %d of the record: %s", se.Offset+1, se.What)
	}
	return err == nil
}

// jsonRecordAt reads the record at the scanner, whose data is t's or a
// slice of it, and adds it as jsonRecord does. It returns nil to go on,
// errStop after a problem that ends the read, or the *jsonscan.SyntaxError
// where the record stops being JSON (then nothing is added).
func (c *collector) jsonRecordAt(sc *jsonscan.Scanner, t *jsonText, where func() string, pos int) error {
	if sc.Peek() != '{' {
		v, err := sc.Value()
		if err != nil {
			return err
		}
		return stop(c.probs.add(where(), "is %s, not an object: every record must be a JSON object", describeJSON(t.str(v))))
	}
	start := sc.Pos
	pairs, err := c.flatten(sc, t, c.name[:0], c.pairs[:0])
	if syntaxError(err) != nil {
		c.pairs = pairs[:0]
		return err
	}
	if err == nil && len(c.paths) > 0 {
		pairs, err = c.appendPaths(t, sc.Data[start:sc.Pos], pairs)
	}
	c.pairs = pairs[:0]
	if err != nil {
		return stop(c.probs.add(where(), "%v", err))
	}
	n := 0
	for _, p := range pairs {
		n = max(n, p.col+1)
	}
	vals := c.values(n)
	set := c.setScratch(n)
	for _, p := range pairs {
		if set[p.col] {
			if key := c.pathKey(p.col); key != "" {
				return stop(c.probs.add(where(), "%s reads %q, a name the record already has as a field: use another name", key, c.columns[p.col]))
			}
			return stop(c.probs.add(where(), "%q appears twice in the record (once flattened from a nested object?): a field must be unambiguous", c.columns[p.col]))
		}
		set[p.col] = true
		vals[p.col] = p.value
	}
	c.add(vals, pos)
	return nil
}

// setScratch returns n cleared flags, reused between records.
func (c *collector) setScratch(n int) []bool {
	if cap(c.set) < n {
		c.set = make([]bool, n)
	}
	c.set = c.set[:n]
	clear(c.set)
	return c.set
}

// flatten reads the object at the scanner, appending (column, value) pairs
// whose column names start with prefix. It works on the record's text
// rather than through json.Decoder tokens: a token costs an allocation, a
// slice of the text does not.
func (c *collector) flatten(sc *jsonscan.Scanner, t *jsonText, prefix []byte, pairs []kv) ([]kv, error) {
	err := sc.ObjectAt(func(raw []byte, plain bool) error {
		name := prefix
		if plain {
			name = append(name, raw[1:len(raw)-1]...)
		} else {
			key, err := t.key(raw, false)
			if err != nil {
				return err
			}
			name = append(name, key...)
		}
		if sc.Peek() == '{' {
			var err error
			pairs, err = c.flatten(sc, t, append(name, '.'), pairs)
			return err
		}
		v, err := sc.Value()
		if err != nil {
			return err
		}
		col := c.columnBytes(name)
		c.markValued(col, v[0] != 'n')
		val, err := c.jsonValue(t.str(v), c.columns[col])
		if err != nil {
			return err
		}
		pairs = append(pairs, kv{col: col, value: strings.TrimSpace(val)})
		// Keep the grown buffer for the next record.
		if cap(name) > cap(c.name) {
			c.name = name[:0]
		}
		return nil
	})
	return pairs, err
}

// columnBytes is column for a name held in a reused buffer: the lookup
// does not allocate, only a new column's name does.
func (c *collector) columnBytes(name []byte) int {
	if i, ok := c.colIndex[string(name)]; ok {
		return i
	}
	return c.column(string(name))
}

// jsonValue renders a scalar or array (its JSON text) as an attribute
// value: strings as themselves, numbers and booleans as written, null as
// "", an array as its values joined by the column's multi-value separator
// when it has one, else as compact JSON.
func (c *collector) jsonValue(text, col string) (string, error) {
	switch text[0] {
	case '"':
		if len(text) < 2 || text[len(text)-1] != '"' {
			return "", errors.New("undecodable JSON: unterminated string")
		}
		return unquote(text[1 : len(text)-1])
	case 'n':
		return "", nil
	case '[':
		sep, multi := c.cfg.MultiValue[col]
		if !multi {
			return compactJSON(text), nil
		}
		var items []json.RawMessage
		if err := json.Unmarshal([]byte(text), &items); err != nil {
			return "", err
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			v, err := c.jsonValue(string(it), col)
			if err != nil {
				return "", err
			}
			parts = append(parts, v)
		}
		return strings.Join(parts, sep), nil
	default:
		return text, nil
	}
}

// compactJSON drops the insignificant whitespace of valid JSON text; text
// without any is returned as is (no copy).
func compactJSON(text string) string {
	in, i := false, 0
	for ; i < len(text); i++ {
		ch := text[i]
		if in {
			switch ch {
			case '\\':
				i++
			case '"':
				in = false
			}
			continue
		}
		if ch == '"' {
			in = true
		} else if ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' {
			break
		}
	}
	if i >= len(text) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	b.WriteString(text[:i])
	for ; i < len(text); i++ {
		ch := text[i]
		if in {
			b.WriteByte(ch)
			switch ch {
			case '\\':
				if i+1 < len(text) {
					i++
					b.WriteByte(text[i])
				}
			case '"':
				in = false
			}
			continue
		}
		switch ch {
		case ' ', '\t', '\n', '\r':
		case '"':
			in = true
			b.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// unquote decodes the body of a JSON string (between its quotes); without
// escapes it is the body itself.
func unquote(body string) (string, error) {
	if strings.IndexByte(body, '\\') < 0 {
		return body, nil
	}
	var s string
	err := json.Unmarshal([]byte(`"`+body+`"`), &s)
	return s, err
}

// describeJSON names the kind of a JSON value for a message.
func describeJSON(text string) string {
	if text == "" {
		return "empty"
	}
	switch text[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// describeToken names a JSON token for a message.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", v.String())
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

func equalPath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hasPrefix reports whether prefix is a proper prefix of path.
func hasPrefix(path, prefix []string) bool {
	return len(prefix) < len(path) && equalPath(path[:len(prefix)], prefix)
}

// readJSONL reads JSON Lines: one object per line, blank lines skipped.
func (c *collector) readJSONL(r io.Reader, name string) {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); bytes.HasPrefix(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	from := len(c.recs)
	defer c.setOrigins(from, func(dst []byte, line int) []byte {
		dst = append(dst, name...)
		dst = append(dst, ':')
		return strconv.AppendInt(dst, int64(line), 10)
	})
	var offset int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			where := func() string { return lineWhere(name, line) }
			text := bytes.TrimSpace(b)
			switch {
			case len(text) == 0:
			case !utf8.Valid(text):
				if !c.probs.add(where(), "not valid UTF-8: the file must be UTF-8") {
					return
				}
			case !json.Valid(text):
				var v any
				serr := json.Unmarshal(text, &v)
				var se *json.SyntaxError
				at := offset + int64(bytes.Index(b, text[:1]))
				if errors.As(serr, &se) {
					at += se.Offset
				}
				if !c.probs.add(where(), "undecodable JSON at byte %d: %v: each line must be one JSON object", at, serr) {
					return
				}
			default:
				if !c.jsonRecord(text, where, line) {
					return
				}
			}
			offset += int64(len(b))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			c.probs.add(name, "read: %v", err)
			return
		}
	}
}

// syntaxOffset returns the offset of the first syntax error of a document:
// the number of bytes up to and including the offending one.
func syntaxOffset(open func() (io.ReadCloser, error)) (int64, bool) {
	rc, err := open()
	if err != nil {
		return 0, false
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	var skipped int64
	if head, _ := br.Peek(3); bytes.HasPrefix(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
		skipped = int64(len(utf8BOM))
	}
	dec := json.NewDecoder(br)
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return skipped + se.Offset, true
		}
		if err != nil {
			return 0, false
		}
	}
}
