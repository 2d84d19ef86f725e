package hrsource

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-retry"
	"golang.org/x/oauth2"

	"github.com/skillsync/skillsync/internal/secret"
)

// httpSource reads a JSON or CSV report over HTTPS, page by page: the
// http source, or a vendor connector (a preset of it).
type httpSource struct {
	reader
	// vendor is the connector, nil for the http source.
	vendor *vendor
	client *http.Client
	auth   *authorizer
	// base is the first page's URL; req what every page request sends.
	base *url.URL
	req  request
}

func newHTTPSource(base reader, opts Options) (*httpSource, error) {
	u, req, err := planRequest(base.cfg, opts.Columns)
	if err != nil {
		return nil, err
	}
	var client http.Client
	if opts.HTTPClient != nil {
		client = *opts.HTTPClient // a copy, to set CheckRedirect on our own
	} else {
		tlsConfig, err := tlsConfig(base.cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConfig
		client.Transport = tr
	}
	client.CheckRedirect = redirectsWithin("hr.url")
	// An API may take its credentials in the body: a server quoting the
	// request back must not print them.
	for _, v := range BodySecrets(base.cfg.Body) {
		base.secrets.Add(v)
	}
	s := &httpSource{reader: base, vendor: vendors[base.cfg.Type], client: &client, base: u, req: req}
	// Token requests go through the same transport (and so trust the same
	// CAs), without the page requests' cookies.
	s.auth = newAuthorizer(base.cfg, &http.Client{Transport: client.Transport, CheckRedirect: redirectsWithin("hr.auth.token_url")}, base.secrets, base.log)
	return s, nil
}

// BodySecrets returns the string values of a JSON hr.body held under a
// name that says it is a secret (password, apiKey, client_secret, ...),
// at any depth, and the longer ones (8 characters or more) anywhere inside
// such a name ({"credentials": {"user": ...}}).
func BodySecrets(body string) []string {
	var doc any
	if json.Unmarshal([]byte(body), &doc) != nil {
		return nil
	}
	var out []string
	var walk func(v any, named, inside bool)
	walk = func(v any, named, inside bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(e, secret.Param(k), inside || named)
			}
		case []any:
			for _, e := range v {
				walk(e, named, inside)
			}
		case string:
			if named || inside && secret.Huntable(v, false) {
				if secret.Huntable(v, true) {
					out = append(out, v)
				}
			}
		}
	}
	walk(doc, false, false)
	return out
}

// redirectError is a refused redirect: asking again would not help.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// redirectsWithin follows redirects on the same scheme and host only: Go
// drops Authorization on a redirect elsewhere, but not the other configured
// headers (API keys), nor a token request's form (the client secret),
// which must not leak to another host. key names the setting to fix.
func redirectsWithin(key string) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return &redirectError{"stopped after 10 redirects"}
		}
		if first := via[0].URL; !sameOrigin(req.URL, first) {
			hint := ""
			if key == "hr.url" {
				// Single sign-on sends a request it does not accept to
				// its identity provider's sign-in page.
				hint = " if the feed moved; if it is a sign-in page, the server did not accept the credentials: check hr.auth"
			}
			return &redirectError{fmt.Sprintf("redirected to %s://%s, another host: not followed, set %s to the final address%s", req.URL.Scheme, req.URL.Host, key, hint)}
		}
		return nil
	}
}

