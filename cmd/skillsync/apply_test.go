package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/store/pgtest"
)

// runWithInput runs skillsync in-process with stdin as a terminal that
// answers input.
func (f *fixture) runWithInput(input string, args ...string) (code int, stdout, stderr string) {
	f.t.Helper()
	var out, errOut bytes.Buffer
	e := f.env(&out, &errOut)
	e.stdin, e.terminal = strings.NewReader(input), true
	code = runEnv(context.Background(), append(args, "--config", f.configPath), e)
	return code, out.String(), errOut.String()
}

// TestApplyAsksOnATerminal: on a terminal without --yes, apply shows the
// stored plan and applies it only after the answer "yes".
func TestApplyAsksOnATerminal(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	out, _ := f.mustRun(exitOK, "plan", "--format", "json")
	var head struct {
		RunID int64 `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(out), &head); err != nil || head.RunID == 0 {
		t.Fatalf("plan: %v %s", err, out)
	}
	id := strconv.FormatInt(head.RunID, 10)
	for _, answer := range []string{"no\n", "", "y\n", "YES\n"} {
		code, stdout, stderr := f.runWithInput(answer, "apply", id)
		if code != exitError || !strings.Contains(stdout, "Only 'yes' will be accepted") || !strings.Contains(stdout, "Plan: 14 to create") ||
			!strings.Contains(stderr, "apply cancelled") {
			t.Fatalf("answer %q: exit %d\nstdout:\n%s\nstderr:\n%s", answer, code, stdout, stderr)
		}
	}
	if n := len(f.sim.Skills(false)); n != 0 {
		t.Fatalf("%d skills made without a yes", n)
	}
	code, stdout, stderr := f.runWithInput("yes\n", "apply", id)
	if code != exitOK || !strings.Contains(stdout, "applied: 14 created") || !strings.Contains(stdout, "It applied the plan of run "+id+", approved by ") {
		t.Fatalf("answer yes: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if n := len(f.sim.Skills(false)); n != departmentsAndRol {
		t.Fatalf("%d skills after the approval, want %d", n, departmentsAndRol)
	}
	// Used up: exit 4 without asking.
	if code, stdout, stderr := f.runWithInput("yes\n", "apply", id); code != exitStale || !strings.Contains(stderr, "applied already") || strings.Contains(stdout, "Only 'yes'") {
		t.Fatalf("second apply: exit %d: %s%s", code, stdout, stderr)
	}
	// Markdown of the apply run, for a chat message.
	out, _ = f.mustRun(exitOK, "runs", "show", strconv.FormatInt(head.RunID+1, 10), "--format", "markdown")
	if !strings.Contains(out, "Applies the plan of run "+id+", approved by ") || !strings.Contains(out, "### Journal") {
		t.Errorf("runs show --format markdown of the approval run:\n%s", out)
	}
}

// TestUserHeaderMustBeAHeaderName: server.user_header is checked.
func TestUserHeaderMustBeAHeaderName(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"X-Forwarded-User", "X-Auth-Request-Email"} {
		if !headerName(h) {
			t.Errorf("%q refused", h)
		}
	}
	for _, h := range []string{"X Forwarded", "X-User:", "Ünicode", ""} {
		if headerName(h) {
			t.Errorf("%q accepted", h)
		}
	}
}

// TestPlanSaysHowToApplyIt: a dry run with changes names the command that
// applies exactly its plan.
func TestPlanSaysHowToApplyIt(t *testing.T) {
	t.Parallel()
	f := setup(t, "")
	out, _ := f.mustRun(exitOK, "plan")
	if !strings.Contains(out, "Run 1 stored this plan: once reviewed, 'skillsync apply 1' applies exactly it") {
		t.Errorf("plan:\n%s", out)
	}
}

// TestApplyInTheRunsAccount: with several accounts, apply RUN_ID applies
// the plan in the account the run belongs to; --account naming another
// account finds no plan there.
func TestApplyInTheRunsAccount(t *testing.T) {
	t.Parallel()
	f := setupTwoAccounts(t, pgtest.DB(t), testClientSecret, "", "")
	out, _ := f.mustRun(exitOK, "plan", "--account", "apac", "--format", "json")
	var head struct {
		RunID   int64  `json:"run_id"`
		Account string `json:"account"`
	}
	if err := json.Unmarshal([]byte(out), &head); err != nil || head.RunID == 0 || head.Account != "apac" {
		t.Fatalf("plan: %v %s", err, out)
	}
	id := strconv.FormatInt(head.RunID, 10)
	if _, errOut := f.mustRun(exitError, "apply", id, "--yes", "--account", "emea"); !strings.Contains(errOut, "no stored plan") {
		t.Errorf("apply in another account: %s", errOut)
	}
	out, _ = f.mustRun(exitOK, "apply", id, "--yes", "--format", "json")
	if err := json.Unmarshal([]byte(out), &head); err != nil || head.Account != "apac" {
		t.Fatalf("apply: %v %s", err, out)
	}
	if n := f.apac.Count("POST", "/api/account/222"+accountSkillsPath); n == 0 {
		t.Error("apac's skills were not created")
	}
	if n := f.emea.Count("POST", "/api/account/111"+accountSkillsPath); n != 0 {
		t.Errorf("emea got %d creates from apac's plan", n)
	}
}
