package lpsim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	t.Parallel()
	srv, err := Start(New(testOptions()), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL() + "/api/account/" + testAccount + "/service/accountConfigReadWrite/baseURI.json?version=1.0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got baseURI
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if "https://"+got.BaseURI != srv.URL() {
		t.Errorf("baseURI %q, server %s", got.BaseURI, srv.URL())
	}
	if _, err := Start(New(Options{}), strings.TrimPrefix(srv.URL(), "https://")); err == nil {
		t.Errorf("second Start on a used address succeeded")
	}
}

func TestListenAndServeStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, "127.0.0.1:0", New(Options{})) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not stop")
	}
	if err := ListenAndServe(context.Background(), "256.0.0.1:1", New(Options{})); err == nil {
		t.Errorf("bad address accepted")
	}
}

// TestCertificatePEM checks that a client trusting only CertificatePEM
// reaches the server, as a child process with SSL_CERT_FILE would.
func TestCertificatePEM(t *testing.T) {
	t.Parallel()
	srv := Serve(New(testOptions()))
	defer srv.Close()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CertificatePEM()) {
		t.Fatalf("CertificatePEM holds no certificate:\n%s", srv.CertificatePEM())
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	res, err := c.Get(srv.URL() + "/api/account/" + testAccount + "/service/baseURI.json?version=1.0")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status %d", res.StatusCode)
	}
	// Without it, the server is not trusted.
	if _, err := (&http.Client{Transport: &http.Transport{}}).Get(srv.URL()); err == nil {
		t.Errorf("a client without the certificate trusted the server")
	}
}

// TestIntercept holds a create in an interceptor until the test lets it go,
// and checks that the Sim behind it handles and logs it, and that
// Intercept(nil) removes the interceptor.
func TestIntercept(t *testing.T) {
	t.Parallel()
	e := setup(t)
	held, release := make(chan struct{}), make(chan struct{})
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPost {
			close(held)
			<-release
		}
		next.ServeHTTP(w, r)
	})
	done := make(chan resp)
	go func() {
		done <- e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "a"}}})
	}()
	<-held
	if n := len(e.sim.Skills(false)); n != 0 || len(e.sim.Requests()) != 0 {
		t.Errorf("a held create was handled: %d skills, log %+v", n, e.sim.Requests())
	}
	close(release)
	e.mustStatus(<-done, http.StatusCreated)
	if log := e.sim.Requests(); len(log) != 1 || log[0].Status != http.StatusCreated {
		t.Errorf("log %+v", log)
	}
	e.srv.Intercept(nil)
	// Were the interceptor still in place, this POST would close held
	// again: a panic, which drops the connection.
	e.mustStatus(e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "b"}}}), http.StatusCreated)
}