// tlsConfig verifies servers against the system roots plus caFile's.
func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("hr.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("hr.ca_file: no PEM certificate in %s", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// Read fetches every page and validates the records of all of them
// together: one bad page refuses the whole feed, and so does a feed longer
// than hr.max_pages or larger than hr.max_bytes (never cut short).
func (s *httpSource) Read(ctx context.Context) (_ *Snapshot, err error) {
	defer func() {
		// Errors quote the server's answers, which may repeat a credential.
		err = s.scrub(err)
		var ve *ValidationError
		if err != nil && s.vendor != nil && !errors.As(err, &ve) {
			err = fmt.Errorf("%s: %w", s.vendor.name, err)
		}
	}()
	// One cookie jar per read: a server may keep a session across the
	// pages (SuccessFactors keeps a snapshot-paging list in it).
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	client := *s.client
	client.Jar = jar
	c := s.collector()
	seen := map[string]bool{}
	// ids maps each id of the pages read so far to its record.
	ids := map[string]int{}
	// announced is the record count an OData server announced on the
	// first page (d.__count, with $inlinecount=allpages), or -1.
	announced := -1
	var total int64
	next := s.base
	for page := 1; next != nil; page++ {
		if page > s.cfg.MaxPages {
			return nil, fmt.Errorf("read %s: more than %d pages (hr.max_pages) and the feed goes on: nothing was used; raise hr.max_pages if it really is that long", redactURL(s.base), s.cfg.MaxPages)
		}
		if seen[next.String()] {
			return nil, fmt.Errorf("read %s: page %d points back to %s: the pagination loops", redactURL(s.base), page, redactURL(next))
		}
		seen[next.String()] = true
		var body []byte
		var link string
		body, link, err = s.fetch(ctx, &client, next, int64(s.cfg.MaxBytes)-total)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				return nil, fmt.Errorf("read %s: the feed is larger than %s (hr.max_bytes) at page %d: nothing was used; raise hr.max_bytes if it really is that large", redactURL(s.base), s.cfg.MaxBytes, page)
			}
			return nil, err
		}
		total += int64(len(body))
		if page == 1 && s.cfg.Type == TypeSuccessFactors && s.cfg.Format != "csv" {
			announced = odataCount(body)
		}
		name := fmt.Sprintf("page %d", page)
		records, problems := len(c.recs), len(c.probs.list)
		// The first page's size sizes the record slices (a Workday or
		// BambooHR report is all on it); later pages just append.
		c.sizeHint = 0
		if page == 1 {
			c.sizeHint = int64(len(body))
		}
		var nextRef string
		lead := bytes.TrimSpace(bytes.TrimPrefix(body, utf8BOM))
		switch {
		case len(lead) > 0 && lead[0] == '<':
			c.probs.add(name, "the server answered with HTML or XML, not %s (a login page?): check hr.url and the credentials", s.formatName())
		case s.cfg.Format == "csv" && len(lead) > 0 && lead[0] == '{' && errorMessage(lead) != "":
			c.probs.add(name, "the server answered 200 OK with an error instead of records%s: check hr.url and hr.auth", quoteDetail(s.secrets.Replace(errorMessage(lead))))
		case s.cfg.Format == "csv":
			cols := c.readCSV(bytes.NewReader(body), name, s.delimiter())
			if page == 1 {
				c.columns = cols
				c.headerWhere = name + ":1"
			} else if cols != nil && !slices.Equal(cols, c.columns) {
				c.probs.add(name+":1", "the header differs from page 1's: every page must have the same columns")
			}
		default:
			nextRef = c.readJSONBytes(body, name, s.cfg.RecordsPath, s.cfg.NextPagePath)
			if len(c.recs) == records && len(c.probs.list) > problems {
				if msg := errorMessage(body); msg != "" {
					// An error object where the records should be (a
					// gateway, an expired session): quote it rather than
					// blame hr.records_path.
					c.probs.list = c.probs.list[:problems]
					c.probs.add(name, "the server answered 200 OK with an error instead of records%s: check hr.url and hr.auth", quoteDetail(s.secrets.Replace(msg)))
				}
			}
		}
		s.log.DebugContext(ctx, "hr page read", "url", redactURL(next), "page", page, "bytes", len(body), "records", len(c.recs))
		if c.probs.full() {
			break
		}
		if s.overlaps(c, records, ids) {
			break
		}
		if nextRef == "" {
			nextRef = link
		}
		if nextRef != "" && len(c.recs) == records && len(c.probs.list) == problems {
			// Read as the end of the feed, the pages after it would be
			// lost, and everyone on them would look gone.
			c.probs.add(name, "no records, yet it links to a next page: the feed is broken (refused rather than read as everyone after it having left); try again later or ask the HR system's administrators")
			break
		}
		if next, err = s.nextPage(next, nextRef); err != nil {
			return nil, err
		}
	}
	if announced >= 0 && len(c.recs) != announced && len(c.probs.list) == 0 {
		// A page missing from the middle (a __next left out, the paging
		// shifting while the data changed) would read as people leaving.
		c.probs.add("d.__count", "the server announced %d records and its pages held %d: the paging lost or repeated some; nothing was used: try again later, or add paging=snapshot to hr.url", announced, len(c.recs))
	}
	return c.finish(s.sourceName())
}

