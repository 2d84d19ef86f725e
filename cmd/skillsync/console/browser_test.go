package console

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/skillsync/skillsync/cmd/skillsync/console/consoletest"
)

// TestBrowserApproval drives the console in headless Chromium: sign in, the
// overview, a refused run's plan, and its approval with the Apply button.
// The pages need no script: the CSP allows none.
func TestBrowserApproval(t *testing.T) {
	t.Parallel()
	ctx := consoletest.Browser(t)
	src := newMemSource()
	ap := &applier{src: src}
	srv := httptest.NewServer(New(Options{Source: src, Apply: ap.apply, Token: testToken, Outcomes: testOutcomes}))
	defer srv.Close()

	// A wrong token keeps the browser on the sign-in form.
	if err := consoletest.SignIn(ctx, srv.URL, "not-the-token-not-the-token"); err != nil {
		t.Fatal(err)
	}
	if msg, _ := consoletest.Text(ctx, ".error"); !strings.Contains(msg, "not the token") {
		t.Errorf("wrong token: the page says %q", msg)
	}
	if err := consoletest.SignIn(ctx, srv.URL, testToken); err != nil {
		t.Fatal(err)
	}
	main, err := consoletest.Text(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Overview", "default", "Refused by a guard", "headcount fell 40%"} {
		if !strings.Contains(main, want) {
			t.Errorf("overview lacks %q:\n%s", want, main)
		}
	}
	if err := consoletest.Click(ctx, `.account a[href="/runs/3"]`); err != nil {
		t.Fatal(err)
	}
	main, _ = consoletest.Text(ctx, "main")
	for _, want := range []string{"Run 3", "+ Sales / Manager", "~ Research", "- Old Team", "max_wait_time", "Apply this plan"} {
		if !strings.Contains(main, want) {
			t.Errorf("run page lacks %q:\n%s", want, main)
		}
	}
	// The README's image of a run page: a refused run, its plan, Apply.
	consoletest.Screenshot(t, ctx, "console-run.png")
	// Readable on a phone: the page fits a 390 px wide screen (wide
	// tables scroll inside their own box).
	if over, err := consoletest.Overflow(ctx, 390, 844); err != nil || over > 0 {
		t.Errorf("on a phone the run page is %d px too wide (%v)", over, err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateReset()); err != nil {
		t.Fatal(err)
	}
	if err := consoletest.Click(ctx, "#apply"); err != nil {
		t.Fatal(err)
	}
	if loc, _ := consoletest.Location(ctx); !strings.HasSuffix(loc, "/runs/101?approved=3") {
		t.Errorf("after Apply the browser is at %s", loc)
	}
	if msg, _ := consoletest.Text(ctx, ".notice"); !strings.Contains(msg, "applied the plan of run 3") {
		t.Errorf("after Apply the page says %q", msg)
	}
	if calls := ap.Calls(); len(calls) != 1 || calls[0] != "3 by token" {
		t.Errorf("apply calls: %v", calls)
	}

	// Sign out: the pages ask for the token again.
	if err := consoletest.Click(ctx, "form.signout button"); err != nil {
		t.Fatal(err)
	}
	if err := consoletest.Open(ctx, srv.URL+"/runs/3"); err != nil {
		t.Fatal(err)
	}
	if loc, _ := consoletest.Location(ctx); !strings.HasSuffix(loc, "/login") {
		t.Errorf("signed out, /runs/3 leads to %s", loc)
	}
}
