// Command skillsync keeps the skills of a LivePerson account, and the skills
// its agents hold, in line with an HR system. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// The distroless image has no zoneinfo of its own everywhere we run:
	// embedding it keeps `timezone:` working in every build.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
