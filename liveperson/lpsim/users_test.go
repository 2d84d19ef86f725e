package lpsim

import (
	"strings"
	"testing"
)

func seedUsers(t *testing.T, e *env) ([]int64, []int64) {
	t.Helper()
	skills := e.sim.SeedSkills(map[string]any{"name": "s1"}, map[string]any{"name": "s2"}, map[string]any{"name": "s3", "deleted": true})
	users := e.sim.SeedUsers(
		map[string]any{"loginName": "ann", "email": "ann@x", "fullName": "Ann A", "employeeId": "E1", "profileIds": []any{3}, "skillIds": []any{skills[0]}, "maxChats": 4, "memberOf": map[string]any{"agentGroupId": 1}},
		map[string]any{"loginName": "bob", "email": "bob@x", "profileIds": []any{3}, "skillIds": []any{}},
	)
	return skills, users
}

func TestListAndGetUsers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, users := seedUsers(t, e)
	list := e.do(req{method: "GET", path: usersPath + "?v=4.0"}).list(t)
	if len(list) != 2 {
		t.Fatalf("%d users", len(list))
	}
	ann := list[0]
	// All fields by default; masked fields come back empty.
	if ann["loginName"] != "ann" || ann["maxChats"] == nil || ann["memberOf"] == nil {
		t.Errorf("list lacks fields: %v", ann)
	}
	if ann["fullName"] != "" || ann["employeeId"] != "" {
		t.Errorf("masked fields returned: %v", ann)
	}
	if got := e.sim.Users()[0]; got["fullName"] != "Ann A" {
		t.Errorf("stored fullName %v", got["fullName"])
	}
	r := e.do(req{method: "GET", path: usersPath + "/" + idStr(users[1]) + "?v=4.0"})
	e.mustStatus(r, 200)
	if r.obj(t)["loginName"] != "bob" {
		t.Errorf("get: %s", r.body)
	}
	r = e.do(req{method: "GET", path: usersPath + "/" + idStr(users[0]) + "?v=4.0&select=id,fullName"})
	if o := r.obj(t); len(o) != 2 || o["fullName"] != "" {
		t.Errorf("select on user: %v", o)
	}
	e.mustStatus(e.do(req{method: "GET", path: usersPath + "/42?v=4.0"}), 404)
	e.mustStatus(e.do(req{method: "GET", path: usersPath}), 400)
	e.mustStatus(e.do(req{method: "POST", path: usersPath + "?v=4.0", body: []any{}}), 405)
}

func TestUpdateUsers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	skills, users := seedUsers(t, e)
	read := func() map[string]any {
		return e.do(req{method: "GET", path: usersPath + "/" + idStr(users[0]) + "?v=4.0"}).obj(t)
	}
	// Read-modify-write of what GET returns: skillIds change, passwordSh null,
	// and the masked fields are stored blank (the risk lpsim models).
	ann := read()
	ann["skillIds"] = []any{skills[0], skills[1]}
	ann["passwordSh"] = nil
	r := e.do(req{method: "PUT", path: usersPath + "/" + idStr(users[0]) + "?v=4.0", body: ann, header: e.rev()})
	e.mustStatus(r, 200)
	stored := e.sim.Users()[0]
	if len(stored["skillIds"].([]any)) != 2 || stored["maxChats"] == nil {
		t.Errorf("stored after PUT: %v", stored)
	}
	if stored["fullName"] != "" || stored["employeeId"] != "" {
		t.Errorf("masked fields survived a PUT of blank values: %v", stored)
	}
	if _, ok := stored["passwordSh"]; ok {
		t.Errorf("passwordSh stored")
	}
	// Full replacement: fields missing from the body are cleared.
	r = e.do(req{method: "PUT", path: usersPath + "/" + idStr(users[0]) + "?v=4.0", header: e.rev(),
		body: map[string]any{"loginName": "ann", "email": "ann@x", "profileIds": []any{3}}})
	e.mustStatus(r, 200)
	if got := e.sim.Users()[0]; got["maxChats"] != nil || got["memberOf"] != nil || got["skillIds"] != nil {
		t.Errorf("PUT did not clear missing fields: %v", got)
	}

	good := func(id int64, login string, skillIDs ...any) map[string]any {
		return map[string]any{"id": id, "loginName": login, "email": login + "@x", "profileIds": []any{3}, "skillIds": skillIDs}
	}
	tests := []struct {
		name    string
		body    []any
		want    int
		wantMsg string
	}{
		{"batch ok", []any{good(users[0], "ann", skills[1]), good(users[1], "bob", idStr(skills[0]))}, 200, ""},
		{"deleted skill", []any{good(users[0], "ann"), good(users[1], "bob", skills[2])}, 400, "item 1"},
		{"unknown skill", []any{good(users[0], "ann", 77)}, 400, "skill 77"},
		{"missing email", []any{map[string]any{"id": users[0], "loginName": "ann", "profileIds": []any{}}}, 400, "email is required"},
		{"missing profileIds", []any{map[string]any{"id": users[0], "loginName": "ann", "email": "a"}}, 400, "profileIds"},
		{"loginName taken", []any{good(users[0], "BOB")}, 400, "already used"},
		{"loginName swap", []any{good(users[0], "bob"), good(users[1], "ann")}, 200, ""},
		{"unknown user", []any{good(users[0], "x"), good(5, "y")}, 404, "item 1"},
		{"no id", []any{map[string]any{"loginName": "x"}}, 400, "id is required"},
		{"bad passwordSh", []any{func() map[string]any { u := good(users[0], "q"); u["passwordSh"] = 5; return u }()}, 400, "passwordSh"},
	}
	for _, tt := range tests {
		before := e.sim.Users()
		rev := e.sim.Revision()
		r := e.do(req{method: "PUT", path: usersPath + "?v=4.0", body: tt.body, header: e.rev()})
		if r.status != tt.want || !strings.Contains(string(r.body), tt.wantMsg) {
			t.Errorf("%s: status %d body %s, want %d containing %q", tt.name, r.status, r.body, tt.want, tt.wantMsg)
		}
		if tt.want == 200 {
			if e.sim.Revision() != rev+1 || len(r.list(t)) != len(tt.body) {
				t.Errorf("%s: revision %d after %d, response %s", tt.name, e.sim.Revision(), rev, r.body)
			}
			continue
		}
		after := e.sim.Users()
		if e.sim.Revision() != rev || after[0]["loginName"] != before[0]["loginName"] || len(after[0]) != len(before[0]) {
			t.Errorf("%s: refused batch changed state", tt.name)
		}
	}
	// The revision is shared with skills: a skill write makes a user write stale.
	rev := e.rev()
	e.mustStatus(e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "new"}}, header: rev}), 201)
	e.mustStatus(e.do(req{method: "PUT", path: usersPath + "?v=4.0", body: []any{good(users[0], "bob")}, header: rev}), 409)
}

