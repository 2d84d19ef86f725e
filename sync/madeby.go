package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/skillsync/skillsync/liveperson"
)

// A create whose answer was lost leaves a skill in LivePerson that
// skillsync may or may not have made: its process died, or the connection
// dropped, between the request and the answer. The run that sent it (when
// it re-reads at once) and any later run (from the journal) decide by one
// rule, madeBy: the skill under the name is skillsync's only when it has
// every field the create sent. Anything else may be a skill someone made
// by hand meanwhile, and taking it over would let skillsync rewrite it and
// later delete it.

// sentState is what a create of body sends that madeBy compares: the
// name, the description (always sent, empty when the rules leave it
// alone) and each managed setting, as SkillState (the form the journal
// keeps, store.Operation.Sent).
func sentState(body *liveperson.Skill, managed []string) SkillState {
	fields := slices.Clone(managed)
	for _, f := range []string{"name", "description"} {
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	return stateOf(body, fields)
}

// madeBy reports whether the live skill s, found under the name of a
// create whose answer was lost, is provably the one that create made: it
// has every field the create sent (sent, from sentState) with the value
// sent. It returns "" when it is, otherwise why not, for the plan and the
// journal.
//
// Names are compared as LivePerson matches them (case and surrounding
// spaces aside, nameKey) and descriptions with surrounding spaces trimmed
// (LivePerson may trim what it stores); every other field must be equal
// (id lists as sets). A value LivePerson changed on create makes the skill
// not provably ours, as does a create journaled without its fields (by an
// older skillsync): leaving one of skillsync's own skills unmanaged, as
// an unmanaged conflict a person can adopt, is the safe mistake; taking
// over a skill made by hand is not.
func madeBy(s *liveperson.Skill, sent SkillState) string {
	if len(sent) == 0 {
		return "the journal does not say what the create sent (it was journaled by an older skillsync), so nothing proves the skill is the one it made"
	}
	var diffs []string
	for _, f := range slices.Sorted(maps.Keys(sent)) {
		want := sent[f]
		got, _ := json.Marshal(fieldValue(s, f))
		same := false
		switch f {
		case "name":
			same = nameKey(jsonString(got)) == nameKey(jsonString(want))
		case "description":
			same = strings.TrimSpace(jsonString(got)) == strings.TrimSpace(jsonString(want))
		default:
			same = sameJSON(got, want)
		}
		if !same {
			diffs = append(diffs, fmt.Sprintf("%s is %s, not %s as sent", f, got, compactJSON(want)))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return strings.Join(diffs, "; ")
}

// jsonString decodes a JSON string ("" for anything else).
func jsonString(b json.RawMessage) string {
	var s string
	_ = json.Unmarshal(b, &s)
	return s
}

// compactJSON is b without insignificant spaces (the store may give it
// back spaced).
func compactJSON(b json.RawMessage) string {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return string(b)
	}
	return out.String()
}