// odataCount returns the record count an OData v2 page announces in
// d.__count ("1234": $inlinecount=allpages asks for it), or -1.
func odataCount(body []byte) int {
	var page struct {
		D struct {
			Count json.RawMessage `json:"__count"`
		} `json:"d"`
	}
	if json.Unmarshal(body, &page) != nil || page.D.Count == nil {
		return -1
	}
	n, err := strconv.Atoi(strings.Trim(string(page.D.Count), `"`))
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// overlaps checks the records added since from (one page) against the
// ids of the earlier pages, and adds them to ids. A page repeating an
// earlier page's id means that the feed is refused (ids are unique), and
// most likely that the pages overlap: a paging that loops on fresh links
// (which would go on to hr.max_pages), or one that shifted while the data
// changed (and may as well have skipped people). Reading stops there, and
// finish's "duplicate id" problems say so.
func (s *httpSource) overlaps(c *collector, from int, ids map[string]int) bool {
	col := slices.Index(c.columns, s.cfg.Fields.ID)
	if col < 0 {
		return false
	}
	overlap := false
	for i := from; i < len(c.recs); i++ {
		v := c.recs[i].Values
		if col >= len(v) || v[col] == "" {
			continue
		}
		if first, dup := ids[v[col]]; !dup {
			ids[v[col]] = i
		} else if first < from {
			overlap = true
		}
	}
	if overlap {
		c.overlapHint = ", or the pages overlap: the paging loops, or moved while the data changed (and may have skipped people too)"
		if s.cfg.Type == TypeSuccessFactors && !strings.Contains(s.base.RawQuery, "paging=snapshot") {
			c.overlapHint += "; add paging=snapshot to hr.url (SuccessFactors' snapshot paging, SAP KBA 2723468)"
		}
	}
	return overlap
}

// formatName names the format the feed should be in, for messages.
func (s *httpSource) formatName() string {
	if s.cfg.Format == "csv" {
		return "CSV"
	}
	return "JSON"
}

// sourceName names the feed in a refusal: the vendor and the URL.
func (s *httpSource) sourceName() string {
	if s.vendor != nil {
		return s.vendor.name + " " + redactURL(s.base)
	}
	return redactURL(s.base)
}

// nextPage resolves the next page's reference against the current page and
// refuses to leave the configured host, which receives our credentials.
func (s *httpSource) nextPage(cur *url.URL, ref string) (*url.URL, error) {
	if ref == "" {
		return nil, nil
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("read %s: next page link is not a URL: %w", redactURL(s.base), err)
	}
	next := cur.ResolveReference(r)
	if !sameOrigin(next, s.base) {
		return nil, fmt.Errorf("read %s: the next page is on %s://%s, another host: pages are only followed on the configured host", redactURL(s.base), next.Scheme, next.Host)
	}
	return next, nil
}

// errTooLarge is a page beyond what hr.max_bytes leaves.
var errTooLarge = errors.New("larger than hr.max_bytes")

// fetch requests one page, retrying 5xx, 429 and transport errors after
// the configured delays, or after the Retry-After of a 429 or 503 (a new
// backoff per call: backoffs keep state). budget is how many bytes the
// page may have.
func (s *httpSource) fetch(ctx context.Context, client *http.Client, u *url.URL, budget int64) (body []byte, link string, err error) {
	where := redactURL(u)
	attempt := 0
	var wait time.Duration // what the last answer's Retry-After asked for
	err = retry.Do(ctx, withRetryAfter(delaysBackoff(s.cfg.RetryDelays), &wait), func(ctx context.Context) error {
		attempt++
		body, link, err = s.get(ctx, client, u, where, budget)
		var stale *staleToken
		if errors.As(err, &stale) {
			// A token that served earlier requests went stale (it came
			// without a lifetime, or was revoked): ask again at once with
			// a new one, and take that answer.
			s.log.InfoContext(ctx, "hr access token refused, fetching a new one", "url", where)
			body, link, err = s.get(ctx, client, u, where, budget)
			if errors.As(err, &stale) {
				err = stale.err
			}
		}
		var re *retryable
		if !errors.As(err, &re) {
			return err
		}
		if re.wait > s.cfg.MaxRetryWait {
			return fmt.Errorf("%w: the server asks to wait %s (Retry-After), more than hr.max_retry_wait (%s): try again later, or raise hr.max_retry_wait", re.err, re.wait, s.cfg.MaxRetryWait)
		}
		wait = re.wait
		s.log.WarnContext(ctx, "hr request failed, retrying", "url", where, "attempt", attempt, "retry_after", re.wait, "error", s.scrub(re.err))
		return retry.RetryableError(re.err)
	})
	if err != nil && ctx.Err() != nil {
		return nil, "", fmt.Errorf("%s %s: %w", s.req.method, where, ctx.Err())
	}
	return body, link, err
}

// retryable marks an error worth another attempt; wait is the server's
// Retry-After, if it gave one.
type retryable struct {
	err  error
	wait time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }

// staleToken is a 401 answered to an OAuth 2.0 access token that served
// earlier requests: a new token may be accepted.
type staleToken struct{ err error }

func (s *staleToken) Error() string { return s.err.Error() }

func (s *httpSource) get(ctx context.Context, client *http.Client, u *url.URL, where string, budget int64) ([]byte, string, error) {
	parent := ctx
	// timedOut explains an attempt cut by hr.timeout (not by the run's
	// own end): a large report may need longer.
	timedOut := func(err error) string {
		if s.cfg.Timeout > 0 && errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
			return fmt.Sprintf(": no complete answer within hr.timeout (%s); raise it if the report is large", s.cfg.Timeout)
		}
		return ""
	}
	if s.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	method := s.req.method
	var body io.Reader
	if s.req.body != nil {
		body = bytes.NewReader(s.req.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", method, where, err)
	}
	if s.cfg.Format == "csv" {
		req.Header.Set("Accept", "text/csv")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if s.req.contentType != "" {
		req.Header.Set("Content-Type", s.req.contentType)
	}
	req.Header.Set("User-Agent", "skillsync")
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	tok, reused, err := s.auth.authorize(ctx, req)
	if err != nil {
		return nil, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the full URL, query secrets included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		hint := ""
		var uae x509.UnknownAuthorityError
		var hve x509.HostnameError
		var cie x509.CertificateInvalidError
		if errors.As(err, &uae) || errors.As(err, &cie) {
			hint = ": the server's certificate is not trusted; set hr.ca_file to the CA bundle that signed it"
		} else if errors.As(err, &hve) {
			hint = ": the server's certificate does not match its name; fix hr.url"
		}
		e := fmt.Errorf("%s %s: %w%s%s", method, where, err, hint, timedOut(err))
		var rerr *redirectError
		if hint != "" || errors.As(err, &rerr) || ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, "", e
		}
		return nil, "", &retryable{err: e}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// An error answer is no part of the feed: its start says what
		// went wrong, the rest (a gateway's HTML page, an endless stream)
		// is not read, nor counted against hr.max_bytes.
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, "", s.answerError(resp, data, method, where, tok, reused)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max(budget, 0)+1))
	if err != nil {
		return nil, "", &retryable{err: fmt.Errorf("%s %s: read body: %w%s", method, where, err, timedOut(err))}
	}
	if int64(len(data)) > budget {
		return nil, "", errTooLarge
	}
	return data, nextLink(resp.Header), nil
}