// The Users API masks fullName and employeeId on every read (list, get,
// select, the PUT's answer) and a PUT replaces the whole user, as the
// appendix documents: what a PUT sends is stored, a blank is stored blank,
// an omitted field is cleared, and a user without the field reads without
// it.
func TestUsersMaskedFields(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, users := seedUsers(t, e)
	ann := idStr(users[0])
	stored := func() map[string]any { return e.sim.Users()[0] }
	put := func(body map[string]any) map[string]any {
		t.Helper()
		r := e.do(req{method: "PUT", path: usersPath + "/" + ann + "?v=4.0", body: body, header: e.rev()})
		e.mustStatus(r, 200)
		return r.obj(t)
	}
	base := func(extra map[string]any) map[string]any {
		b := map[string]any{"loginName": "ann", "email": "ann@x", "profileIds": []any{3}, "skillIds": []any{}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	masked := func(o map[string]any) bool { return o["fullName"] == "" && o["employeeId"] == "" }

	// Filled from elsewhere (HR): stored, and still masked on every read.
	answer := put(base(map[string]any{"fullName": "Ann Able", "employeeId": "E-9"}))
	if s := stored(); s["fullName"] != "Ann Able" || s["employeeId"] != "E-9" || !masked(answer) {
		t.Errorf("stored %v, answer %v", s, answer)
	}
	list := e.do(req{method: "GET", path: usersPath + "?v=4.0"}).list(t)
	one := e.do(req{method: "GET", path: usersPath + "/" + ann + "?v=4.0&select=fullName,employeeId"}).obj(t)
	if !masked(list[0]) || !masked(one) {
		t.Errorf("read unmasked: list %v, get %v", list[0], one)
	}
	// The read sent back as is blanks them: the risk a client must avoid.
	put(base(map[string]any{"fullName": "", "employeeId": ""}))
	if s := stored(); s["fullName"] != "" || s["employeeId"] != "" {
		t.Errorf("blank PUT stored %v", s)
	}
	// Omitted: cleared, and then absent from reads.
	put(base(map[string]any{"fullName": "Ann Able", "employeeId": "E-9"}))
	put(base(nil))
	if s := stored(); s["fullName"] != nil || s["employeeId"] != nil {
		t.Errorf("omitted fields kept: %v", s)
	}
	if o := e.do(req{method: "GET", path: usersPath + "/" + ann + "?v=4.0"}).obj(t); o["fullName"] != nil || o["employeeId"] != nil {
		t.Errorf("a user without the fields reads %v", o)
	}
}
