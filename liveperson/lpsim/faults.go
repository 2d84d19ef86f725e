package lpsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// Fault makes the next Times requests matching Method and PathPrefix
// misbehave. Faults are checked in the order they were injected; the first
// one matching a request fires and the others wait for later requests.
type Fault struct {
	// Method matches the request's HTTP method; empty matches any.
	Method string
	// PathPrefix matches the start of the URL path; empty matches any.
	PathPrefix string

	// Status answers with this status and a LivePerson-style error body
	// without handling the request.
	Status int
	// RetryAfter is sent as the Retry-After header with Status.
	RetryAfter string
	// Times is how many matching requests the fault fires for (default 1).
	Times int

	// Drop closes the connection without answering and without handling the
	// request.
	Drop bool
	// LoseResponse handles the request (a write is applied) and then closes
	// the connection without sending the response.
	LoseResponse bool
	// ConcurrentEdit bumps the revision, as an edit by someone else would,
	// before handling the request normally.
	ConcurrentEdit bool
	// ExpireToken expires every token and session before handling the
	// request normally, so a bearer-authenticated request gets 401.
	ExpireToken bool

	// PartialApply, when > 0, handles a write with only the first
	// PartialApply items of its JSON array body (all of a single-object
	// body), then answers Status (default 500) whatever the handler did:
	// a batch LivePerson applied in part before failing. Whether its
	// batches are atomic is undocumented, so a client must not read an
	// error on a batch as "nothing was applied". If the handler refuses
	// the shortened request (a stale If-Match, a bad item), nothing is
	// applied; the log entry's IDs say what was.
	PartialApply int

	// Lag answers a read of the skills or users list as the account stood
	// Lag changes ago (each write request, seed or edit is one change; at
	// most 64 are remembered), with the revision of that moment: a read
	// served by a replica or an index that lags behind the writes.
	// LivePerson does not document whether its reads lag (open question
	// 11 of docs/liveperson-api.md), so a client must not take a list
	// read right after a write as proof that the write did not happen. A
	// Lag fault matches only GETs of the two lists: single-object reads
	// (GET /skills/{id}) always see the current account, as a read from
	// accountConfigReadWrite that a client relies on to confirm a skill
	// is gone should.
	Lag int
}

type faultState struct {
	Fault
	left int
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string
	Query  string // raw query
	// Status is the status sent, the status the handler produced for a lost
	// response, or 0 for a dropped connection (or a client that went away
	// during Latency).
	Status int
	// Time is when the request arrived (by Options.Now), before Latency.
	Time time.Time
	// IfMatch is the request's If-Match header, to assert what a client sent.
	IfMatch string
	// Dropped reports that the client got no response (Drop or LoseResponse).
	Dropped bool
	// IDs are the skills or users a successful write created, updated or
	// deleted, in the order of the request: a batch's path names no id, so
	// this is how a test tells which objects a write touched.
	IDs []int64
	// Fault names the injected fault that fired on the request ("" for
	// none), e.g. "status 503", "drop", "lose-response", "lag 2" (see
	// Fault.Label).
	Fault string
}

// Label names the fault for the request log and for reports: its kind and
// parameters, kinds joined by "+" when one fault has several.
func (f Fault) Label() string {
	var kinds []string
	if f.ConcurrentEdit {
		kinds = append(kinds, "concurrent-edit")
	}
	if f.ExpireToken {
		kinds = append(kinds, "expire-token")
	}
	if f.Lag > 0 {
		kinds = append(kinds, "lag "+strconv.Itoa(f.Lag))
	}
	switch {
	case f.PartialApply > 0:
		kinds = append(kinds, "partial-apply "+strconv.Itoa(f.PartialApply))
	case f.Drop:
		kinds = append(kinds, "drop")
	case f.Status != 0:
		kinds = append(kinds, "status "+strconv.Itoa(f.Status))
	case f.LoseResponse:
		kinds = append(kinds, "lose-response")
	}
	return strings.Join(kinds, "+")
}

// entryKey is the context key of the log entry being built for a request.
type entryKey struct{}

// noteWritten records in r's log entry the ids of the records a write
// stored.
func noteWritten(r *http.Request, recs []*record) {
	e, ok := r.Context().Value(entryKey{}).(*Request)
	if !ok {
		return
	}
	e.IDs = make([]int64, len(recs))
	for i, rec := range recs {
		e.IDs[i] = rec.id
	}
}

