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

// readJSON reads a JSON document from r; name prefixes problems and origins
// ("report.json" gives "report.json: Report_Entry[41]"). It returns the
// value found at nextPath, if any.
// reread opens the document again (see jsonDoc.reread).
func (c *collector) readJSON(r io.Reader, reread func() (io.ReadCloser, error), name, recordsPath, nextPath string) string {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); bytes.HasPrefix(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	d := &jsonDoc{c: c, dec: json.NewDecoder(br), name: name, records: splitPath(recordsPath), next: splitPath(nextPath), reread: reread}
	d.dec.UseNumber()
	from := len(c.recs)
	ok := d.document()
	label := strings.Join(d.records, ".")
	c.setOrigins(from, func(dst []byte, i int) []byte {
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, label...)
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(i), 10)
		return append(dst, ']')
	})
	if ok && !d.found {
		switch {
		case len(d.records) == 0:
			c.probs.add(name, "the document is an object, not an array of records: set hr.records_path to the key holding the records%s", d.arraysHint())
		default:
			c.probs.add(name, "no array of records at hr.records_path %q%s", recordsPath, d.arraysHint())
		}
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
		where := fmt.Sprintf("%s: %s[%d]", d.name, label, i)
		var raw json.RawMessage
		if err := d.dec.Decode(&raw); err != nil {
			return d.syntax(err, where)
		}
		if !utf8.Valid(raw) {
			if !d.c.probs.add(where, "not valid UTF-8: the feed must be UTF-8") {
				return false
			}
			continue
		}
		if !d.c.jsonRecord(raw, where, i) {
			return false
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
// nested objects into dotted columns. It reports whether to go on.
func (c *collector) jsonRecord(raw []byte, where string, pos int) bool {
	text := string(raw) // values without escapes are slices of this
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return c.probs.add(where, "undecodable JSON at byte %d of the record: %v", dec.InputOffset(), err)
	}
	if tok != json.Delim('{') {
		return c.probs.add(where, "is %s, not an object: every record must be a JSON object", describeToken(tok))
	}
	pairs := c.scratchPairs()
	pairs, err = c.flatten(dec, text, "", pairs)
	if err != nil {
		return c.probs.add(where, "%v", err)
	}
	n := 0
	for _, p := range pairs {
		n = max(n, p.col+1)
	}
	vals := c.values(n)
	set := c.setScratch(n)
	for _, p := range pairs {
		if set[p.col] {
			return c.probs.add(where, "%q appears twice in the record (once flattened from a nested object?): a field must be unambiguous", c.columns[p.col])
		}
		set[p.col] = true
		vals[p.col] = p.value
	}
	c.pairs = pairs[:0]
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

func (c *collector) scratchPairs() []kv { return c.pairs[:0] }

// flatten reads the members of an object whose '{' was read, appending
// (column, value) pairs with column names prefixed by prefix.
func (c *collector) flatten(dec *json.Decoder, text, prefix string, pairs []kv) ([]kv, error) {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return pairs, err
		}
		key, _ := tok.(string)
		name := prefix + key
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return pairs, err
		}
		// The value's text within text, so values without escapes can be
		// slices of it; a copy if the offsets ever disagree.
		end := int(dec.InputOffset())
		start := end - len(raw)
		var vtext string
		if start >= 0 && end <= len(text) && text[start:end] == string(raw) {
			vtext = text[start:end]
		} else {
			vtext = string(raw)
		}
		if len(raw) > 0 && raw[0] == '{' {
			sub := json.NewDecoder(strings.NewReader(vtext))
			sub.UseNumber()
			_, _ = sub.Token()
			pairs, err = c.flatten(sub, vtext, name+".", pairs)
			if err != nil {
				return pairs, err
			}
			continue
		}
		v, err := c.jsonValue(raw, vtext, name)
		if err != nil {
			return pairs, err
		}
		pairs = append(pairs, kv{col: c.column(name), value: strings.TrimSpace(v)})
	}
	_, err := dec.Token() // the closing '}'
	return pairs, err
}

// jsonValue renders a scalar or array as an attribute value: strings as
// themselves, numbers and booleans as written, null as "", an array as its
// values joined by the column's multi-value separator when it has one, else
// as compact JSON.
func (c *collector) jsonValue(raw []byte, text, col string) (string, error) {
	switch raw[0] {
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return text[1 : len(text)-1], nil
		}
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 'n':
		return "", nil
	case '[':
		sep, multi := c.cfg.MultiValue[col]
		if !multi {
			var b bytes.Buffer
			if err := json.Compact(&b, raw); err != nil {
				return "", err
			}
			return b.String(), nil
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", err
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			v, err := c.jsonValue(it, string(it), col)
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
			where := lineWhere(name, line)
			text := bytes.TrimSpace(b)
			switch {
			case len(text) == 0:
			case !utf8.Valid(text):
				if !c.probs.add(where, "not valid UTF-8: the file must be UTF-8") {
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
				if !c.probs.add(where, "undecodable JSON at byte %d: %v: each line must be one JSON object", at, serr) {
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
