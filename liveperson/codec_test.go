package liveperson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestSkillDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Skill
	}{
		{
			name: "numbers",
			in:   `{"id":12,"name":"a","description":"d","deleted":false,"maxWaitTime":120,"skillOrder":3,"canTransfer":true,"skillTransferList":[1,2],"lobIds":[7],"workingHoursId":9,"fallbackSkill":4,"wrapUpTime":5,"slaDefaultResponseTime":6,"slaUrgentResponseTime":7,"slaFirstTimeResponseTime":8}`,
			want: Skill{ID: 12, Name: "a", Description: "d", MaxWaitTime: ptr(120), SkillOrder: ptr(3), CanTransfer: ptr(true),
				SkillTransferList: []int64{1, 2}, LobIDs: []int64{7}, WorkingHoursID: ptr(int64(9)), FallbackSkill: ptr(int64(4)),
				WrapUpTime: ptr(5), SLADefaultResponseTime: ptr(6), SLAUrgentResponseTime: ptr(7), SLAFirstTimeResponseTime: ptr(8)},
		},
		{
			name: "numeric strings and string booleans",
			in:   `{"id":"987654321","name":"b","deleted":"true","maxWaitTime":"120","canTransfer":"false","skillTransferList":["1",2],"fallbackSkill":"33"}`,
			want: Skill{ID: 987654321, Name: "b", Deleted: true, MaxWaitTime: ptr(120), CanTransfer: ptr(false),
				SkillTransferList: []int64{1, 2}, FallbackSkill: ptr(int64(33))},
		},
		{
			name: "null transfer list stays nil",
			in:   `{"id":1,"name":"c","skillTransferList":null,"lobIds":null,"maxWaitTime":null,"canTransfer":null}`,
			want: Skill{ID: 1, Name: "c"},
		},
		{
			name: "empty transfer list stays empty",
			in:   `{"id":1,"name":"c","skillTransferList":[],"lobIds":[]}`,
			want: Skill{ID: 1, Name: "c", SkillTransferList: []int64{}, LobIDs: []int64{}},
		},
		{
			name: "unknown fields kept raw",
			in:   `{"id":1,"name":"c","pid":"x1","skillRoutingConfiguration":[{"agentGroupId":"5","priority":1}],"dateUpdated":"2024-01-02 03:04:05","fallbackWhenAllAgentsAreAway":true}`,
			want: Skill{ID: 1, Name: "c", Extra: map[string]json.RawMessage{
				"pid":                          json.RawMessage(`"x1"`),
				"skillRoutingConfiguration":    json.RawMessage(`[{"agentGroupId":"5","priority":1}]`),
				"dateUpdated":                  json.RawMessage(`"2024-01-02 03:04:05"`),
				"fallbackWhenAllAgentsAreAway": json.RawMessage(`true`),
			}},
		},
		{
			name: "escapes, unicode and integral floats",
			in:   `{"id":1.0,"name":"caf\u00e9 \"x\"","description":"日本語","maxWaitTime":1.2e2,"":1}`,
			want: Skill{ID: 1, Name: `café "x"`, Description: "日本語", MaxWaitTime: ptr(120),
				Extra: map[string]json.RawMessage{"": json.RawMessage(`1`)}},
		},
		{
			name: "white space",
			in:   " {\n\t\"id\" : 5 ,\r\n \"name\":\"w\" , \"x\" : [ 1 , { \"y\" : null } ] } ",
			want: Skill{ID: 5, Name: "w", Extra: map[string]json.RawMessage{"x": json.RawMessage(`[ 1 , { "y" : null } ]`)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Skill
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			// Round trip: encoding and decoding again gives the same skill,
			// with unknown fields byte for byte. (json.Marshal would compact
			// them; the client writes bodies with appendSkill.)
			out := appendSkill(nil, &got)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON %s", out)
			}
			var again Skill
			if err := json.Unmarshal(out, &again); err != nil {
				t.Fatalf("Unmarshal(Marshal): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip changed the skill:\n%s\ngot  %+v\nwant %+v", out, again, got)
			}
		})
	}
}

func TestSkillDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"id not a number", `{"id":"abc","name":"a"}`, `"id"`},
		{"fractional id", `{"id":1.5,"name":"a"}`, `"id"`},
		{"name object", `{"id":1,"name":{}}`, `"name"`},
		{"bool not a bool", `{"id":1,"name":"a","canTransfer":"yes"}`, `"canTransfer"`},
		{"list not ids", `{"id":1,"name":"a","skillTransferList":[true]}`, `"skillTransferList"`},
		{"not an object", `[1]`, "object expected"},
		{"trailing data", `{"id":1} x`, "after top-level"},
		{"truncated", `{"id":1,"name":"a`, "unterminated"},
		{"bad escape", `{"name":"\x"}`, "escape"},
		{"control char", "{\"name\":\"a\x01\"}", "control"},
		{"leading zero", `{"id":01}`, ""},
		{"missing colon", `{"id" 1}`, "':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sk Skill
			err := sk.UnmarshalJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error for %s", tt.in)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestSkillEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Skill
		want string
	}{
		{
			name: "create has no id and no deleted, null transfer list",
			in:   Skill{Name: "payroll-de", Description: "HR queue", MaxWaitTime: ptr(120)},
			want: `{"name":"payroll-de","description":"HR queue","maxWaitTime":120,"skillTransferList":null}`,
		},
		{
			name: "update echoes everything, extra sorted and unchanged",
			in: Skill{ID: 4120567812, Name: "p", SkillOrder: ptr(3), CanTransfer: ptr(true), SkillTransferList: []int64{},
				LobIDs: []int64{1, 2}, WorkingHoursID: ptr(int64(8)), FallbackSkill: ptr(int64(9)),
				Extra: map[string]json.RawMessage{"zz": json.RawMessage(`{"a": "b"}`), "pid": json.RawMessage(`"x"`)}},
			want: `{"id":4120567812,"name":"p","description":"","deleted":false,"skillOrder":3,"canTransfer":true,"skillTransferList":[],"lobIds":[1,2],"workingHoursId":8,"fallbackSkill":9,"pid":"x","zz":{"a": "b"}}`,
		},
		{
			name: "typed fields win over the same key in Extra; invalid raw becomes null",
			in:   Skill{ID: 1, Name: "n", Extra: map[string]json.RawMessage{"name": json.RawMessage(`"old"`), "bad": json.RawMessage(`{`)}},
			want: `{"id":1,"name":"n","description":"","deleted":false,"skillTransferList":null,"bad":null}`,
		},
		{
			name: "escaping",
			in:   Skill{Name: "a\"b\\c\n\x01\u2028<", Description: "\xff"},
			want: `{"name":"a\"b\\c\n\u0001\u2028<","description":"\ufffd","skillTransferList":null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.in.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON %s", got)
			}
		})
	}
}

func TestUserCodec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		want      User
		edit      func(*User)
		wantOut   string
		nullPassw bool
	}{
		{
			name: "tolerant decode and unchanged round trip",
			in:   `{"id":"7","loginName":"ann","email":"a@x","skillIds":["1",2],"profileIds":[3],"fullName":"","maxChats":"4","passwordSh":"abc","isEnabled":"true"}`,
			want: User{ID: 7, LoginName: "ann", Email: "a@x", SkillIDs: []int64{1, 2}},
			// Typed fields are rewritten as numbers; the rest is unchanged.
			wantOut: `{"email":"a@x","fullName":"","id":7,"isEnabled":"true","loginName":"ann","maxChats":"4","passwordSh":"abc","profileIds":[3],"skillIds":[1,2]}`,
		},
		{
			name:      "edit skills, null password",
			in:        `{"id":7,"loginName":"ann","skillIds":[1],"profileIds":[3],"passwordSh":"abc"}`,
			want:      User{ID: 7, LoginName: "ann", SkillIDs: []int64{1}},
			edit:      func(u *User) { u.SkillIDs = []int64{} },
			nullPassw: true,
			wantOut:   `{"id":7,"loginName":"ann","passwordSh":null,"profileIds":[3],"skillIds":[]}`,
		},
		{
			name:    "nil skills written as null, missing typed keys added",
			in:      `{"id":7}`,
			want:    User{ID: 7},
			edit:    func(u *User) { u.LoginName = "bob"; u.Deleted = true },
			wantOut: `{"deleted":true,"id":7,"loginName":"bob","skillIds":null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var u User
			if err := json.Unmarshal([]byte(tt.in), &u); err != nil {
				t.Fatal(err)
			}
			typed := User{ID: u.ID, LoginName: u.LoginName, Email: u.Email, SkillIDs: u.SkillIDs, Deleted: u.Deleted}
			if !reflect.DeepEqual(typed, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", typed, tt.want)
			}
			if tt.edit != nil {
				tt.edit(&u)
			}
			got := appendUser(nil, &u, tt.nullPassw)
			if string(got) != tt.wantOut {
				t.Fatalf("got  %s\nwant %s", got, tt.wantOut)
			}
		})
	}
}

