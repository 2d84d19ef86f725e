package hrsource

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-retry"
)

// maxPages bounds pagination, in case a server keeps pointing further.
const maxPages = 10000

// maxPageBytes bounds one page, which is held in memory while it is parsed
// (so a failed transfer can be retried from its start).
const maxPageBytes = 1 << 30

// httpSource reads a JSON or CSV report over HTTPS, page by page.
type httpSource struct {
	reader
	client *http.Client
	base   *url.URL
}

func newHTTPSource(base reader, opts Options) (*httpSource, error) {
	u, err := url.Parse(base.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("hr.url: %w", err)
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
	client.CheckRedirect = sameHostRedirects
	return &httpSource{reader: base, client: &client, base: u}, nil
}

// redirectError is a refused redirect: asking again would not help.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// sameHostRedirects follows redirects on the same scheme and host only: Go
// drops Authorization on a redirect elsewhere, but not the other configured
// headers (API keys), which must not leak to another host.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return &redirectError{"stopped after 10 redirects"}
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return &redirectError{fmt.Sprintf("redirected to %s://%s, another host: not followed, set hr.url to the final address", req.URL.Scheme, req.URL.Host)}
	}
	return nil
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
// together: one bad page refuses the whole feed.
func (s *httpSource) Read(ctx context.Context) (_ *Snapshot, err error) {
	// Errors quote the server's answers, which may repeat a credential.
	defer func() { err = s.scrub(err) }()
	c := s.collector()
	seen := map[string]bool{}
	next := s.base
	for page := 1; next != nil; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("read %s: more than %d pages: the pagination does not end", redactURL(s.base), maxPages)
		}
		if seen[next.String()] {
			return nil, fmt.Errorf("read %s: page %d points back to %s: the pagination loops", redactURL(s.base), page, redactURL(next))
		}
		seen[next.String()] = true
		var body []byte
		var link string
		body, link, err = s.fetch(ctx, next)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("page %d", page)
		var nextRef string
		switch s.cfg.Format {
		case "csv":
			cols := c.readCSV(bytes.NewReader(body), name, s.delimiter())
			if page == 1 {
				c.columns = cols
				c.headerWhere = name + ":1"
			} else if cols != nil && !slices.Equal(cols, c.columns) {
				c.probs.add(name+":1", "the header differs from page 1's: every page must have the same columns")
			}
		default:
			if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '<' {
				c.probs.add(name, "the server answered with HTML or XML, not JSON (a login page?): check hr.url and the credentials")
				break
			}
			reread := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			nextRef = c.readJSON(bytes.NewReader(body), reread, name, s.cfg.RecordsPath, s.cfg.NextPagePath)
		}
		s.log.DebugContext(ctx, "hr page read", "url", redactURL(next), "page", page, "bytes", len(body), "records", len(c.recs))
		if c.probs.full() {
			break
		}
		if nextRef == "" {
			nextRef = link
		}
		if next, err = s.nextPage(next, nextRef); err != nil {
			return nil, err
		}
	}
	return c.finish(redactURL(s.base))
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
	if next.Scheme != s.base.Scheme || next.Host != s.base.Host {
		return nil, fmt.Errorf("read %s: the next page is on %s://%s, another host: pages are only followed on the configured host", redactURL(s.base), next.Scheme, next.Host)
	}
	return next, nil
}

// fetch GETs one page, retrying 5xx, 429 and transport errors after the
// configured delays (a new backoff per call: backoffs keep state).
func (s *httpSource) fetch(ctx context.Context, u *url.URL) (body []byte, link string, err error) {
	where := redactURL(u)
	attempt := 0
	err = retry.Do(ctx, delaysBackoff(s.cfg.RetryDelays), func(ctx context.Context) error {
		attempt++
		body, link, err = s.get(ctx, u, where)
		var re *retryable
		if errors.As(err, &re) {
			s.log.WarnContext(ctx, "hr request failed, retrying", "url", where, "attempt", attempt, "error", s.scrub(re.err))
			return retry.RetryableError(re.err)
		}
		return err
	})
	if err != nil && ctx.Err() != nil {
		return nil, "", fmt.Errorf("GET %s: %w", where, ctx.Err())
	}
	return body, link, err
}

// retryable marks an error worth another attempt.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }

func (s *httpSource) get(ctx context.Context, u *url.URL, where string) ([]byte, string, error) {
	if s.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", where, err)
	}
	if s.cfg.Format == "csv" {
		req.Header.Set("Accept", "text/csv")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", "skillsync")
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	if s.cfg.Username != "" {
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	}
	resp, err := s.client.Do(req)
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
		e := fmt.Errorf("GET %s: %w%s", where, err, hint)
		var rerr *redirectError
		if hint != "" || errors.As(err, &rerr) || ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, "", e
		}
		return nil, "", &retryable{e}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return nil, "", &retryable{fmt.Errorf("GET %s: read body: %w", where, err)}
	}
	if len(data) > maxPageBytes {
		return nil, "", fmt.Errorf("GET %s: the page is larger than %d MiB: ask the HR system for smaller pages", where, maxPageBytes>>20)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return data, nextLink(resp.Header), nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, "", &retryable{fmt.Errorf("GET %s: %s%s", where, resp.Status, s.excerpt(data))}
	}
	hint := ""
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = ": check the credentials in hr.headers or hr.username/hr.password"
	case http.StatusNotFound:
		hint = ": check hr.url"
	}
	return nil, "", fmt.Errorf("GET %s: %s%s%s", where, resp.Status, s.excerpt(data), hint)
}

// excerpt quotes the start of an error body, which usually says why. The
// secrets go first: cut or quoted, one would no longer be recognised.
func (s *httpSource) excerpt(b []byte) string {
	const limit = 200
	t := strings.TrimSpace(string(b))
	if s.secrets != nil {
		t = s.secrets.Replace(t)
	}
	if t == "" {
		return ""
	}
	if len(t) > limit {
		t = t[:limit] + "…"
	}
	return fmt.Sprintf(" (%q)", t)
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
		keys[i] = url.QueryEscape(k) + "=…"
	}
	return s + "?" + strings.Join(keys, "&")
}
