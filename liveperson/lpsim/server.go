package lpsim

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Server is a Sim served over TLS on 127.0.0.1 for tests.
type Server struct {
	Sim *Sim
	ts  *httptest.Server

	mu        sync.Mutex
	intercept func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

// Serve starts sim on an httptest TLS server on 127.0.0.1. HTTP/2 is off so
// Drop and LoseResponse can close the connection like a network failure.
func Serve(sim *Sim) *Server {
	s := &Server{Sim: sim}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.ts.StartTLS()
	return s
}

// Start serves sim over TLS on addr (e.g. "127.0.0.1:8443") with the same
// self-signed certificate as Serve, for the demo and manual testing
// (curl -k). Discovery answers with the host the client connected to.
func Start(sim *Sim, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("lpsim: listen on %s: %w", addr, err)
	}
	s := &Server{Sim: sim}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	_ = s.ts.Listener.Close()
	s.ts.Listener = ln
	s.ts.StartTLS()
	return s, nil
}

// URL returns https://127.0.0.1:port, to use as domain_api_url: discovery
// returns this host:port for every service.
func (s *Server) URL() string { return s.ts.URL }

// Client returns an HTTP client that trusts the server's certificate. Each
// call returns the same client.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// CertificatePEM returns the server's self-signed certificate, PEM-encoded.
// Another process can trust the server through it: write it to a file and
// set SSL_CERT_FILE to that file in the child's environment (Go programs on
// Linux, and OpenSSL-based ones such as curl, read their roots from there).
func (s *Server) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
}

// Intercept puts h in front of the simulator: every request goes to h, with
// next the Sim, until Intercept(nil). It is for what a Fault cannot express,
// such as holding a request until the test lets it go, or acting after a
// write is applied and before it is answered (serve next into an
// httptest.ResponseRecorder, act, then panic(http.ErrAbortHandler) to drop
// the connection). Requests h answers without next are not in the Sim's
// request log.
func (s *Server) Intercept(h func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	s.mu.Lock()
	s.intercept = h
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.intercept
	s.mu.Unlock()
	if h != nil {
		h(w, r, s.Sim)
		return
	}
	s.Sim.ServeHTTP(w, r)
}

// Close shuts the server down, closing open connections.
func (s *Server) Close() {
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// ListenAndServe serves sim over plain HTTP on addr until ctx is cancelled,
// for manual testing with curl (e.g. addr "127.0.0.1:8089"). Discovery
// answers with a bare host:port, which LivePerson clients (ours included)
// call with https, so a client needs Start or Serve instead.
func ListenAndServe(ctx context.Context, addr string, sim *Sim) error {
	srv := &http.Server{Addr: addr, Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return err
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

func nowMillis() int64 { return time.Now().UnixMilli() }
