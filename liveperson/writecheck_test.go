package liveperson

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
)

// TestWriteCheckBeforeEveryAttempt: under WithWriteCheck a write asks the
// check before each attempt, retries included, and an attempt the check
// refuses is not sent nor retried; reads never ask.
func TestWriteCheckBeforeEveryAttempt(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("ac-revision", "7")
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("[]"))
	})
	c, _ := setup(t, f, nil)
	refused := errors.New("refused")
	var checks atomic.Int32
	ctx := WithWriteCheck(t.Context(), func(context.Context) error {
		if checks.Add(1) == 2 {
			return refused // the first retry
		}
		return nil
	})
	_, rev, err := c.ListSkillsAt(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := checks.Load(); n != 0 {
		t.Errorf("a read asked the check %d times", n)
	}
	_, _, err = c.UpdateSkills(ctx, rev, []Skill{{ID: 1, Name: "a"}})
	if !errors.Is(err, refused) {
		t.Errorf("update = %v, want the check's error", err)
	}
	if n := checks.Load(); n != 2 {
		t.Errorf("check asked %d times, want 2 (the first attempt and the retry it refused)", n)
	}
	puts := 0
	for _, r := range f.requests() {
		if r.Method == http.MethodPut {
			puts++
		}
	}
	if puts != 1 {
		t.Errorf("%d PUTs sent, want 1: the refused retry must not go out", puts)
	}
}