// maxErrorBody is how much of an error answer is read: enough for any
// message worth quoting.
const maxErrorBody = 64 << 10

// answerError explains an answer other than 200 OK: retryable for a 429,
// a 503 (after its Retry-After) and any other 5xx; a staleToken for a 401
// to an OAuth 2.0 access token that served earlier requests.
func (s *httpSource) answerError(resp *http.Response, data []byte, method, where string, tok *oauth2.Token, reused bool) error {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return &retryable{err: fmt.Errorf("%s %s: %s%s", method, where, resp.Status, s.detail(resp.Header, data)), wait: retryAfter(resp.Header, time.Now())}
	case resp.StatusCode >= 500:
		return &retryable{err: fmt.Errorf("%s %s: %s%s", method, where, resp.Status, s.detail(resp.Header, data))}
	}
	hint := ""
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = ": check the credentials in hr.auth, hr.headers or hr.username/hr.password"
		if s.vendor != nil {
			hint = ": " + s.vendor.authHint
		}
	case http.StatusNotFound:
		hint = ": check hr.url"
		if s.cfg.Type == TypeBambooHR {
			hint = ": check hr.subdomain (or hr.url)"
		}
	}
	e := fmt.Errorf("%s %s: %s%s%s", method, where, resp.Status, s.detail(resp.Header, data), hint)
	if resp.StatusCode == http.StatusUnauthorized && tok != nil {
		// Expired or revoked: the next request asks for a new token.
		s.auth.forget(tok)
		if reused {
			return &staleToken{err: e}
		}
	}
	return e
}

