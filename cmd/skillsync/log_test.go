package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its terminal end, which the
// code under test writes to, and its controlling end, which reads it.
func openPTY(t *testing.T) (tty, ctl *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	if err := unix.IoctlSetPointerInt(int(ctl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ctl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, ctl
}

// TestColourFollowsTerminalAndNoColor: logs and plans are coloured only on
// a terminal (told by golang.org/x/term), and never with NO_COLOR set; the
// auto log format is text on a terminal and JSON elsewhere.
func TestColourFollowsTerminalAndNoColor(t *testing.T) {
	t.Parallel()
	const esc = "\x1b["
	tests := []struct {
		name      string
		tty       bool
		noColor   string // "-": unset
		format    string
		wantColor bool
		wantJSON  bool
	}{
		{"terminal", true, "-", "auto", true, false},
		{"terminal, NO_COLOR=1", true, "1", "auto", false, false},
		{"terminal, NO_COLOR empty", true, "", "auto", true, false},
		{"terminal, json", true, "-", "json", false, true},
		{"file", false, "-", "auto", false, true},
		{"file, text", false, "-", "text", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lookup := envMap()
			if tt.noColor != "-" {
				lookup = envMap("NO_COLOR", tt.noColor)
			}
			var w io.Writer
			var read func() string
			if tt.tty {
				tty, ctl := openPTY(t)
				w = tty
				r := bufio.NewReader(ctl)
				read = func() string { s, _ := r.ReadString('\n'); return s }
			} else {
				f, err := os.Create(t.TempDir() + "/log")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				w = f
				read = func() string { b, _ := os.ReadFile(f.Name()); return string(b) }
			}
			if got := colorOn(w, lookup); got != (tt.tty && tt.noColor != "1") {
				t.Errorf("colorOn = %v", got)
			}
			log, err := newLogger(w, tt.format, "info", nil, colorOn(w, lookup))
			if err != nil {
				t.Fatal(err)
			}
			log.Info("hello", "took", 1500*time.Millisecond)
			line := read()
			if strings.Contains(line, esc) != tt.wantColor {
				t.Errorf("coloured %v, want %v: %q", strings.Contains(line, esc), tt.wantColor, line)
			}
			if json.Valid([]byte(line)) != tt.wantJSON {
				t.Errorf("JSON %v, want %v: %q", json.Valid([]byte(line)), tt.wantJSON, line)
			}
			if !strings.Contains(line, "1.5s") {
				t.Errorf("the duration is not written as 1.5s: %q", line)
			}
		})
	}
}

// TestPlanColourOnTerminal: `skillsync plan` colours its plan on a
// terminal, unless NO_COLOR is set.
func TestPlanColourOnTerminal(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	for _, noColor := range []bool{false, true} {
		tty, ctl := openPTY(t)
		var got bytes.Buffer
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			_, _ = io.Copy(&got, ctl) // ends with EIO once tty is closed
		}()
		lookup := f.lookup
		if noColor {
			lookup = func(k string) (string, bool) {
				if k == "NO_COLOR" {
					return "1", true
				}
				return f.lookup(k)
			}
		}
		var stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: tty, stderr: &stderr, lookupEnv: lookup, lpHTTPClient: f.httpClient}
		if code := runEnv(t.Context(), []string{"plan", "--config", f.configPath, "--log-format", "json"}, e); code != exitOK {
			t.Fatalf("plan: exit %d\n%s", code, stderr.String())
		}
		tty.Close()
		<-copied
		out := got.String()
		if !strings.Contains(out, "Research & Development") {
			t.Fatalf("plan output on the terminal:\n%s", out)
		}
		if coloured := strings.Contains(out, "\x1b["); coloured == noColor {
			t.Errorf("NO_COLOR set %v: plan coloured %v", noColor, coloured)
		}
	}
}

// TestJSONLogDurations: every duration in a JSON log line is a Go duration
// string, rounded to what a person reads.
func TestJSONLogDurations(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "info", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	log.With("shutdown_timeout", 30*time.Second).Info("x", "duration", 1234567891*time.Nanosecond,
		"group", map[string]any{}, "short", 1234567*time.Nanosecond, "tiny", 850*time.Nanosecond, "n", 3)
	log.WithGroup("lp").Info("y", "duration", 2*time.Minute)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	want := map[string]any{"shutdown_timeout": "30s", "duration": "1.235s", "short": "1.235ms", "tiny": "850ns", "n": float64(3)}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("%s = %#v, want %#v", k, lines[0][k], v)
		}
	}
	if g, _ := lines[1]["lp"].(map[string]any); g["duration"] != "2m0s" {
		t.Errorf("a duration in a group = %v, want 2m0s", lines[1]["lp"])
	}
}
