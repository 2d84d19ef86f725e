// Package e2e is skillsync's end-to-end suite. Its tests build the real
// binary once and drive it through the contract of design.md §4–5 (the
// configuration file, the commands, the exit codes, the JSON plan) against
// lpsim, served over TLS from the test process, and a real PostgreSQL
// (store/pgtest).
//
// What it proves: LivePerson faults (5xx bursts, 429 with Retry-After,
// dropped connections, lost create responses, concurrent edits answered
// 409 or 412, expiring tokens, an outage longer than the retry schedule)
// are survived under each auth method; a sync killed with SIGKILL mid-apply
// is recorded as interrupted and the next run converges without
// duplicates; SIGTERM lets the daemon finish its batch and exit 0; a
// daemon outlives a PostgreSQL outage; two daemons never apply at once;
// bad HR input never reaches LivePerson; no secret reaches an output or a
// database row.
//
// BenchmarkScale measures the first sync, a no-op run and 5% churn at
// 100,000 HR records (see scale_test.go for the command).
//
// The package has no non-test code besides this comment.
package e2e
