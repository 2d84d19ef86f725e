package sync

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// NameKey is skillsync's one identity of skill names (design §7.7): two
// names are the same name when their keys are equal. The key is the name
// in Unicode NFC, trimmed, with inner runs of whitespace collapsed to one
// space, and case-folded. The planner, the applier, assignments and the
// ownership registry (release) all compare names through it, so a skill
// made by hand as "Sales " or "SALES" is the same name as the rule's
// "Sales" everywhere: a conflict, never a duplicate create.
func NameKey(name string) string {
	if plainASCII(name) {
		return strings.ToLower(name) // already NFC, trimmed and collapsed
	}
	return foldCase(normalizeName(name))
}

// plainASCII reports whether s is ASCII with no whitespace but single
// spaces between words: normalizeName returns such a name as it is, and
// its case folds as strings.ToLower does. Most names are: the planner,
// the applier and assignments key every skill of every run.
func plainASCII(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return s == ""
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return false
		case c == ' ' && s[i+1] == ' ':
			return false
		}
	}
	return true
}

// nameKey is NameKey, for brevity inside the package.
func nameKey(name string) string { return NameKey(name) }

// sameName reports whether a and b are the same skill name.
func sameName(a, b string) bool { return a == b || nameKey(a) == nameKey(b) }

// foldCase case-folds s (full Unicode case folding: "Straße" and
// "STRASSE" fold alike), with a fast path for ASCII.
func foldCase(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	return cases.Fold().String(s)
}

// normalizeName is the display form of a name: Unicode NFC, trimmed, inner
// runs of whitespace collapsed to one space, so "Sales  /  EMEA " and
// "Sales / EMEA" are the same skill, and a name typed with a combining
// accent is the one typed with the precomposed letter.
func normalizeName(s string) string {
	if !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	if !strings.ContainsFunc(s, unicode.IsSpace) {
		return s
	}
	if s2 := strings.Join(strings.Fields(s), " "); s2 != s {
		return s2
	}
	return s
}
