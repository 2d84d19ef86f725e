package lpsim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// configHandler handles an account-config call (Skills or Users API) after
// authentication; method is the effective verb after X-HTTP-Method-Override.
type configHandler func(w http.ResponseWriter, r *http.Request, method string)

// maxBody bounds request bodies; a batch of 1,000 full skills is ~1 MB.
const maxBody = 32 << 20

// config wraps a Skills/Users handler with what every such call needs:
// authentication (401), the account (403: valid credentials for another
// account), the verb override and the required v parameter (400).
func (s *Sim) config(h configHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if msg := s.authenticate(r); msg != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lpsim"`)
			writeError(w, http.StatusUnauthorized, "Not Authenticated: "+msg)
			return
		}
		if r.PathValue("acc") != s.opts.AccountID {
			writeError(w, http.StatusForbidden, "Not Authorized for account "+r.PathValue("acc"))
			return
		}
		method, msg := effectiveMethod(r)
		if msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		v := r.URL.Query().Get("v")
		if v == "" {
			writeError(w, http.StatusBadRequest, "query parameter v is required")
			return
		}
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			writeError(w, http.StatusBadRequest, "query parameter v must be a number, got "+strconv.Quote(v))
			return
		}
		if msg := checkContentType(r, method); msg != "" {
			writeError(w, http.StatusUnsupportedMediaType, msg)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h(w, r, method)
	}
}

// effectiveMethod applies X-HTTP-Method-Override, which LivePerson uses to
// tunnel PUT and DELETE through POST. A real PUT or DELETE must carry the
// header naming its own verb, as LivePerson's method pages require.
func effectiveMethod(r *http.Request) (string, string) {
	o := strings.ToUpper(strings.TrimSpace(r.Header.Get("X-HTTP-Method-Override")))
	switch r.Method {
	case http.MethodPut, http.MethodDelete:
		if o != r.Method {
			return "", fmt.Sprintf("X-HTTP-Method-Override: %s is required with %s (got %q)", r.Method, r.Method, o)
		}
		return r.Method, ""
	case http.MethodPost:
		switch o {
		case "", http.MethodPost:
			return http.MethodPost, ""
		case http.MethodPut, http.MethodDelete:
			return o, ""
		}
		return "", fmt.Sprintf("X-HTTP-Method-Override %q is not supported", o)
	case http.MethodGet:
		if o != "" && o != http.MethodGet {
			return "", fmt.Sprintf("X-HTTP-Method-Override %q does not match GET", o)
		}
		return http.MethodGet, ""
	}
	return r.Method, ""
}

// checkContentType requires a JSON Content-Type on requests that carry a
// body (POST, PUT, and DELETE with a list of ids), as LivePerson's method
// pages list it; a JAX-RS service answers anything else with 415.
func checkContentType(r *http.Request, method string) string {
	if method == http.MethodGet || (method == http.MethodDelete && r.ContentLength == 0) {
		return ""
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return fmt.Sprintf("Content-Type must be application/json, got %q", ct)
	}
	return ""
}

