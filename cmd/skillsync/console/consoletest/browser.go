// Package consoletest drives the web console in a real headless Chromium
// (chromedp) for the tests of the console and of the daemon.
//
// In the house (README, Layout; e2e/layout_test.go), it imports nothing of
// ours, and not the testing package (T is what it needs of a test).
package consoletest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// T is what the helpers need of a test; testing.TB has it. The package
// does not import testing itself: the house keeps it out of every package
// but the tests' own files.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	TempDir() string
	Cleanup(func())
}

// RequireEnv, set to 1 (CI sets it), turns a missing Chromium from a skip
// into a failure.
const RequireEnv = "SKILLSYNC_REQUIRE_BROWSER"

// ChromiumEnv names a Chromium binary to use instead of looking for one.
const ChromiumEnv = "SKILLSYNC_CHROMIUM"

// ScreenshotsEnv, when set, is the directory where the tests save their
// screenshots of the console (the README's images: docs/).
const ScreenshotsEnv = "SKILLSYNC_CONSOLE_SCREENSHOTS"

// findChromium returns the path of a Chromium or Chrome binary, "" if none.
func findChromium() string {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser starts a headless Chromium for t (stopped when t ends) and
// returns its context. Without Chromium, t is skipped, or fails when
// SKILLSYNC_REQUIRE_BROWSER=1.
func Browser(t T) context.Context {
	t.Helper()
	path := findChromium()
	if path == "" {
		msg := "no Chromium found (looked for chromium, chromium-browser, google-chrome, headless-shell on PATH, and $" + ChromiumEnv +
			"): install it (Debian: apt-get install chromium) to run the browser tests"
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg + "; " + RequireEnv + "=1 requires them")
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now: a Chromium that cannot start fails here,
	// with its reason.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// Click clicks sel and waits for the page it leads to.
func Click(ctx context.Context, sel string) error {
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel))))
	return err
}

// Open navigates to url and waits for the page.
func Open(ctx context.Context, url string) error {
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

// Text returns the visible text of the first element matching sel.
func Text(ctx context.Context, sel string) (string, error) {
	return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
}

// Location returns the current URL.
func Location(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.Location())
}

// SignIn fills and submits the sign-in form at base+"/login".
func SignIn(ctx context.Context, base, token string) error {
	if err := Open(ctx, base+"/login"); err != nil {
		return err
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("token"), token)); err != nil {
		return err
	}
	return Click(ctx, `main form button[type="submit"]`)
}

// Screenshot saves the whole page as dir/name (PNG) when ScreenshotsEnv
// names a directory, and does nothing otherwise.
func Screenshot(t T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Overflow returns by how many CSS pixels the page is wider than a
// viewport of width (0: it fits) once the viewport is set to width ×
// height, as a phone's.
func Overflow(ctx context.Context, width, height int64) (int64, error) {
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, chromedp.EmulateMobile), chromedp.Reload()); err != nil {
		return 0, err
	}
	// Evaluated by the DevTools protocol, which the page's CSP does not
	// govern: the page itself runs no script.
	w, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
	if err != nil {
		return 0, err
	}
	return max(w-width, 0), nil
}
