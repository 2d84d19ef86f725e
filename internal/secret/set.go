package secret

import (
	"slices"
	"strings"
	"sync"
)

// Set replaces known secret values in text with Redacted. It holds the
// secrets of a configuration and those learned at run time (an OAuth
// access token); it is safe for concurrent use. A nil *Set hides nothing.
type Set struct {
	mu     sync.RWMutex
	values []string
	r      *strings.Replacer
}

// NewSet returns a Set hiding values (empty ones are ignored). Callers
// choose what to hide: the length rule (Huntable) is theirs to apply,
// since only they know the name a value was configured under.
func NewSet(values ...string) *Set {
	s := &Set{}
	s.set(Sort(slices.Clone(values)))
	return s
}

func (s *Set) set(sorted []string) {
	pairs := make([]string, 0, 2*len(sorted))
	for _, v := range sorted {
		pairs = append(pairs, v, Redacted)
	}
	s.values, s.r = sorted, strings.NewReplacer(pairs...)
}

// Replace returns text with every secret replaced by Redacted. At each
// position the longest secret that matches is replaced, and a replacement
// is never searched again.
func (s *Set) Replace(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.r.Replace(text)
}

// Add hides v from now on (a secret met at run time). An empty v, or one
// already known, changes nothing.
func (s *Set) Add(v string) {
	if s == nil || v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.values, v) {
		return
	}
	s.set(Sort(append(slices.Clone(s.values), v)))
}

// Values returns the secrets hidden, longest first.
func (s *Set) Values() []string {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.values)
}

// Error returns err with its text redacted: err itself when the text holds
// no secret, else an *Error that unwraps to err.
func (s *Set) Error(err error) error {
	if err == nil || s == nil {
		return err
	}
	msg := err.Error()
	if clean := s.Replace(msg); clean != msg {
		return &Error{msg: clean, err: err}
	}
	return err
}