// ifMatch returns the If-Match value with surrounding quotes removed.
func ifMatch(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

// checkWriteRevision enforces If-Match on a write. Callers hold s.mu.
//
// Undocumented: LivePerson's method pages list If-Match for PUT and DELETE
// but not for POST, and do not say what a missing or stale value gets. lpsim
// requires it on PUT/DELETE (428 when missing, so a client bug is not
// mistaken for a conflict), refuses "-1" and "*" (400), and answers a stale
// value with Options.ConflictStatus. POST ignores the header, as a server
// that documents none would, unless Options.EnforceIfMatchOnCreate (then it
// is checked when present, by the same rules). Refusals carry no
// ac-revision (LivePerson documents it on successful responses), so a
// client must re-read.
func (s *Sim) checkWriteRevision(w http.ResponseWriter, r *http.Request, method string) bool {
	v := ifMatch(r)
	switch {
	case method == http.MethodPost && !s.opts.EnforceIfMatchOnCreate:
		return true
	case v == "" && method == http.MethodPost:
		return true
	case v == "":
		writeError(w, http.StatusPreconditionRequired, "If-Match with the current revision is required on "+method)
		return false
	case v == "-1" || v == "*":
		writeError(w, http.StatusBadRequest, "If-Match "+v+" is not accepted on writes; send the current revision")
		return false
	case v != strconv.FormatInt(s.revision, 10):
		writeError(w, s.opts.ConflictStatus, fmt.Sprintf("revision conflict: If-Match %s, current revision %d", v, s.revision))
		return false
	}
	return true
}

// notModified answers a GET whose If-Match equals rev (the revision the
// read sees: the current one, or an older one for a lagging read) with
// 304, as LivePerson's "Data Revisions" appendix describes (If-Match acts as
// If-None-Match on reads; -1 always gets the body). Callers hold s.mu.
func (s *Sim) notModified(w http.ResponseWriter, r *http.Request, rev int64) bool {
	if v := ifMatch(r); v != "" && v == strconv.FormatInt(rev, 10) {
		setRevision(w, rev)
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

func setRevision(w http.ResponseWriter, rev int64) {
	r := strconv.FormatInt(rev, 10)
	w.Header().Set("ac-revision", r)
	w.Header().Set("ETag", `"`+r+`"`)
}

// selector is a parsed YOGA select parameter: nil means all fields.
type selector []string

// parseSelect reads a gdata-style selector such as "id,name,lobIds" or
// "$all". Nested selections like "skillRoutingConfiguration(priority)" are
// accepted and return the whole field.
func parseSelect(q string, def selector) selector {
	q = strings.TrimSpace(q)
	switch q {
	case "":
		return def
	case "$all":
		return nil
	}
	var out selector
	depth, start := 0, 0
	flush := func(end int) {
		f := strings.TrimSpace(q[start:end])
		if i := strings.IndexByte(f, '('); i >= 0 {
			f = strings.TrimSpace(f[:i])
		}
		if f != "" {
			out = append(out, f)
		}
	}
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				flush(i)
				start = i + 1
			}
		}
	}
	flush(len(q))
	return out
}

// project returns the selected fields of obj. Fields the object lacks are
// left out.
func (sel selector) project(obj map[string]any) map[string]any {
	out := make(map[string]any, len(sel))
	for _, f := range sel {
		if v, ok := obj[f]; ok {
			out[f] = v
		}
	}
	return out
}

// encodeRecord writes rec as JSON: the cached full encoding, or a
// projection (masked for users).
func encodeRecord(w io.Writer, rec *record, sel selector, mask bool) error {
	if sel == nil {
		_, err := w.Write(rec.enc)
		return err
	}
	obj := rec.obj
	if mask {
		obj = maskUser(obj)
	}
	b, err := json.Marshal(sel.project(obj))
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// writeList streams a JSON array of records, so a list of 20,000 users is
// not built in memory twice.
func writeList(w http.ResponseWriter, status int, rev int64, recs []*record, sel selector, mask bool) {
	setRevision(w, rev)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	bw := bufio.NewWriterSize(w, 64<<10)
	_ = bw.WriteByte('[')
	for i, rec := range recs {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		if err := encodeRecord(bw, rec, sel, mask); err != nil {
			return
		}
	}
	_ = bw.WriteByte(']')
	_ = bw.Flush()
}

func writeOne(w http.ResponseWriter, status int, rev int64, rec *record, sel selector, mask bool) {
	setRevision(w, rev)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = encodeRecord(w, rec, sel, mask)
}

// itemError is a 400 naming the batch item that made the whole batch fail.
type itemError struct {
	Time    int64  `json:"time"`
	Message string `json:"message"`
	Index   int    `json:"index"`
	ID      *int64 `json:"id,omitempty"`
}

func writeItemError(w http.ResponseWriter, status, index int, id *int64, msg string) {
	prefix := fmt.Sprintf("item %d", index)
	if id != nil {
		prefix += fmt.Sprintf(" (id %d)", *id)
	}
	writeJSON(w, status, itemError{Time: nowMillis(), Message: prefix + ": " + msg, Index: index, ID: id})
}

// readBody decodes a JSON body keeping numbers exact.
func readBody(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if err := decodeJSON(b, v); err != nil {
		return fmt.Errorf("body is not valid JSON: %w", err)
	}
	return nil
}

// pathID parses the {id} path segment; false means "no such object" (404).
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil
}
