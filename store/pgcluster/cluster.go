// Package pgcluster runs a throwaway PostgreSQL cluster: initdb in a
// temporary directory, then the postgres server on a free 127.0.0.1 port,
// paused, resumed and stopped on request, its files removed at the end.
// `skillsync demo` runs on one, and store/pgtest builds the test databases
// of every package on one.
//
// It owns the cluster's process and files only: no schema, no migrations,
// no knowledge of tests. It may import the standard library and pgx, and
// must not import `testing` (the demo ships in the binary) nor any package
// of this module.
//
// In the house (README, Layout; e2e/layout_test.go), it imports nothing of skillsync, and never testing.
package pgcluster

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configure a throwaway cluster. The zero value is usable.
type Options struct {
	// Dir is where the cluster's temporary directory is created
	// (default os.TempDir()). When running as root it must be traversable
	// by the postgres user.
	Dir string
	// Database is created once the server is up and is the one URL names
	// (default "skillsync"; "postgres" creates nothing).
	Database string
	// BinDir holds initdb and postgres (default: the directory of initdb
	// found on PATH, else the newest /usr/lib/postgresql/*/bin).
	BinDir string
	// StartTimeout bounds initdb plus server start-up (default 60s).
	StartTimeout time.Duration
	// Settings are extra server settings (postgres -c name=value); they
	// override the defaults, which favour speed over durability.
	Settings map[string]string
}

// defaultSettings trade durability for speed: the data is thrown away.
var defaultSettings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
	"autovacuum":         "off",
	"max_connections":    "200",
	"shared_buffers":     "32MB",
	"listen_addresses":   "127.0.0.1",
	"TimeZone":           "UTC",
	"log_min_messages":   "warning",
}

// superuser is the cluster's superuser, whatever OS user runs it.
const superuser = "postgres"

// Cluster is a running throwaway PostgreSQL server. Its methods are safe
// for concurrent use.
type Cluster struct {
	dir      string // temporary directory: data/, the socket, server.log
	database string
	binDir   string
	cred     *syscall.Credential
	settings map[string]string

	mu      gosync.Mutex
	port    int           // fixed once started: URL must stay valid across Pause
	proc    *exec.Cmd     // the server process, nil before the first start
	done    chan struct{} // closed when proc has exited
	paused  bool
	stopped bool
	stopErr error
}

// Start creates a cluster with initdb in a new temporary directory and starts
// its server on a free 127.0.0.1 port, with its Unix socket in that directory.
//
// When the process runs as root, initdb and the server run as the "postgres"
// user (initdb refuses root) and the directory is given to that user.
//
// The server is a direct child of this process and is asked to shut down
// (SIGQUIT) if this process dies, so a crashed test binary leaves no server
// behind. Call Stop to stop it and remove its files.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts.StartTimeout = cmp.Or(opts.StartTimeout, 60*time.Second)
	opts.Database = cmp.Or(opts.Database, "skillsync")
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	binDir, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	removeAbandoned(cmp.Or(opts.Dir, os.TempDir()))
	dir, err := os.MkdirTemp(opts.Dir, dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	// Mark the directory as ours so that a later Start can tell it was
	// abandoned if this process dies without Stop.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("give %s to user postgres: %w", dir, err)
		}
	}

	settings := make(map[string]string, len(defaultSettings)+len(opts.Settings))
	for k, v := range defaultSettings {
		settings[k] = v
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	c := &Cluster{dir: dir, database: opts.Database, binDir: binDir, cred: cred, settings: settings}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}

	// Another process may take the free port between our probe and the
	// server's bind; try a few ports before giving up.
	const attempts = 5
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		err = c.start(ctx, port, false)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortInUse) || attempt == attempts {
			return nil, err
		}
	}

	if c.database != superuser {
		if err := c.createDatabase(ctx, c.database); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// URL is the connection URL of the cluster's database (Options.Database).
func (c *Cluster) URL() string { return c.URLFor(c.database) }

// URLFor is the connection URL of database name on the cluster.
func (c *Cluster) URLFor(name string) string {
	c.mu.Lock()
	port := c.port
	c.mu.Unlock()
	return urlFor(port, name)
}

func urlFor(port int, name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Dir is the cluster's temporary directory; server.log there holds the
// server's log.
func (c *Cluster) Dir() string { return c.dir }

// Stop shuts the server down immediately (the data is thrown away) and
// removes its directory. It is safe to call more than once, and on a paused
// cluster.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.stopErr
	}
	c.stopped = true
	// SIGQUIT: immediate shutdown, no checkpoint.
	c.signalAndWait(syscall.SIGQUIT, 30*time.Second)
	if err := os.RemoveAll(c.dir); err != nil {
		c.stopErr = fmt.Errorf("remove cluster directory: %w", err)
	}
	return c.stopErr
}

