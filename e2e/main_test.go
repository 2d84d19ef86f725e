package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/skillsync/skillsync/store/pgtest"
)

// binary is the skillsync binary built by TestMain.
var binary string

// binDirPrefix names the directories holding built binaries, so that one
// left by a test binary that died before its cleanup is removed by the
// next run.
const binDirPrefix = "skillsync-e2e-bin-"

func TestMain(m *testing.M) {
	gobin, err := exec.LookPath("go")
	if err != nil && os.Getenv("GOROOT") != "" {
		gobin, err = exec.LookPath(filepath.Join(os.Getenv("GOROOT"), "bin", "go"))
	}
	if err != nil {
		fmt.Println("e2e: skipped: the go command is needed to build the skillsync binary and is not on PATH")
		os.Exit(0)
	}
	removeAbandonedBinDirs()
	dir, err := os.MkdirTemp("", binDirPrefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "skillsync")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		// A suite run with -race checks the binary for races too.
		args = append(args, "-race")
	}
	build := exec.Command(gobin, append(args, "github.com/skillsync/skillsync/cmd/skillsync")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/skillsync: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	pgtest.Main(m, func() { _ = os.RemoveAll(dir) })
}

// removeAbandonedBinDirs removes binary directories whose test process is
// gone.
func removeAbandonedBinDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
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
