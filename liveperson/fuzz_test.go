package liveperson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// seeds are response bodies from the table tests and LivePerson's docs.
var fuzzSeeds = []string{
	`[]`, `null`, `{}`, `[{}]`,
	`[{"id":12,"name":"a","description":"d","deleted":false,"maxWaitTime":120,"skillTransferList":[1,2],"lobIds":[]}]`,
	`[{"id":"987654321","name":"b","deleted":"true","maxWaitTime":"120","canTransfer":"false","skillTransferList":["1",2]}]`,
	`{"id":1,"name":"c","pid":"x1","skillRoutingConfiguration":[{"agentGroupId":"5","priority":1}],"dateUpdated":"2024-01-02 03:04:05"}`,
	`[{"id":1.0,"name":"caf\u00e9 \"x\"","description":"日本語","maxWaitTime":1.2e2,"":1}]`,
	" [ {\n\t\"id\" : 5 ,\r\n \"name\":\"w\" , \"x\" : [ 1 , { \"y\" : null } ] } ] ",
	`[{"id":7,"loginName":"ann","email":"a@x","skillIds":["1",2],"profileIds":[3],"passwordSh":null,"isEnabled":"true"}]`,
	`[{"id":1,"name":"a","x":1,"x":2}]`,
	`[{"id":1,"name":"a"},3]`, `[{"id":1,"name":"a`, `{"name":"\x"}`, `[{"id":01}]`, `[1e400]`,
}

// FuzzDecodeSkills checks that decoding never panics, agrees with
// encoding/json on what is valid JSON, and that whatever decodes survives
// an encode/decode round trip with unknown fields byte for byte.
func FuzzDecodeSkills(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := scanner{data: data}
		_, err := sc.value()
		if err == nil {
			err = sc.end()
		}
		if valid := json.Valid(data); (err == nil) != valid {
			t.Fatalf("scanner valid=%v (%v), encoding/json valid=%v for %q", err == nil, err, valid, data)
		}

		skills, err := decodeSkills(data, false)
		if err == nil {
			for i := range skills {
				out := appendSkill(nil, &skills[i])
				if !json.Valid(out) {
					t.Fatalf("encoded invalid JSON %q from %q", out, data)
				}
				var again Skill
				if err := again.UnmarshalJSON(out); err != nil {
					t.Fatalf("re-decoding %q: %v", out, err)
				}
				if !reflect.DeepEqual(normSkill(again), normSkill(skills[i])) {
					t.Fatalf("round trip changed the skill\n  in %q\n out %q\n got %+v\nwant %+v", data, out, again, skills[i])
				}
				for k, v := range skills[i].Extra {
					if !bytes.Equal(again.Extra[k], v) {
						t.Fatalf("unknown field %q changed: %q -> %q", k, v, again.Extra[k])
					}
				}
			}
		}

		users, err := decodeUsers(data, false)
		if err == nil {
			for i := range users {
				out := appendUser(nil, &users[i], false)
				if !json.Valid(out) {
					t.Fatalf("encoded invalid user JSON %q", out)
				}
				var again User
				if err := again.UnmarshalJSON(out); err != nil {
					t.Fatalf("re-decoding user %q: %v", out, err)
				}
				if again.ID != users[i].ID || again.LoginName != users[i].LoginName || again.Email != users[i].Email ||
					!reflect.DeepEqual(again.SkillIDs, users[i].SkillIDs) || again.Deleted != users[i].Deleted {
					t.Fatalf("user round trip changed typed fields: %+v -> %+v", users[i], again)
				}
				for k, v := range users[i].Fields() {
					if isUserField(k) {
						continue
					}
					if got, _ := again.Field(k); !bytes.Equal(got, v) {
						t.Fatalf("user field %q changed: %q -> %q", k, v, got)
					}
				}
			}
		}
	})
}

func isUserField(k string) bool {
	switch k {
	case fID, fLoginName, fEmail, fSkillIDs, fDeleted:
		return true
	}
	return false
}

// normSkill drops Extra (compared byte for byte separately) and maps an
// empty Extra to nil.
func normSkill(s Skill) Skill {
	s.Extra = nil
	return s
}
