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

// readJSONBytes is readJSON for a document held in memory (an HTTP page).
// A valid document is walked in place, each record a slice of its text;
// an invalid one goes through readJSON, which locates the error exactly.
func (c *collector) readJSONBytes(data []byte, name, recordsPath, nextPath string) string {
	body := bytes.TrimPrefix(data, utf8BOM)
	if !json.Valid(body) {
		reread := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		return c.readJSON(bytes.NewReader(data), reread, name, recordsPath, nextPath)
	}
	d := &jsonDoc{c: c, name: name, records: splitPath(recordsPath), next: splitPath(nextPath)}
	sc := &scanner{text: string(body)}
	from := len(c.recs)
	ok := d.documentText(sc)
	c.setOrigins(from, d.origin(name))
	if ok && !d.found {
		d.notFound(recordsPath)
	}
	return d.nextURL
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

// documentText walks a valid document held in sc, as document does.
func (d *jsonDoc) documentText(sc *scanner) bool {
	sc.ws()
	switch sc.peek() {
	case '[':
		if len(d.records) > 0 {
			d.c.probs.add(d.name, "the document is an array, but hr.records_path is %q: clear hr.records_path", strings.Join(d.records, "."))
			return false
		}
		d.found = true
		return d.arrayText(sc)
	case '{':
		return d.objectText(sc, nil)
	}
	vs, ve := sc.value()
	d.c.probs.add(d.name, "the document is %s, not an array of records or an object holding one", describeJSON(sc.text[vs:ve]))
	return false
}

// objectText walks an object at sc, as object does.
func (d *jsonDoc) objectText(sc *scanner, path []string) bool {
	sc.i++ // '{'
	for {
		sc.ws()
		switch sc.peek() {
		case '}':
			sc.i++
			return true
		case ',':
			sc.i++
			sc.ws()
		}
		ks, ke := sc.str()
		key, err := unquote(sc.text[ks:ke])
		if err != nil {
			return d.badText(err)
		}
		sc.ws()
		sc.i++ // ':'
		sc.ws()
		p := append(path[:len(path):len(path)], key)
		switch {
		case len(d.records) > 0 && equalPath(p, d.records):
			if sc.peek() != '[' {
				vs, ve := sc.value()
				d.c.probs.add(d.name, "%s is %s, not an array of records: fix hr.records_path", strings.Join(p, "."), describeJSON(sc.text[vs:ve]))
				return false
			}
			d.found = true
			if !d.arrayText(sc) {
				return false
			}
		case len(d.next) > 0 && equalPath(p, d.next):
			vs, ve := sc.value()
			switch v := sc.text[vs:ve]; v[0] {
			case '"':
				if d.nextURL, err = unquote(v[1 : len(v)-1]); err != nil {
					return d.badText(err)
				}
			case 'n':
			default:
				d.c.probs.add(d.name, "%s (hr.next_page_path) is %s, not a URL string", strings.Join(p, "."), describeJSON(v))
				return false
			}
		case sc.peek() == '{' && (hasPrefix(d.records, p) || hasPrefix(d.next, p)):
			if !d.objectText(sc, p) {
				return false
			}
		default:
			if vs, _ := sc.value(); len(path) == 0 && sc.text[vs] == '[' {
				d.arrays = append(d.arrays, key)
			}
		}
	}
}

// badText reports a string of a valid document that does not decode
// (json.Valid passed it: this does not happen, but must not panic).
func (d *jsonDoc) badText(err error) bool {
	d.c.probs.add(d.name, "undecodable JSON: %v", err)
	return false
}

// arrayText reads the records of the array at sc, as array does.
func (d *jsonDoc) arrayText(sc *scanner) bool {
	label := strings.Join(d.records, ".")
	sc.i++ // '['
	for i := 0; ; i++ {
		sc.ws()
		switch sc.peek() {
		case ']':
			sc.i++
			return true
		case ',':
			sc.i++
			sc.ws()
		}
		vs, ve := sc.value()
		raw := sc.text[vs:ve]
		where := func() string { return fmt.Sprintf("%s: %s[%d]", d.name, label, i) }
		if !utf8.ValidString(raw) {
			if !d.c.probs.add(where(), "not valid UTF-8: the feed must be UTF-8") {
				return false
			}
			continue
		}
		if !d.c.jsonRecordText(raw, where, i) {
			return false
		}
		if i+1 == sampleRows {
			d.c.presize(int64(ve))
		}
	}
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
		if i+1 == sampleRows {
			d.c.presize(d.dec.InputOffset())
		}
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
	return c.jsonRecordText(string(raw), where, pos) // values without escapes are slices of this
}

// jsonRecordText is jsonRecord for a record held as text.
func (c *collector) jsonRecordText(text string, where func() string, pos int) bool {
	sc := scanner{text: text}
	sc.ws()
	if sc.peek() != '{' {
		vs, ve := sc.value()
		return c.probs.add(where(), "is %s, not an object: every record must be a JSON object", describeJSON(text[vs:ve]))
	}
	pairs, err := c.flatten(&sc, c.name[:0], c.pairs[:0])
	if err == nil && len(c.paths) > 0 {
		pairs, err = c.appendPaths(text, pairs)
	}
	c.pairs = pairs[:0]
	if err != nil {
		return c.probs.add(where(), "%v", err)
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
				return c.probs.add(where(), "%s reads %q, a name the record already has as a field: use another name", key, c.columns[p.col])
			}
			return c.probs.add(where(), "%q appears twice in the record (once flattened from a nested object?): a field must be unambiguous", c.columns[p.col])
		}
		set[p.col] = true
		vals[p.col] = p.value
	}
	c.add(vals, pos)
	return true
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
func (c *collector) flatten(sc *scanner, prefix []byte, pairs []kv) ([]kv, error) {
	sc.i++ // '{'
	for {
		sc.ws()
		switch sc.peek() {
		case '}':
			sc.i++
			return pairs, nil
		case ',':
			sc.i++
			sc.ws()
		}
		if sc.peek() != '"' {
			return pairs, fmt.Errorf("undecodable JSON at byte %d of the record: expected a key", sc.i+1)
		}
		ks, ke := sc.str()
		key, err := unquote(sc.text[ks:ke])
		if err != nil {
			return pairs, err
		}
		sc.ws()
		if sc.peek() != ':' {
			return pairs, fmt.Errorf("undecodable JSON at byte %d of the record: expected ':'", sc.i+1)
		}
		sc.i++
		sc.ws()
		name := append(prefix, key...)
		if sc.peek() == '{' {
			if pairs, err = c.flatten(sc, append(name, '.'), pairs); err != nil {
				return pairs, err
			}
			continue
		}
		vs, ve := sc.value()
		if ve <= vs {
			return pairs, fmt.Errorf("undecodable JSON at byte %d of the record: expected a value", sc.i+1)
		}
		col := c.columnBytes(name)
		c.markValued(col, sc.text[vs] != 'n')
		v, err := c.jsonValue(sc.text[vs:ve], c.columns[col])
		if err != nil {
			return pairs, err
		}
		pairs = append(pairs, kv{col: col, value: strings.TrimSpace(v)})
		// Keep the grown buffer for the next record.
		if cap(name) > cap(c.name) {
			c.name = name[:0]
		}
	}
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

// scanner walks JSON text that is known to be valid. Every step is still
// bounds-checked, so text that is not cannot make it panic.
type scanner struct {
	text string
	i    int
}

func (s *scanner) peek() byte {
	if s.i < len(s.text) {
		return s.text[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.text) {
		switch s.text[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads the string at s.i and returns the span of its body.
func (s *scanner) str() (start, end int) {
	s.i++ // '"'
	start = s.i
	for s.i < len(s.text) {
		switch s.text[s.i] {
		case '\\':
			s.i += 2
		case '"':
			end = s.i
			s.i++
			return start, end
		default:
			s.i++
		}
	}
	s.i = len(s.text)
	return start, s.i
}

// value skips the value at s.i and returns its span.
func (s *scanner) value() (start, end int) {
	start = s.i
	switch s.peek() {
	case '"':
		s.str()
	case '{', '[':
		depth := 0
		for s.i < len(s.text) {
			switch s.text[s.i] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				break
			}
		}
	default:
		for s.i < len(s.text) && !strings.ContainsRune(",}] \t\n\r", rune(s.text[s.i])) {
			s.i++
		}
	}
	return start, min(s.i, len(s.text))
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