// InjectFault arms f for the next f.Times matching requests.
func (s *Sim) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: f.Times})
}

// ClearFaults disarms every injected fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetLatency sets the delay added before every request is handled.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpireTokens expires every Sentinel token and Login Service session issued
// so far, as if their lifetime had passed.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireTokensLocked()
}

func (s *Sim) expireTokensLocked() {
	clear(s.tokens)
	clear(s.sessions)
	clear(s.bearers)
}

// Requests returns a copy of the request log. An entry is appended when
// its request completes (answered, refused by a fault or dropped), so the
// log is in completion order and a request still being handled is not in
// it yet; Time is the arrival, so concurrent requests may appear out of
// Time order.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Count returns how many logged requests have the method (empty: any) and a
// path starting with pathPrefix.
func (s *Sim) Count(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// ResetLog empties the request log.
func (s *Sim) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// ServeHTTP applies latency and faults, routes the request and logs it.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entry := Request{
		Method:  r.Method,
		Path:    r.URL.Path,
		Query:   r.URL.RawQuery,
		Time:    s.now(),
		IfMatch: r.Header.Get("If-Match"),
	}
	logged := false
	logEntry := func() {
		if logged {
			return
		}
		logged = true
		s.mu.Lock()
		s.log = append(s.log, entry)
		s.mu.Unlock()
	}
	r = r.WithContext(context.WithValue(r.Context(), entryKey{}, &entry))
	// The entry is logged before the response is complete (the server
	// flushes after ServeHTTP returns), so a client that has its answer
	// finds its request in the log.
	defer logEntry()

	s.mu.Lock()
	latency := s.latency
	f := s.takeFault(r)
	if f != nil && f.ConcurrentEdit {
		s.bumpRevisionLocked()
	}
	if f != nil && f.ExpireToken {
		s.expireTokensLocked()
	}
	s.mu.Unlock()
	if f != nil {
		entry.Fault = f.Label()
		if f.Lag > 0 {
			r = r.WithContext(context.WithValue(r.Context(), lagKey{}, f.Lag))
		}
	}

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	switch {
	case f != nil && f.PartialApply > 0:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if err := truncateBatch(r, f.PartialApply); err != nil {
			writeError(w, http.StatusBadRequest, "lpsim: PartialApply: "+err.Error())
			entry.Status = http.StatusBadRequest
			return
		}
		s.mux.ServeHTTP(httptest.NewRecorder(), r)
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, status, "injected fault: batch applied in part, then "+strconv.Itoa(status)+" "+http.StatusText(status))
		entry.Status = status
		return
	case f != nil && f.Drop:
		entry.Dropped = true
		logEntry()
		dropConnection(w)
		return
	case f != nil && f.Status != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, f.Status, "injected fault: "+strconv.Itoa(f.Status)+" "+http.StatusText(f.Status))
		entry.Status = f.Status
		return
	case f != nil && f.LoseResponse:
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, r)
		entry.Status = rec.Code
		entry.Dropped = true
		logEntry()
		dropConnection(w)
		return
	}

	sw := &statusWriter{ResponseWriter: w}
	s.mux.ServeHTTP(sw, r)
	entry.Status = sw.status
	if entry.Status == 0 {
		entry.Status = http.StatusOK
	}
}

// truncateBatch replaces r's body by the first k items of its JSON array,
// numbers kept exact. A body that is not an array (a single object, or no
// body) is left as it is.
func truncateBatch(r *http.Request, k int) error {
	if r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	_ = r.Body.Close()
	var items []json.RawMessage
	if json.Unmarshal(b, &items) == nil && len(items) > k {
		if b, err = json.Marshal(items[:k]); err != nil {
			return err
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return nil
}

// takeFault returns the first armed fault matching r and uses one of its
// firings. Callers hold s.mu.
func (s *Sim) takeFault(r *http.Request) *Fault {
	for i, f := range s.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		if f.Lag > 0 && !isListRead(r) {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		fault := f.Fault
		return &fault
	}
	return nil
}

// isListRead says whether r reads the skills or users list, the reads a
// Lag fault delays.
func isListRead(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	return strings.HasSuffix(p, "/configuration/le-users/skills") || strings.HasSuffix(p, "/configuration/le-users/users")
}

// dropConnection closes the client's connection without a response. With
// HTTP/1 it hijacks the connection; where that is impossible (HTTP/2) it
// aborts the handler, which resets the stream.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// statusWriter remembers the status a handler sent, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
