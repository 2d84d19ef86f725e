// Command skillsync keeps the skills of a LivePerson account, and the skills
// its agents hold, in line with an HR system. See README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	// The distroless image has no zoneinfo of its own everywhere we run:
	// embedding it keeps `timezone:` working in every build.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfiles := startProfiles(os.Getenv("SKILLSYNC_CPUPROFILE"), os.Getenv("SKILLSYNC_MEMPROFILE"), os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfiles()
	writePeakRSS(os.Getenv("SKILLSYNC_PEAKRSS"), os.Stderr)
	stop()
	os.Exit(code)
}

// startProfiles starts a CPU profile written to cpuPath, and a heap
// profile written to memPath, when they are not empty: the scale benchmark
// sets SKILLSYNC_CPUPROFILE and SKILLSYNC_MEMPROFILE to see where the
// binary spends its time and memory (README, Performance). The returned
// function stops them and writes the files; a profile that cannot be
// written is reported on stderr and changes nothing else.
func startProfiles(cpuPath, memPath string, stderr io.Writer) (stop func()) {
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err == nil {
			err = pprof.StartCPUProfile(f)
			if err != nil {
				_ = f.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "skillsync: SKILLSYNC_CPUPROFILE: %v\n", err)
		} else {
			cpu = f
		}
	}
	var peak *heapPeak
	if memPath != "" {
		peak = watchHeap()
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				fmt.Fprintf(stderr, "skillsync: SKILLSYNC_CPUPROFILE: %v\n", err)
			}
		}
		if peak != nil {
			if err := os.WriteFile(memPath, peak.stop(), 0o644); err != nil {
				fmt.Fprintf(stderr, "skillsync: SKILLSYNC_MEMPROFILE: %v\n", err)
			}
		}
	}
}

// writePeakRSS writes the process's own peak resident set (the VmHWM line
// of /proc/self/status) to path, when path is not empty. The scale
// benchmark reads it there: the ru_maxrss that the parent gets from wait4
// is no use, since Linux carries the peak of the parent (which starts the
// binary with vfork) into the child at exec.
func writePeakRSS(path string, stderr io.Writer) {
	if path == "" {
		return
	}
	status, err := os.ReadFile("/proc/self/status")
	if err == nil {
		err = errors.New("no VmHWM in /proc/self/status")
		for line := range strings.Lines(string(status)) {
			if strings.HasPrefix(line, "VmHWM:") {
				err = os.WriteFile(path, []byte(line), 0o644)
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "skillsync: SKILLSYNC_PEAKRSS: %v\n", err)
	}
}

// heapPeak keeps the heap profile taken when the live heap was largest:
// what peak RSS is made of. At exit most of it is garbage already.
type heapPeak struct {
	done chan struct{}
	wg   sync.WaitGroup
	prof []byte // guarded by wg: written by the watcher only
}

// watchHeap samples the live heap every 10 ms and takes a heap profile
// each time it has grown by a tenth over the last one taken.
func watchHeap() *heapPeak {
	p := &heapPeak{done: make(chan struct{})}
	p.wg.Go(func() {
		sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var taken uint64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		take := func() {
			var b bytes.Buffer
			if pprof.Lookup("heap").WriteTo(&b, 0) == nil {
				p.prof = b.Bytes()
			}
		}
		for {
			select {
			case <-p.done:
				if p.prof == nil {
					take()
				}
				return
			case <-tick.C:
			}
			rtmetrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > taken+taken/10 {
				taken = live
				take()
			}
		}
	})
	return p
}

// stop ends the watch and returns the profile of the largest heap.
func (p *heapPeak) stop() []byte {
	close(p.done)
	p.wg.Wait()
	return p.prof
}
