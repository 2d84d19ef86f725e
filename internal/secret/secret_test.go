package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	gosync "sync"
	"testing"
)

func TestSecretNeverPrintsItsValue(t *testing.T) {
	t.Parallel()
	s := Secret("pw-7c1d9e0a")
	b, err := json.Marshal(struct{ P Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "p", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v %+v", s, s, s, struct{ P Secret }{s}), string(b), logs.String()} {
		if strings.Contains(out, s.Reveal()) || !strings.Contains(out, Redacted) {
			t.Errorf("printed %q", out)
		}
	}
	if Secret("").String() != "" {
		t.Errorf("an empty secret prints as %q", Secret(""))
	}
}

// TestHuntable is the one length rule: 3 characters for a value whose
// name says it is a secret, 8 for any other.
func TestHuntable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		named bool
		want  bool
	}{
		{"", true, false}, {"ab", true, false}, {"abc", true, true},
		{"2", false, false}, {"require", false, false}, {"12345678", false, true},
	}
	for _, tt := range tests {
		if got := Huntable(tt.value, tt.named); got != tt.want {
			t.Errorf("Huntable(%q, %v) = %v, want %v", tt.value, tt.named, got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"password", "client_secret", "trigger_token", "X-Auth-Token", "Cookie", "bearer"} {
		if !Key(k) || !Param(k) {
			t.Errorf("%s: Key %v, Param %v; want both", k, Key(k), Param(k))
		}
	}
	for _, p := range []string{"api_key", "apikey", "sig", "X-Api-Key", "session_id", "credentials"} {
		if !Param(p) {
			t.Errorf("Param(%q) = false", p)
		}
	}
	for _, n := range []string{"page", "sslmode", "url", "user", "X-Version"} {
		if Key(n) || Param(n) {
			t.Errorf("%s: Key %v, Param %v; want neither", n, Key(n), Param(n))
		}
	}
}

// TestSetReplacesLongestFirst: a secret containing another is replaced
// whole, a replacement is not searched again, and a nil Set hides nothing.
func TestSetReplacesLongestFirst(t *testing.T) {
	t.Parallel()
	s := NewSet("abc", "", "abcdef", "dact", "abc")
	if got, want := s.Replace("x abcdef y abc z redacted"), "x [redacted] y [redacted] z re[redacted]ed"; got != want {
		t.Errorf("Replace = %q, want %q", got, want)
	}
	if got := s.Values(); !slices.Equal(got, []string{"abcdef", "dact", "abc"}) {
		t.Errorf("Values = %q", got)
	}
	var none *Set
	if none.Replace("abc") != "abc" || none.Error(nil) != nil || none.Values() != nil {
		t.Error("a nil Set changed something")
	}
	none.Add("x") // must not panic
}

// TestSetAdd: a secret learned at run time is hidden from then on, also
// while other goroutines read.
func TestSetAdd(t *testing.T) {
	t.Parallel()
	s := NewSet("configured-1")
	var wg gosync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s.Add(fmt.Sprintf("learned-%d", i))
			_ = s.Replace("configured-1 learned-0")
		})
	}
	wg.Wait()
	s.Add("")
	s.Add("learned-3")
	if got := s.Replace("configured-1 learned-0 learned-7"); got != "[redacted] [redacted] [redacted]" {
		t.Errorf("Replace = %q", got)
	}
	if n := len(s.Values()); n != 9 {
		t.Errorf("%d values, want 9", n)
	}
}

func TestSetError(t *testing.T) {
	t.Parallel()
	s := NewSet("s3cret-abc")
	err := s.Error(fmt.Errorf("GET x: s3cret-abc: %w", context.DeadlineExceeded))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "GET x: [redacted]: context deadline exceeded" {
		t.Errorf("err = %v (%T)", err, err)
	}
	if plain := errors.New("nothing secret"); s.Error(plain) != plain {
		t.Error("an error with no secret was wrapped")
	}
	if w := Wrap(context.Canceled, "m"); w.Error() != "m" || !errors.Is(w, context.Canceled) {
		t.Errorf("Wrap = %v", w)
	}
}

func TestURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, hidden string
		secrets    []string
	}{
		{"postgres://app:p%40ss@db/x?sslmode=disable", "postgres://app:[redacted]@db/x?sslmode=disable", []string{"p@ss", "p%40ss"}},
		{"host=db password='pw 1' user=app", "host=db password=[redacted] user=app", []string{"'pw 1'", "pw 1"}},
		{"https://hr/x?api_key=k-1&page=2", "https://hr/x?api_key=[redacted]&page=2", nil},
		{"plain text", "plain text", nil},
	}
	for _, tt := range tests {
		if got := HideURL(tt.in); got != tt.hidden {
			t.Errorf("HideURL(%q) = %q, want %q", tt.in, got, tt.hidden)
		}
		if got := OfURL(tt.in); !slices.Equal(got, tt.secrets) {
			t.Errorf("OfURL(%q) = %q, want %q", tt.in, got, tt.secrets)
		}
	}
	_, hidden := HideQuery("https://hr/x?api_key=k-1&page=2&sslmode=require&code=abcdefgh12", func(string) bool { return true })
	var hunted []string
	for _, q := range hidden {
		hunted = append(hunted, q.Secrets()...)
	}
	if !slices.Equal(hunted, []string{"k-1", "k-1", "abcdefgh12", "abcdefgh12"}) {
		t.Errorf("hunted %q", hunted)
	}
	if got := Text("a pw-1 b", []string{"pw-1", ""}); got != "a [redacted] b" {
		t.Errorf("Text = %q", got)
	}
}
