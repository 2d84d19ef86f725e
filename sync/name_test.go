package sync

import (
	"math/rand/v2"
	"testing"
)

// TestNameKeyFastPathAgrees: the ASCII fast path keys every name as the
// general path does, over random names of spaces, control whitespace,
// combining accents, non-breaking spaces and letters that fold specially.
func TestNameKeyFastPathAgrees(t *testing.T) {
	alphabet := []string{"a", "B", " ", "  ", "\t", "\n", "\v", "\f", "\r", "é", "e\u0301", "\u00a0", "\u0085", "ß", "İ", "Z", "0", "/", "K"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		n := r.IntN(8)
		s := ""
		for range n {
			s += alphabet[r.IntN(len(alphabet))]
		}
		if got, want := NameKey(s), foldCase(normalizeName(s)); got != want {
			t.Fatalf("NameKey(%q) = %q, want %q", s, got, want)
		}
	}
}

// BenchmarkNameKey keys 2,000 names of the shape rules make ("Team 0042",
// "Sales / EMEA").
func BenchmarkNameKey(b *testing.B) {
	names := make([]string, 2000)
	for i := range names {
		names[i] = "Sales / EMEA Team " + string(rune('A'+i%26)) + string(rune('0'+i%10))
	}
	for b.Loop() {
		for _, n := range names {
			_ = NameKey(n)
		}
	}
}
