package notify

import "regexp"

var (
	// examples are a reason's "e.g. ..." lists, up to the end of its clause.
	examples = regexp.MustCompile(`,? e\.g\. [^;]*`)
	// numbers are counts, percentages and ids' digits.
	numbers = regexp.MustCompile(`\d+(?:[.,]\d+)*`)
)

// reasonKey is what makes two reasons "the same" for repeat_after: the
// text with its numbers and its examples set aside. A refusal that
// persists while its numbers drift (one more person gone, another record
// as the first example) is then one state, announced once per
// repeat_after and not at every run; another guard, another setting or
// another field named is another reason.
func reasonKey(reason string) string {
	return numbers.ReplaceAllString(examples.ReplaceAllString(reason, ""), "#")
}
