package main

import (
	"bufio"
	"bytes"
)

// indentWriter writes the compact JSON text given to it in pieces indented
// as json.Indent(dst, src, "", "  ") would: a newline and two spaces per
// level after each '{', '[' and ',' (none inside an empty object or
// array), a space after each ':', whitespace outside strings dropped and
// everything inside strings copied as it is. It keeps no more than its
// state between writes, so that printing a plan of tens of MB does not
// hold an indented copy of it (at 1,000,000 records that copy, and the
// merged one before it, were a quarter of a GB of memory touched once,
// each page a fault). It does not validate: the text is validated before
// anything is written (writeResultJSON).
type indentWriter struct {
	w          *bufio.Writer
	depth      int
	inString   bool
	escaped    bool // inside a string, after a backslash
	needIndent bool // after '{' or '[': indent unless the next byte closes it
	newline    []byte
}

func newIndentWriter(w *bufio.Writer) *indentWriter {
	return &indentWriter{w: w, newline: []byte("\n")}
}

// indent writes a newline and the indentation of the current depth.
func (iw *indentWriter) indent() {
	for len(iw.newline) < 1+2*iw.depth {
		iw.newline = append(iw.newline, "  "...)
	}
	_, _ = iw.w.Write(iw.newline[:1+2*iw.depth])
}

// write indents p, the next piece of the text; errors are the bufio
// writer's, seen when it is flushed.
func (iw *indentWriter) write(p []byte) {
	for len(p) > 0 {
		if iw.inString {
			// Copy up to the string's end (or the next escape) at once.
			n := 0
			for n < len(p) {
				c := p[n]
				n++
				if iw.escaped {
					iw.escaped = false
					continue
				}
				if c == '\\' {
					iw.escaped = true
				} else if c == '"' {
					iw.inString = false
					break
				}
			}
			_, _ = iw.w.Write(p[:n])
			p = p[n:]
			continue
		}
		c := p[0]
		p = p[1:]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		if iw.needIndent && c != '}' && c != ']' {
			iw.needIndent = false
			iw.depth++
			iw.indent()
		}
		switch c {
		case '"':
			iw.inString = true
			_ = iw.w.WriteByte(c)
		case '{', '[':
			// Delayed, so that an empty object or array stays {} or [].
			iw.needIndent = true
			_ = iw.w.WriteByte(c)
		case ',':
			_ = iw.w.WriteByte(c)
			iw.indent()
		case ':':
			_, _ = iw.w.WriteString(": ")
		case '}', ']':
			if iw.needIndent {
				iw.needIndent = false
			} else {
				iw.depth--
				iw.indent()
			}
			_ = iw.w.WriteByte(c)
		default:
			// A number or a literal: copy its run at once.
			n := bytes.IndexAny(p, ",:{}[]\" \t\n\r")
			if n < 0 {
				n = len(p)
			}
			_ = iw.w.WriteByte(c)
			_, _ = iw.w.Write(p[:n])
			p = p[n:]
		}
	}
}
