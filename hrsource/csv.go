package hrsource

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readCSV reads one CSV document (header row, then one record per row) from
// r, streaming it. name prefixes the line numbers of problems and origins
// ("hr.csv" gives "hr.csv:12"). It returns the header, or nil when there is
// none to use.
func (c *collector) readCSV(r io.Reader, name string, delim rune) []string {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); bytes.HasPrefix(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	} else if len(head) >= 2 && (head[0] == 0xFF && head[1] == 0xFE || head[0] == 0xFE && head[1] == 0xFF) {
		c.probs.add(name, "the file is UTF-16: save it as UTF-8 (in Excel: \"CSV UTF-8\")")
		return nil
	}
	cr := csv.NewReader(br)
	cr.Comma = delim
	cr.ReuseRecord = true
	// Field counts are checked below, to report them in our words and go on.
	cr.FieldsPerRecord = -1

	header, err := cr.Read()
	if err == io.EOF {
		c.probs.add(name, "empty: expected a header row naming the columns")
		return nil
	}
	if err != nil {
		c.csvError(name, err)
		return nil
	}
	columns := make([]string, len(header))
	for i, h := range header {
		if !utf8.ValidString(h) {
			c.probs.add(name+":1", "header is not valid UTF-8: save the file as UTF-8")
			return nil
		}
		columns[i] = strings.TrimSpace(h)
	}

	from := len(c.recs)
rows:
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !c.csvError(name, err) {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(columns) {
			if !c.probs.add(lineWhere(name, line), "%d fields, but the header has %d: quote values containing %q, and give every row all columns", len(rec), len(columns), delim) {
				break
			}
			continue
		}
		vals := c.values(len(rec))
		for i, f := range rec {
			if !utf8.ValidString(f) {
				if !c.probs.add(lineWhere(name, line), "column %q is not valid UTF-8: save the file as UTF-8", columns[i]) {
					break rows
				}
				continue rows
			}
			vals[i] = strings.TrimSpace(f)
		}
		c.add(vals, line)
		c.sized(len(c.recs)-from, cr.InputOffset())
	}
	c.setOrigins(from, func(dst []byte, line int) []byte {
		dst = append(dst, name...)
		dst = append(dst, ':')
		return strconv.AppendInt(dst, int64(line), 10)
	})
	return columns
}

// sampleRows is how many rows are read before the record slice is sized
// for the whole file.
const sampleRows = 512

func lineWhere(name string, line int) string {
	return name + ":" + strconv.Itoa(line)
}

// csvError records a CSV syntax error and reports whether to go on.
func (c *collector) csvError(name string, err error) bool {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		c.probs.add(name, "read: %v", err)
		return false
	}
	hint := ""
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		hint = `: a value containing a quote must itself be quoted, with the quote doubled ("say ""hi""")`
	case errors.Is(pe.Err, csv.ErrQuote):
		hint = ": a quoted value must end with a quote followed by the delimiter or the end of the line"
	}
	where := lineWhere(name, pe.Line)
	if pe.StartLine != pe.Line {
		where = fmt.Sprintf("%s:%d-%d", name, pe.StartLine, pe.Line)
	}
	return c.probs.add(where, "bad CSV (column %d): %v%s", pe.Column, pe.Err, hint)
}
