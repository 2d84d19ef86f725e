package lpsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// Server is a Sim served over TLS on 127.0.0.1 for tests.
type Server struct {
	Sim *Sim
	ts  *httptest.Server
}

// Serve starts sim on an httptest TLS server on 127.0.0.1. HTTP/2 is off so
// Drop and LoseResponse can close the connection like a network failure.
func Serve(sim *Sim) *Server {
	ts := httptest.NewUnstartedServer(sim)
	ts.StartTLS()
	return &Server{Sim: sim, ts: ts}
}

// Start serves sim over TLS on addr (e.g. "127.0.0.1:8443") with the same
// self-signed certificate as Serve, for the demo and manual testing
// (curl -k). Discovery answers with the host the client connected to.
func Start(sim *Sim, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("lpsim: listen on %s: %w", addr, err)
	}
	ts := httptest.NewUnstartedServer(sim)
	_ = ts.Listener.Close()
	ts.Listener = ln
	ts.StartTLS()
	return &Server{Sim: sim, ts: ts}, nil
}

// URL returns https://127.0.0.1:port, to use as domain_api_url: discovery
// returns this host:port for every service.
func (s *Server) URL() string { return s.ts.URL }

// Client returns an HTTP client that trusts the server's certificate. Each
// call returns the same client.
func (s *Server) Client() *http.Client { return s.ts.Client() }

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
