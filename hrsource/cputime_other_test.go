//go:build !unix

package hrsource

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