// Pause shuts the server down and keeps its data, so that Resume can start
// it again, for tests of what happens while the database is away. It is a
// fast shutdown: open sessions are ended, new connections refused, and
// committed data is flushed. If ctx ends first, the server is shut down
// immediately (SIGQUIT) and Pause returns ctx's error; the data stays.
// Pausing a paused cluster does nothing.
func (c *Cluster) Pause(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.stopped:
		return errors.New("pause: the cluster is stopped")
	case c.paused:
		return nil
	}
	c.paused = true
	_ = c.proc.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.signalAndWait(syscall.SIGQUIT, 30*time.Second)
		return fmt.Errorf("pause: %w", ctx.Err())
	}
}

// Resume starts a paused server again on its data and port, and returns
// once it accepts connections: URL and URLFor stay valid. It fails if
// another process took the port meanwhile. Resuming a running cluster does
// nothing.
func (c *Cluster) Resume(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.stopped:
		return errors.New("resume: the cluster is stopped")
	case !c.paused:
		return nil
	}
	if err := c.start(ctx, c.port, true); err != nil {
		if errors.Is(err, errPortInUse) {
			return fmt.Errorf("resume: port %d was taken while the cluster was paused", c.port)
		}
		return fmt.Errorf("resume: %w", err)
	}
	c.paused = false
	return nil
}

// signalAndWait sends sig to a running server and waits until it has
// exited, killing it after timeout. Callers hold c.mu.
func (c *Cluster) signalAndWait(sig syscall.Signal, timeout time.Duration) {
	if c.proc == nil || c.proc.Process == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.proc.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.proc.Process.Kill()
		<-c.done
	}
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) initdb(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "initdb"),
		"--pgdata", c.dataDir(),
		"--username", superuser,
		"--auth", "trust",
		"--encoding", "UTF8",
		"--locale", "C",
		"--no-sync",
	)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb in %s: %w\n%s", c.dir, err, bytes.TrimSpace(out))
	}
	return nil
}

var errPortInUse = errors.New("port in use")

// start runs the server on port and waits until it accepts connections.
// A restart (Resume) appends to server.log; a failed start-up's log is
// the part written by this attempt.
func (c *Cluster) start(ctx context.Context, port int, restart bool) error {
	logPath := filepath.Join(c.dir, "server.log")
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if restart {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	logFile, err := os.OpenFile(logPath, flags, 0o644)
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	defer logFile.Close() // the child has its own copy
	logStart, _ := logFile.Seek(0, io.SeekEnd)

	args := []string{"-D", c.dataDir(), "-p", strconv.Itoa(port), "-k", c.dir}
	keys := make([]string, 0, len(c.settings))
	for k := range c.settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+c.settings[k])
	}
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), args...)
	cmd.Dir = c.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: c.cred,
		// If this process dies, the server shuts down too.
		Pdeathsig: syscall.SIGQUIT,
		// Keep terminal signals (Ctrl-C to go test) for us to handle.
		Setpgid: true,
	}

	// The parent-death signal fires when the OS thread that started the
	// child exits, so start and wait for the child on a locked thread that
	// lives exactly as long as the server.
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.proc, c.done, c.port = cmd, done, port

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := pgx.Connect(ctx, urlFor(port, superuser))
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-done:
			log := readFrom(logPath, logStart)
			if bytes.Contains(log, []byte("could not bind")) || bytes.Contains(log, []byte("already in use")) {
				return errPortInUse
			}
			return fmt.Errorf("postgres exited during start-up (log %s):\n%s", logPath, tail(log, 20))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			log := readFrom(logPath, logStart)
			return fmt.Errorf("postgres did not accept connections on port %d: %w (last error: %v)\n%s",
				port, ctx.Err(), err, tail(log, 20))
		case <-tick.C:
		}
	}
}

func (c *Cluster) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URLFor(superuser))
	if err != nil {
		return fmt.Errorf("connect to throwaway cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

const (
	dirPrefix = "skillsync-pg-"
	ownerFile = "owner.pid" // pid of the process that started the cluster
)

// removeAbandoned removes the directories of clusters whose owning process
// is gone (it died without Stop; its server went with it, see Start).
func removeAbandoned(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or still being set up
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

// credential is the identity the cluster runs as: nil (ourselves) unless we
// are root, which initdb and postgres refuse; then the "postgres" user.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root: "+
			"create a 'postgres' user (useradd --system postgres) or set SKILLSYNC_TEST_DATABASE_URL: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// findBinDir finds the directory holding initdb and postgres.
func findBinDir(dir string) (string, error) {
	has := func(d string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("no initdb and postgres in %s", dir)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		// Follow symlinks (e.g. /usr/local/bin/initdb) to the real bin dir,
		// where postgres lives too.
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: compare numerically, 9.6 < 10 < 17.
	slices.SortFunc(matches, func(a, b string) int {
		return -compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
	for _, m := range matches {
		if has(m) {
			return m, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries not found (initdb on PATH or /usr/lib/postgresql/*/bin): " +
		"install PostgreSQL (Debian: apt-get install postgresql) or set SKILLSYNC_TEST_DATABASE_URL")
}

func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// readFrom returns the contents of the file at path from offset on.
func readFrom(path string, offset int64) []byte {
	b, _ := os.ReadFile(path)
	if offset > int64(len(b)) {
		return nil
	}
	return b[offset:]
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
