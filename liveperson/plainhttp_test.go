package liveperson

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestConfigRefusesPlainHTTP: domain_api_url and base_url may be plain
// http only to the local machine; anywhere else the credentials would
// travel unencrypted.
func TestConfigRefusesPlainHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		domain, base string
		want         string // "" valid, else part of the problem
	}{
		{"https://api.liveperson.net", "", ""},
		{"https://api.liveperson.net", "https://va.ac.liveperson.net", ""},
		{"http://127.0.0.1:8089", "", ""},
		{"http://127.9.8.7", "", ""},
		{"http://[::1]:8089", "", ""},
		{"http://localhost:8089", "http://LOCALHOST:9000", ""},
		{"http://api.liveperson.net", "", "liveperson.domain_api_url: http://api.liveperson.net uses plain http"},
		{"http://10.0.0.1", "", "liveperson.domain_api_url: http://10.0.0.1 uses plain http"},
		{"http://127.0.0.1.example.com", "", "liveperson.domain_api_url: http://127.0.0.1.example.com uses plain http"},
		{"https://api.liveperson.net", "http://va.ac.liveperson.net", "liveperson.base_url: http://va.ac.liveperson.net uses plain http"},
	} {
		cfg := Config{AccountID: "123", DomainAPIURL: tc.domain, BaseURL: tc.base,
			Auth: AuthConfig{Method: AuthOAuth2, ClientID: "a", ClientSecret: "b"}}.WithDefaults()
		errs := cfg.Validate()
		var got string
		for _, e := range errs {
			got += e.Error() + "\n"
		}
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%s %s: %s", tc.domain, tc.base, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s %s: problems %q, want %q", tc.domain, tc.base, got, tc.want)
		}
		if _, err := New(cfg, Options{}); (err == nil) != (tc.want == "") {
			t.Errorf("%s %s: New = %v", tc.domain, tc.base, err)
		}
	}
}

// discoveryServer answers service discovery with hosts, and counts the
// account-config requests that reach it.
func discoveryServer(t *testing.T, tls bool, hosts func(r *http.Request) map[string]string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var api atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/account/123/service/baseURI.json", func(w http.ResponseWriter, r *http.Request) {
		var list []map[string]string
		for s, h := range hosts(r) {
			list = append(list, map[string]string{"service": s, "account": "123", "baseURI": h})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"baseURIs": list})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.Add(1)
		w.Header().Set("ac-revision", "1")
		_, _ = w.Write([]byte("[]"))
	})
	srv := httptest.NewUnstartedServer(mux)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &api
}

// TestDiscoveryRefusesPlainHTTPHosts: a discovered host that is plain http
// to another machine is refused at run time (the call fails, naming it,
// and nothing is sent); a bare host is https unless discovery itself runs
// on the local machine in plain http and the host is local too.
func TestDiscoveryRefusesPlainHTTPHosts(t *testing.T) {
	t.Parallel()
	oauth1 := AuthConfig{Method: AuthOAuth1, AppKey: "k", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"}
	newClient := func(srv *httptest.Server) *Client {
		c, err := New(Config{AccountID: "123", DomainAPIURL: srv.URL, Auth: oauth1, Timeout: 5 * time.Second},
			Options{HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}

	t.Run("explicit http to another host", func(t *testing.T) {
		t.Parallel()
		srv, api := discoveryServer(t, true, func(*http.Request) map[string]string {
			return map[string]string{svcWrite: "http://va.ac.liveperson.net", svcRead: "va-a.acr.liveperson.net"}
		})
		_, err := newClient(srv).ListSkills(t.Context(), false)
		if err == nil || !strings.Contains(err.Error(), "accountConfigReadWrite was refused") || !strings.Contains(err.Error(), "plain http") {
			t.Errorf("ListSkills = %v, want the plain-http host refused", err)
		}
		if n := api.Load(); n != 0 {
			t.Errorf("%d requests reached the API", n)
		}
	})
	t.Run("bare hosts from a plain-http loopback Domain API", func(t *testing.T) {
		t.Parallel()
		srv, _ := discoveryServer(t, false, func(r *http.Request) map[string]string {
			return map[string]string{svcWrite: r.Host, svcSentinel: "va.sentinel.liveperson.net"}
		})
		c := newClient(srv)
		if _, err := c.ListSkills(t.Context(), false); err != nil {
			t.Fatalf("lpsim-style plain http on loopback: %v", err)
		}
		if h, err := c.disc.host(t.Context(), c, svcSentinel); err != nil || h != "https://va.sentinel.liveperson.net" {
			t.Errorf("a bare remote host = %q, %v; want it over https", h, err)
		}
	})
}

// TestRedirectToPlainHTTPRefused: LivePerson redirecting a call to plain
// http elsewhere is not followed (Go would keep the Authorization header
// on the same host).
func TestRedirectToPlainHTTPRefused(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, "http://va.ac.liveperson.net"+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
	c, _ := setup(t, f, func(c *Config, _ *Options) { c.RetryDelays = []time.Duration{} })
	err := listOp(t.Context(), c)
	if err == nil || !strings.Contains(err.Error(), "redirect refused") {
		t.Errorf("ListSkills = %v, want the redirect refused", err)
	}
}
