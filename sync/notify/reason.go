package notify

import (
	"regexp"
	"strings"
)

var (
	// examples are a reason's "e.g. ..." lists, up to the end of its clause.
	examples = regexp.MustCompile(`,? e\.g\. [^;]*`)
	// words are runs of letters, digits, _ and -.
	words = regexp.MustCompile(`[A-Za-z0-9_-]+`)
	// numbers are counts, percentages and the digits of short ids.
	numbers = regexp.MustCompile(`\d+(?:[.,]\d+)*`)
)

// idMin is the length from which a word with a digit in it is taken for
// an id (a request id, a UUID, a timestamp) rather than a name.
const idMin = 8

// reasonKey is what makes two reasons "the same" for repeat_after: the
// text with its numbers, ids and examples set aside. A refusal or failure
// that persists while its numbers drift (one more person gone, another
// record as the first example, another request id in the server's
// answer) is then one state, announced once per repeat_after and not at
// every run; another guard, setting, field or error named is another
// reason.
func reasonKey(reason string) string {
	s := examples.ReplaceAllString(reason, "")
	s = words.ReplaceAllStringFunc(s, func(w string) string {
		if len(w) >= idMin && strings.ContainsAny(w, "0123456789") {
			return "#"
		}
		return w
	})
	return numbers.ReplaceAllString(s, "#")
}
