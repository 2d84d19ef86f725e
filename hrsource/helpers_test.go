package hrsource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readDoc writes content to a file called name in a fresh directory and
// reads it with cfg (type from the extension unless set).
func readDoc(t testing.TB, name, content string, cfg Config) (*Snapshot, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return ReadFile(context.Background(), path, cfg)
}

// want is a problem expected in a ValidationError: Where exactly, and Msg
// containing each of the fragments.
type want struct {
	where string
	msg   []string
}

// checkProblems asserts that err is a *ValidationError with exactly the
// wanted problems, in order.
func checkProblems(t *testing.T, err error, wants []want) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a *ValidationError", err)
	}
	if len(ve.Problems) != len(wants) {
		t.Fatalf("%d problems, want %d:\n%v", len(ve.Problems), len(wants), err)
	}
	for i, w := range wants {
		p := ve.Problems[i]
		if p.Where != w.where {
			t.Errorf("problem %d at %q, want %q (%s)", i, p.Where, w.where, p.Msg)
		}
		for _, frag := range w.msg {
			if !strings.Contains(p.Msg, frag) {
				t.Errorf("problem %d = %q, want it to contain %q", i, p.Msg, frag)
			}
		}
	}
}

// ids lists the ids of records.
func ids(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// activeIDs lists the ids of the active records.
func activeIDs(recs []Record) []string {
	var out []string
	for _, r := range recs {
		if r.Active {
			out = append(out, r.ID)
		}
	}
	return out
}
