package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// modulePath is the main module's import path.
const modulePath = "github.com/skillsync/skillsync"

// layout is the house (README "Layout"): for each package of the main
// module, the packages of ours it may import. A package missing here fails
// the test, so that the README's table and this one grow together.
var layout = map[string][]string{
	"cmd/skillsync":         {"*"},
	"cmd/skillsync/console": {"internal/secret", "internal/authlimit"},
	"sync":                  {"hrsource", "liveperson", "store", "internal/secret"},
	"sync/notify":           {"sync", "store", "internal/secret"},
	"hrsource":              {"internal/secret", "internal/jsonscan"},
	"liveperson":            {"internal/secret", "internal/jsonscan"},
	"liveperson/lpsim":      {"liveperson"},
	"store":                 {"migrations", "internal/secret", "internal/jsonscan"},
	"store/pgcluster":       {},
	"store/pgtest":          {"store", "store/pgcluster", "migrations"},
	"migrations":            {},
	"internal/secret":       {},
	"internal/jsonscan":     {},
	"internal/authlimit":    {},
	"e2e":                   {"*"},

	// The console's browser-test helpers (chromedp), for its tests and
	// cmd/skillsync's.
	"cmd/skillsync/console/consoletest": {},
}

// TestLayout: no package imports one of ours that the house does not allow
// (the adapters never import each other, the engine never imports cmd),
// and no package outside cmd and the tests links the testing package.
func TestLayout(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", modulePath+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bufio.NewReader(bytes.NewReader(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		name := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, modulePath), "/")
		allowed, ok := layout[name]
		if !ok {
			t.Errorf("package %s is not in the house's layout (e2e/layout_test.go, README Layout): add it with what it may import", name)
			continue
		}
		for _, imp := range p.Imports {
			if imp == "testing" && name != "store/pgtest" {
				t.Errorf("%s links the testing package outside its tests", name)
			}
			dep, ours := strings.CutPrefix(imp, modulePath+"/")
			if !ours || slices.Contains(allowed, "*") || slices.Contains(allowed, dep) {
				continue
			}
			t.Errorf("%s imports %s, which the house does not allow (it may import %v)", name, dep, allowed)
		}
	}
	if seen < 10 {
		t.Errorf("go list named %d packages: the module was not read as meant", seen)
	}
}