// detail quotes what an error answer says: the start of its body (the
// message of a JSON error), and the vendor's error header. The
// secrets go first: cut or quoted, one would no longer be recognised.
func (s *httpSource) detail(h http.Header, body []byte) string {
	msg := errorMessage(body)
	if msg == "" {
		msg = string(body)
	}
	out := quoteDetail(s.secrets.Replace(msg))
	if s.vendor != nil && s.vendor.errorHeader != "" {
		if v := h.Get(s.vendor.errorHeader); v != "" {
			out += fmt.Sprintf(" (%s: %q)", s.vendor.errorHeader, s.secrets.Replace(v))
		}
	}
	return out
}

// errorMessage returns the message of a JSON error body of the shapes
// vendors use, or "": OData v2's {"error": {"code": ..., "message":
// {"value": ...}}} (SuccessFactors) and {"error": ..., "message": ...}
// (Workday).
func errorMessage(body []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var odata struct {
		Code    string `json:"code"`
		Message struct {
			Value string `json:"value"`
		} `json:"message"`
	}
	var code string
	if json.Unmarshal(e.Error, &odata) == nil && odata.Message.Value != "" {
		code, e.Message = odata.Code, odata.Message.Value
	} else if json.Unmarshal(e.Error, &code) != nil {
		code = ""
	}
	switch {
	case e.Message == "":
		return code // {"error": "invalid_token"}, or nothing
	case code != "" && !strings.Contains(e.Message, code):
		return code + ": " + e.Message
	}
	return e.Message
}

// retryAfter reads a Retry-After header (seconds, or an HTTP date); 0 when
// there is none or it cannot be read, at most a year.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	// A wait beyond a year is read as a year: still a wait, far above any
	// hr.max_retry_wait, so the read stops and says so instead of
	// retrying at once.
	const maxWait = 365 * 24 * time.Hour
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxWait/time.Second))) * time.Second
	}
	if strings.TrimLeft(v, "0123456789") == "" {
		return maxWait // digits only, more than an int64 holds
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxWait)
	}
	return 0
}

// withRetryAfter waits what *wait says instead of b's next delay when it
// is set (then clears it); b still decides how many retries there are.
func withRetryAfter(b retry.Backoff, wait *time.Duration) retry.Backoff {
	return retry.BackoffFunc(func() (time.Duration, bool) {
		d, stop := b.Next()
		if stop {
			return 0, true
		}
		if *wait > 0 {
			d, *wait = *wait, 0
		}
		return d, false
	})
}

// sameOrigin says whether two URLs have the same scheme, host and port (a
// port left out is the scheme's default: SuccessFactors' __next links
// spell :443 out).
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		switch strings.ToLower(u.Scheme) {
		case "https":
			return "443"
		case "http":
			return "80"
		}
		return ""
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// delaysBackoff waits the given delays in turn, then gives up.
func delaysBackoff(delays []time.Duration) retry.Backoff {
	i := 0
	return retry.BackoffFunc(func() (time.Duration, bool) {
		if i >= len(delays) {
			return 0, true
		}
		i++
		return delays[i-1], false
	})
}

// nextLink returns the target of a Link header's rel="next", if any.
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			open, end := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
			if open != 0 || end < 0 {
				continue
			}
			for param := range strings.SplitSeq(part[end+1:], ";") {
				name, value, ok := strings.Cut(strings.TrimSpace(param), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
					continue
				}
				for rel := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(value), `"`)) {
					if strings.EqualFold(rel, "next") {
						return part[1:end]
					}
				}
			}
		}
	}
	return ""
}

// redactURL renders u for messages: no user info, and query values hidden
// (they often carry tokens).
func redactURL(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	s := r.String()
	if u.RawQuery == "" {
		return s
	}
	q := u.Query()
	keys := sortedKeys(q)
	for i, k := range keys {
		if strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~$!-") != "" {
			k = url.QueryEscape(k) // $format and Worker_Type!WID stay readable
		}
		keys[i] = k + "=…"
	}
	return s + "?" + strings.Join(keys, "&")
}