func TestDecodeSkillsList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantLen int
		wantNil bool
		wantErr bool
	}{
		{"empty", `[]`, 0, false, false},
		{"null", `null`, 0, true, false},
		{"one object", `{"id":1,"name":"a"}`, 1, false, false},
		{"two", ` [ {"id":1,"name":"a"} , {"id":"2","name":"b"} ] `, 2, false, false},
		{"bad element", `[{"id":1,"name":"a"},3]`, 0, true, true},
		{"missing bracket", `[{"id":1,"name":"a"}`, 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeSkills([]byte(tt.in), false)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(got) != tt.wantLen || (got == nil) != tt.wantNil {
				t.Fatalf("got %d skills (nil %v), want %d (nil %v)", len(got), got == nil, tt.wantLen, tt.wantNil)
			}
		})
	}
}

// skillListJSON builds a list of n skills shaped like a select=$all
// response, with every documented field and a few undocumented ones.
func skillListJSON(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"Department %d / Role","description":"Staff of department %d","deleted":false,`+
			`"skillOrder":%d,"maxWaitTime":120,"defaultPostChatSurveyId":"","defaultOfflineSurveyId":"","defaultAgentSurveyId":"",`+
			`"dateUpdated":"2024-05-01 10:11:12","skillRoutingConfiguration":[{"agentGroupId":"-1","priority":1,"splitPercentage":100}],`+
			`"wrapUpTime":30,"slaDefaultResponseTime":3600,"slaUrgentResponseTime":600,"slaFirstTimeResponseTime":900,`+
			`"lobIds":[1,2],"canTransfer":true,"skillTransferList":null,"workingHoursId":"%d","specialOccasionId":null,`+
			`"postConversationSurveyAppInstallAssociationId":"","autoCloseInSeconds":0,"transferToAgentMaxWaitInSeconds":120,`+
			`"fallbackSkill":null,"fallbackWhenAllAgentsAreAway":true,"agentSurveyForMsgTimeoutInMinutes":60,"agentSurveyForMsgId":null,"pid":"p%d"}`,
			4000000000+i, i, i, i%10, 1000+i%3, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func TestSkillListJSONDecodes(t *testing.T) {
	t.Parallel()
	data := skillListJSON(50)
	got, err := decodeSkills(data, false)
	if err != nil {
		t.Fatal(err)
	}
	// The fast decoder must agree with decoding each element through
	// encoding/json and UnmarshalJSON.
	var want []Skill
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast decoder disagrees with UnmarshalJSON")
	}
	if got[3].Extra["pid"] == nil || string(got[3].Extra["pid"]) != `"p3"` || *got[3].WorkingHoursID != 1000 {
		t.Fatalf("unexpected skill %+v", got[3])
	}
}

func BenchmarkDecodeSkills10k(b *testing.B) {
	data := skillListJSON(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		skills, err := decodeSkills(data, false)
		if err != nil || len(skills) != 10000 {
			b.Fatal(err, len(skills))
		}
	}
}

func BenchmarkEncodeSkills50(b *testing.B) {
	skills, err := decodeSkills(skillListJSON(50), true)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = encodeSkills(skills)
	}
}

// A decoded user keeps its object as read: its fields are found by name,
// the last of duplicate keys wins (as in a map), setting a field leaves the
// object read untouched, and encoding keeps every field in key order.
func TestUserFieldsAsRead(t *testing.T) {
	t.Parallel()
	body := []byte(`[{"id":1,"fullName":"","zz":[1, 2],"isEnabled":false,"zz":"last","a\u0062":1,"skillIds":[3]}]`)
	users, err := decodeUsers(body, false)
	if err != nil {
		t.Fatal(err)
	}
	u := users[0]
	for key, want := range map[string]string{"fullName": `""`, "isEnabled": `false`, "zz": `"last"`, "ab": `1`, "id": `1`} {
		if got, ok := u.Field(key); !ok || string(got) != want {
			t.Errorf("Field(%q) = %s, %v; want %s", key, got, ok, want)
		}
	}
	if v, ok := u.Field("employeeId"); ok || v != nil {
		t.Errorf("Field(employeeId) = %s, %v; want absent", v, ok)
	}
	if got := len(u.Fields()); got != 6 {
		t.Errorf("Fields() has %d keys, want 6", got)
	}
	filled := u
	filled.SetField("fullName", json.RawMessage(`"Ann"`))
	if got, _ := filled.Field("fullName"); string(got) != `"Ann"` {
		t.Errorf("after SetField: fullName %s", got)
	}
	if got, _ := u.Field("fullName"); string(got) != `""` {
		t.Errorf("SetField on a copy changed the user read: fullName %s", got)
	}
	want := `{"ab":1,"fullName":"","id":1,"isEnabled":false,"passwordSh":null,"skillIds":[3],"zz":"last"}`
	if got := encodeUsers(users, true); string(got) != "["+want+"]" {
		t.Errorf("encoded %s\nwant [%s]", got, want)
	}
	if got := appendUser(nil, &filled, false); string(got) != strings.Replace(strings.Replace(want, `""`, `"Ann"`, 1), `"passwordSh":null,`, "", 1) {
		t.Errorf("filled user encoded %s", got)
	}
	// A field the object lacks, and one that skillsync does not read.
	more := filled
	more.SetField("employeeId", json.RawMessage(`"E1"`))
	if got, ok := more.Field("employeeId"); !ok || string(got) != `"E1"` || len(more.Fields()) != 7 {
		t.Errorf("after SetField: employeeId %s, %v; %d fields", got, ok, len(more.Fields()))
	}
	if _, ok := filled.Field("employeeId"); ok {
		t.Error("SetField on a copy added a field to the original")
	}
	more.SetField("zz", json.RawMessage(`0`))
	wantMore := `{"ab":1,"employeeId":"E1","fullName":"Ann","id":1,"isEnabled":false,"skillIds":[3],"zz":0}`
	if got := appendUser(nil, &more, false); string(got) != wantMore {
		t.Errorf("user with fields set encoded %s\nwant %s", got, wantMore)
	}
	if got := appendUser(nil, &filled, false); !strings.Contains(string(got), `"fullName":"Ann"`) || strings.Contains(string(got), "E1") {
		t.Errorf("the copy changed: %s", got)
	}
	if !bytes.Equal(body, []byte(`[{"id":1,"fullName":"","zz":[1, 2],"isEnabled":false,"zz":"last","a\u0062":1,"skillIds":[3]}]`)) {
		t.Errorf("the body changed: %s", body)
	}
}

// A batch writes each user as it would be written alone: the key order
// the encoder keeps from one user to the next serves only a user with the
// same keys in the same order, and a value set by hand is still checked.
func TestEncodeUsersEachAsAlone(t *testing.T) {
	t.Parallel()
	body := []byte(`[{"id":1,"b":1,"a":2,"skillIds":[3]},{"id":2,"b":1,"a":2,"skillIds":[]},` +
		`{"id":3,"a":2,"b":1,"skillIds":[3]},{"id":4,"b":1,"a":2,"a":"dup","skillIds":[3]},` +
		`{"id":5,"b":1,"a":2,"fullName":"","skillIds":[3]},{"id":6,"b":1,"skillIds":[3],"a":2},{"b":1,"a":2,"id":7}]`)
	users, err := decodeUsers(body, false)
	if err != nil {
		t.Fatal(err)
	}
	users[1].SetField("fullName", json.RawMessage(`"Bo"`))
	users[2].SetField("fullName", json.RawMessage(`not json`))
	users[4].SetField("fullName", json.RawMessage(`{"x":`))
	users = append(users, User{ID: 8, LoginName: "h", Raw: map[string]json.RawMessage{"b": json.RawMessage(`1`), "a": json.RawMessage(`[`)}})
	var want []string
	for i := range users {
		want = append(want, string(appendUser(nil, &users[i], true)))
	}
	if got := string(encodeUsers(users, true)); got != "["+strings.Join(want, ",")+"]" {
		t.Errorf("batch:\n%s\nalone:\n[%s]", got, strings.Join(want, ","))
	}
	for _, bad := range []string{"not json", `{"x":`, `"a":[`} {
		if strings.Contains(strings.Join(want, ","), bad) {
			t.Errorf("invalid value %q written", bad)
		}
	}
}

// A users list read in chunks decodes as the joined list does, wherever
// the chunks split it: the same users, or the same error.
func TestDecodeUserChunks(t *testing.T) {
	t.Parallel()
	bodies := []string{
		` [ {"id":1,"loginName":"a","skillIds":[1,2],"fullName":"","x":{"y":[1,"]"]}} ,{"id":2,"email":"b@x","q":"\"},{"} ] `,
		`[{"id":1},{"id":2,"deleted":true,"skillIds":["3"]},{"id":3,"note":"a\\\"b"}]`,
		`[]`, ` [ ] `, `null`, `{"id":9}`, ``, `  `,
		`[{"id":1},]`, `[{"id":1}`, `[{"id":1}] x`, `[{"id":1} {"id":2}]`, `[{"id":1},null]`, `[1]`,
		`[{"id":1,"skillIds":"x"},{"id":2}]`, `[{"id":1,"a":tru},{"id":2}]`, `[{"id":1}]]`, `[[{"id":1}]]`,
		`[{"id":1,"a":"` + "\x01" + `"}]`,
	}
	for _, body := range bodies {
		want, wantErr := decodeUsers([]byte(body), true)
		for i := 0; i <= len(body); i++ {
			for j := i; j <= len(body); j++ {
				chunks := [][]byte{[]byte(body[:i]), []byte(body[i:j]), []byte(body[j:])}
				got, err := decodeUserChunks(chunks)
				if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
					t.Fatalf("%q split at %d, %d: error %v, want %v", body, i, j, err, wantErr)
				}
				if len(got) != len(want) {
					t.Fatalf("%q split at %d, %d: %d users, want %d", body, i, j, len(got), len(want))
				}
				for k := range got {
					if g, w := appendUser(nil, &got[k], true), appendUser(nil, &want[k], true); !bytes.Equal(g, w) ||
						got[k].ID != want[k].ID || got[k].LoginName != want[k].LoginName || got[k].Email != want[k].Email ||
						got[k].Deleted != want[k].Deleted || !slices.Equal(got[k].SkillIDs, want[k].SkillIDs) {
						t.Fatalf("%q split at %d, %d: user %d is %s, want %s", body, i, j, k, g, w)
					}
				}
			}
		}
	}
	// Nested as deep as a decoder allows, and one deeper, split anywhere.
	for _, n := range []int{9998, 9999} {
		body := `[{"id":1},{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}]`
		_, wantErr := decodeUsers([]byte(body), true)
		for _, i := range []int{1, 5, 12, 100, len(body) - 3} {
			if _, err := decodeUserChunks([][]byte{[]byte(body[:i]), []byte(body[i:])}); (err == nil) != (wantErr == nil) {
				t.Errorf("%d deep, split at %d: error %v, want %v", n, i, err, wantErr)
			}
		}
	}
	// A list of full users in the chunks readChunks makes of a chunked body.
	data := fullUsers(500)
	chunks, err := readChunks(io.MultiReader(bytes.NewReader(data)), -1)
	if err != nil || len(chunks) < 3 {
		t.Fatalf("readChunks: %d chunks, %v", len(chunks), err)
	}
	got, err := decodeUserChunks(chunks)
	want, _ := decodeUsers(data, true)
	if err != nil || len(got) != 500 || !bytes.Equal(encodeUsers(got, true), encodeUsers(want, true)) {
		t.Fatalf("decoded %d users, %v", len(got), err)
	}
}

// The users list is sized from its first user, but a small first user
// does not size it for a list of users that small: 2,000 full users
// after one of 40 bytes were decoded into room for ~44,000 (20,000
// after it: 112 MB allocated where 7 MB do).
func TestDecodeUsersSmallFirstUser(t *testing.T) {
	t.Parallel()
	full := fullUsers(2000)
	body := append([]byte(`[{"id":1,"loginName":"a","skillIds":[]},`), full[1:]...)
	chunks, err := readChunks(bytes.NewReader(body), -1)
	if err != nil || len(chunks) < 3 {
		t.Fatalf("readChunks: %d chunks, %v", len(chunks), err)
	}
	joined, err := decodeUsers(body, false)
	if err != nil {
		t.Fatal(err)
	}
	split, err := decodeUserChunks(chunks)
	if err != nil {
		t.Fatal(err)
	}
	for _, users := range [][]User{joined, split} {
		// At most the users of 200 bytes the body could hold.
		if len(users) != 2001 || cap(users) > len(body)/200 {
			t.Errorf("%d users in room for %d; a body of %d bytes holds at most %d users of 200 bytes",
				len(users), cap(users), len(body), len(body)/200)
		}
	}
}

// The skills list is sized from its first skill, as the users list is,
// but a small first skill does not size it for skills that small: 2,000
// skills after a bare id and name were decoded into room for 23,272.
func TestDecodeSkillsSmallFirstSkill(t *testing.T) {
	t.Parallel()
	skills := make([]Skill, 2000)
	for i := range skills {
		order, wait := i, 30
		skills[i] = Skill{ID: int64(1000 + i), Name: fmt.Sprintf("Sales / EMEA / Team %04d", i),
			Description: "Routes the EMEA sales team's conversations", SkillOrder: &order, MaxWaitTime: &wait,
			SkillTransferList: []int64{1, 2, 3}, LobIDs: []int64{7}}
	}
	full := encodeSkills(skills)
	body := append([]byte(`[{"id":1,"name":"a"},`), full[1:]...)
	got, err := decodeSkills(body, false)
	if err != nil {
		t.Fatal(err)
	}
	// At most the skills of 100 bytes the body could hold.
	if len(got) != 2001 || cap(got) > len(body)/100 {
		t.Errorf("%d skills in room for %d; a body of %d bytes holds at most %d skills of 100 bytes",
			len(got), cap(got), len(body), len(body)/100)
	}
}
