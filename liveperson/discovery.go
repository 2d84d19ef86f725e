package liveperson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/skillsync/skillsync/internal/secret"
)

// discovery caches the Domain API's answer: one all-services call, kept
// for Config.DiscoveryTTL, redone after a connection error, and kept as
// it was when a refresh fails (a Domain API outage should not stop calls
// to hosts that still work).
type discovery struct {
	// sem is a one-slot semaphore: one lookup in flight, and waiting for
	// it respects the caller's context (a mutex would not).
	sem chan struct{}

	mu    sync.Mutex
	hosts map[string]string // service name -> https://host
	// refused are services whose discovered host was refused (plain
	// http to another machine), with why.
	refused map[string]string
	at      time.Time
	stale   bool
}

func (d *discovery) init() { d.sem = make(chan struct{}, 1) }

// markStale makes the next lookup ask the Domain API again.
func (d *discovery) markStale() {
	d.mu.Lock()
	d.stale = true
	d.mu.Unlock()
}

// lookup returns the cached host of a service, if the cache is fresh.
func (d *discovery) lookup(service string, now time.Time, ttl time.Duration) (host string, fresh, found bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hosts == nil || d.stale || now.Sub(d.at) >= ttl {
		return "", false, false
	}
	host, found = d.hosts[service]
	return host, true, found
}

// host returns https://host for a service.
func (d *discovery) host(ctx context.Context, c *Client, service string) (string, error) {
	if h, fresh, found := d.lookup(service, c.now(), c.cfg.DiscoveryTTL); fresh {
		return d.found(c, service, h, found)
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
	defer func() { <-d.sem }()
	// Another caller may have refreshed the map while this one waited.
	if h, fresh, found := d.lookup(service, c.now(), c.cfg.DiscoveryTTL); fresh {
		return d.found(c, service, h, found)
	}
	hosts, refused, err := c.discover(ctx)
	d.mu.Lock()
	switch {
	case err == nil:
		d.hosts, d.refused = hosts, refused
	case d.hosts == nil:
		d.mu.Unlock()
		return "", err
	default:
		c.log.WarnContext(ctx, "liveperson: service discovery failed, keeping the last known hosts", "error", err)
	}
	// After a failure too: the last good map serves until the TTL or the
	// next connection error, rather than every call paying for a failing
	// lookup.
	d.at = c.now()
	d.stale = false
	h, found := d.hosts[service]
	d.mu.Unlock()
	return d.found(c, service, h, found)
}

func (d *discovery) found(c *Client, service, host string, found bool) (string, error) {
	d.mu.Lock()
	why, refused := d.refused[service]
	d.mu.Unlock()
	if refused {
		return "", &fatalError{fmt.Errorf("service discovery for account %s: %s", c.cfg.AccountID, why)}
	}
	if !found {
		return "", &fatalError{fmt.Errorf("service discovery for account %s returned no host for %s", c.cfg.AccountID, service)}
	}
	return host, nil
}

// discover makes one all-services Domain API call. It returns the hosts
// by service, and the services whose host it refused (plain http to
// another machine: the credentials would travel unencrypted) with why.
func (c *Client) discover(ctx context.Context) (map[string]string, map[string]string, error) {
	u := strings.TrimRight(c.cfg.DomainAPIURL, "/") + "/api/account/" + url.PathEscape(c.cfg.AccountID) +
		"/service/baseURI.json?version=1.0"
	resp, body, err := c.send(ctx, "discovery", http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, c.apiError(http.MethodGet, resp.Request.URL.Path, resp, body)
	}
	var doc struct {
		BaseURIs []struct {
			Service string `json:"service"`
			BaseURI string `json:"baseURI"`
		} `json:"baseURIs"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, &fatalError{fmt.Errorf("service discovery: decode response: %w", err)}
	}
	scheme := discoveredScheme(c.cfg.DomainAPIURL)
	hosts := make(map[string]string, len(doc.BaseURIs))
	var refused map[string]string
	for _, b := range doc.BaseURIs {
		h := strings.TrimRight(strings.TrimSpace(b.BaseURI), "/")
		if b.Service == "" || h == "" {
			continue
		}
		if !strings.Contains(h, "://") {
			h = scheme + "://" + h
			if u, err := url.Parse(h); scheme == "http" && (err != nil || !loopback(u.Hostname())) {
				// Only a simulator on this machine is spoken to in
				// plain http: another host is https.
				h = "https" + strings.TrimPrefix(h, "http")
			}
		}
		u, err := url.Parse(h)
		if err == nil && u.Host == "" {
			err = errors.New("no host")
		}
		if err == nil {
			err = secureURL(u)
		}
		if err != nil {
			if refused == nil {
				refused = map[string]string{}
			}
			refused[b.Service] = fmt.Sprintf("the host returned for %s was refused: %v", b.Service, err)
			c.log.WarnContext(ctx, "liveperson: service discovery returned a host that is not used", "service", b.Service, "error", err)
			continue
		}
		hosts[b.Service] = h
	}
	if len(hosts)+len(refused) == 0 {
		return nil, nil, &fatalError{fmt.Errorf("service discovery for account %s returned no services", c.cfg.AccountID)}
	}
	return hosts, refused, nil
}

// discoveredScheme is the scheme for the bare host names discovery
// returns: https, as every LivePerson API is. The one exception is a
// Domain API on plain http on a loopback address, which can only be a
// local simulator (lpsim served without TLS for manual testing); its
// loopback hosts are plain http too. Credentials never go over http
// elsewhere: discover refuses any other plain-http host (secureURL).
func discoveredScheme(domainAPIURL string) string {
	u, err := url.Parse(domainAPIURL)
	if err != nil || u.Scheme != "http" {
		return "https"
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return "http"
	}
	return "https"
}

// send makes one attempt of an auxiliary request (discovery, login,
// refresh, logout) with the per-request timeout, observed and logged like
// API calls. The body is read fully; a transport error is returned with
// its URL and any secrets removed.
func (c *Client) send(ctx context.Context, endpoint, method, u string, body io.Reader, header http.Header) (*http.Response, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, method, u, body)
	if err != nil {
		return nil, nil, &fatalError{fmt.Errorf("%s %s: %w", method, endpoint, err)}
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	var respBody []byte
	if err == nil {
		respBody, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
	}
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	c.observe(ctx, endpoint, method, status, start)
	if err != nil {
		c.disc.markStale()
		return nil, nil, secret.Wrap(err, fmt.Sprintf("%s %s: %s", method, req.URL.Path, c.red.Replace(transportMessage(err))))
	}
	return resp, respBody, nil
}
