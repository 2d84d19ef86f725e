package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// shortLimits are the daemon's HTTP limits shortened for tests.
var shortLimits = serverLimits{readHeader: 300 * time.Millisecond, read: time.Second, write: 300 * time.Millisecond,
	idle: 300 * time.Millisecond, maxHeaderBytes: 4 << 10}

// closedByServer reads conn until the server closes it, and fails the
// test if it has not within 10 seconds (far beyond the short limits).
func closedByServer(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("%s: the server kept the connection open", what)
	}
}

// TestDaemonHTTPLimits: nobody who can reach the port can hold
// connections: an idle keep-alive connection and one that sends its
// headers too slowly are closed, and oversized headers are refused. A
// POST /v1/runs waiting for its run is not cut by the write timeout.
func TestDaemonHTTPLimits(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	g := &gate{}
	f.httpClient = &http.Client{Transport: hookTransport{base: f.srv.Client().Transport, match: isSkillsRequest("GET"), hook: g.hold}}
	lim := shortLimits
	d := f.startDaemon(&env{serverLimits: &lim})

	t.Run("idle connection closed", func(t *testing.T) {
		conn, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /livez HTTP/1.1\r\nHost: skillsync\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("GET /livez: %v %v", resp, err)
		}
		closedByServer(t, conn, "idle keep-alive connection")
	})
	t.Run("slow headers closed", func(t *testing.T) {
		conn, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /livez HTTP/1.1\r\nHost: skillsync\r\n"); err != nil {
			t.Fatal(err)
		}
		closedByServer(t, conn, "connection sending its headers slowly")
	})
	t.Run("oversized headers refused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+d.addr+"/livez", nil)
		req.Header.Set("X-Padding", strings.Repeat("x", 64<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("64 KiB of headers: %d, want 431", resp.StatusCode)
		}
	})
	t.Run("a run outlasting the write timeout is answered", func(t *testing.T) {
		g.arm()
		type answer struct {
			code int
			body string
		}
		done := make(chan answer, 1)
		go func() {
			req, _ := http.NewRequest("POST", "http://"+d.addr+"/v1/runs?mode=plan", nil)
			req.Header.Set("Authorization", "Bearer "+testTriggerToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- answer{0, err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			done <- answer{resp.StatusCode, string(b)}
		}()
		<-g.reached
		// The run is held past the read and write timeouts: a slow run,
		// not async work to wait for.
		time.Sleep(lim.read + lim.write)
		close(g.open)
		if a := <-done; a.code != 200 || !strings.Contains(a.body, `"status": "finished"`) {
			t.Errorf("POST /v1/runs: %d %s", a.code, a.body)
		}
		d.nextRun()
	})
}
