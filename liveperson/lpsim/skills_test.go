package lpsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestListSkillsSelect(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(
		map[string]any{"name": "a", "description": "A", "pid": "x1", "maxWaitTime": 30},
		map[string]any{"name": "b", "deleted": true},
	)
	tests := []struct {
		name      string
		query     string
		wantIDs   []int64
		wantField map[string]bool // fields expected (true) or not (false) on the first item
	}{
		{"default select", "?v=4.0", ids[:1], map[string]bool{"id": true, "name": true, "deleted": true, "description": false, "pid": false}},
		{"all fields", "?v=4.0&select=$all", ids[:1], map[string]bool{"description": true, "pid": true, "maxWaitTime": true}},
		{"encoded $all", "?v=4.0&select=%24all", ids[:1], map[string]bool{"pid": true}},
		{"named fields", "?v=4.0&select=id,description,skillRoutingConfiguration(priority)", ids[:1], map[string]bool{"id": true, "description": true, "name": false}},
		{"include deleted", "?v=4.0&include_deleted=true", ids, map[string]bool{"name": true}},
		{"include deleted false", "?v=4.0&include_deleted=false", ids[:1], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: "GET", path: skillsPath + tt.query})
			e.mustStatus(r, 200)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			list := r.list(t)
			var got []int64
			for _, s := range list {
				got = append(got, num(s["id"]))
			}
			if !slices.Equal(got, tt.wantIDs) {
				t.Fatalf("ids %v, want %v", got, tt.wantIDs)
			}
			for f, want := range tt.wantField {
				if _, ok := list[0][f]; ok != want {
					t.Errorf("field %s present=%v, want %v (%v)", f, ok, want, list[0])
				}
			}
		})
	}
}

func TestGetSkill(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(map[string]any{"name": "a", "unknownField": map[string]any{"x": []any{1, "2"}}})
	r := e.do(req{method: "GET", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0"})
	e.mustStatus(r, 200)
	got := r.obj(t)
	if got["name"] != "a" || got["unknownField"] == nil {
		t.Fatalf("got %v", got)
	}
	if rev := r.header.Get("ac-revision"); rev != strconv.FormatInt(e.sim.Revision(), 10) {
		t.Errorf("ac-revision %q", rev)
	}
	if et := r.header.Get("ETag"); et != `"`+strconv.FormatInt(e.sim.Revision(), 10)+`"` {
		t.Errorf("ETag %q", et)
	}
	e.mustStatus(e.do(req{method: "GET", path: skillsPath + "/999?v=4.0"}), 404)
	e.mustStatus(e.do(req{method: "GET", path: skillsPath + "/abc?v=4.0"}), 404)
}

func TestConditionalGet(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(map[string]any{"name": "a"})
	e.sim.SeedUsers(map[string]any{"loginName": "u"})
	cur := strconv.FormatInt(e.sim.Revision(), 10)
	for _, path := range []string{skillsPath, skillsPath + "/" + idStr(ids[0]), usersPath} {
		tests := []struct {
			ifMatch string
			want    int
		}{
			{cur, 304},
			{`"` + cur + `"`, 304},
			{"-1", 200},
			{"1", 200},
			{"", 200},
		}
		for _, tt := range tests {
			r := e.do(req{method: "GET", path: path + "?v=4.0", header: map[string]string{"If-Match": tt.ifMatch}})
			if r.status != tt.want {
				t.Errorf("%s If-Match %q: status %d, want %d", path, tt.ifMatch, r.status, tt.want)
			}
			if tt.want == 304 && len(r.body) != 0 {
				t.Errorf("304 with body %q", r.body)
			}
			if r.header.Get("ac-revision") != cur {
				t.Errorf("%s: ac-revision %q, want %s", path, r.header.Get("ac-revision"), cur)
			}
		}
	}
}

func TestCreateSkills(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.SeedSkills(map[string]any{"name": "Old", "deleted": true}, map[string]any{"name": "live"})
	tests := []struct {
		name    string
		body    any
		want    int
		wantMsg string
	}{
		{"ok", []any{map[string]any{"name": "payroll-de", "description": "d", "custom": 7}, map[string]any{"name": "payroll-fr"}}, 201, ""},
		{"duplicate of deleted, other case", []any{map[string]any{"name": "x"}, map[string]any{"name": "OLD"}}, 400, "item 1"},
		{"duplicate of live", []any{map[string]any{"name": " Live "}}, 400, "item 0"},
		{"duplicate within batch", []any{map[string]any{"name": "n1"}, map[string]any{"name": "N1"}}, 400, "item 1"},
		{"missing name", []any{map[string]any{"name": "n2"}, map[string]any{"description": "no name"}}, 400, "name is required"},
		{"empty name", []any{map[string]any{"name": "  "}}, 400, "name must not be empty"},
		{"object not array", map[string]any{"name": "single"}, 400, "array"},
		{"empty array", []any{}, 400, "non-empty"},
		{"bad transfer list", []any{map[string]any{"name": "t", "skillTransferList": "all"}}, 400, "skillTransferList"},
	}
	for _, tt := range tests {
		before := e.sim.Revision()
		count := len(e.sim.Skills(true))
		r := e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: tt.body, header: e.rev()})
		if r.status != tt.want || !strings.Contains(string(r.body), tt.wantMsg) {
			t.Errorf("%s: status %d body %s, want %d containing %q", tt.name, r.status, r.body, tt.want, tt.wantMsg)
		}
		if tt.want != 201 {
			if e.sim.Revision() != before || len(e.sim.Skills(true)) != count {
				t.Errorf("%s: a refused batch changed state", tt.name)
			}
			continue
		}
		created := r.list(t)
		if len(created) != 2 || num(created[0]["id"]) == 0 || created[0]["custom"] == nil {
			t.Fatalf("%s: created %v", tt.name, created)
		}
		// Documented defaults are applied.
		if num(created[1]["maxWaitTime"]) != 120 || created[1]["canTransfer"] != true || created[1]["deleted"] != false {
			t.Errorf("defaults missing: %v", created[1])
		}
		if e.sim.Revision() != before+1 {
			t.Errorf("revision %d, want %d (one bump per write)", e.sim.Revision(), before+1)
		}
		if r.header.Get("ac-revision") != strconv.FormatInt(before+1, 10) {
			t.Errorf("ac-revision %q", r.header.Get("ac-revision"))
		}
		if r.header.Get("Location") != "" {
			t.Errorf("Location set for a batch of two")
		}
	}
	// One object created: Location names it.
	r := e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "solo"}}})
	e.mustStatus(r, 201)
	id := num(r.list(t)[0]["id"])
	if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/skills/"+idStr(id)) {
		t.Errorf("Location %q", loc)
	}
}

func TestWriteRevisionChecks(t *testing.T) {
	t.Parallel()
	for _, status := range []int{409, 412} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(o *Options) { o.ConflictStatus = status; o.EnforceIfMatchOnCreate = true })
			ids := e.sim.SeedSkills(map[string]any{"name": "a"})
			one := skillsPath + "/" + idStr(ids[0]) + "?v=4.0"
			stale := strconv.FormatInt(e.sim.Revision()-1, 10)
			tests := []struct {
				name    string
				method  string
				path    string
				body    any
				ifMatch string
				want    int
			}{
				{"POST stale", "POST", skillsPath + "?v=4.0", []any{map[string]any{"name": "n"}}, stale, status},
				{"PUT stale", "PUT", one, map[string]any{"name": "a2"}, stale, status},
				{"PUT missing", "PUT", one, map[string]any{"name": "a2"}, "", 428},
				{"PUT -1", "PUT", one, map[string]any{"name": "a2"}, "-1", 400},
				{"PUT *", "PUT", one, map[string]any{"name": "a2"}, "*", 400},
				{"DELETE stale", "DELETE", one, nil, stale, status},
				{"DELETE -1", "DELETE", one, nil, "-1", 400},
				{"users PUT stale", "PUT", usersPath + "?v=4.0", []any{}, stale, 400}, // body checked first
			}
			for _, tt := range tests {
				before := e.sim.Revision()
				r := e.do(req{method: tt.method, path: tt.path, body: tt.body, header: map[string]string{"If-Match": tt.ifMatch}})
				if r.status != tt.want {
					t.Errorf("%s: status %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
				}
				if e.sim.Revision() != before {
					t.Errorf("%s: refused write bumped the revision", tt.name)
				}
			}
			// Even when checking it, POST without If-Match is allowed:
			// LivePerson's Create page lists no If-Match.
			e.mustStatus(e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "n"}}}), 201)
			// A concurrent edit makes the revision read before it stale.
			rev := e.rev()
			e.sim.EditSkill(ids[0], func(m map[string]any) { m["description"] = "by hand" })
			e.mustStatus(e.do(req{method: "PUT", path: one, body: map[string]any{"name": "a"}, header: rev}), status)
			e.mustStatus(e.do(req{method: "PUT", path: one, body: map[string]any{"name": "a"}, header: e.rev()}), 200)
		})
	}
}

// TestCreateIgnoresIfMatch: LivePerson documents no If-Match on Create, so
// by default lpsim neither checks nor refuses one, and a create goes
// through whatever changed since the client's read.
func TestCreateIgnoresIfMatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.SeedSkills(map[string]any{"name": "a"})
	stale := strconv.FormatInt(e.sim.Revision()-1, 10)
	for i, v := range []string{stale, "-1", "*", "", "not-a-revision"} {
		before := e.sim.Revision()
		r := e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "n" + strconv.Itoa(i)}},
			header: map[string]string{"If-Match": v}})
		e.mustStatus(r, 201)
		if got := r.header.Get("ac-revision"); got != strconv.FormatInt(before+1, 10) {
			t.Errorf("If-Match %q: ac-revision %s, want %d", v, got, before+1)
		}
	}
	// PUT and DELETE still check it.
	id := num(e.sim.Skills(false)[0]["id"])
	e.mustStatus(e.do(req{method: "PUT", path: skillsPath + "/" + idStr(id) + "?v=4.0", body: map[string]any{"name": "a"},
		header: map[string]string{"If-Match": stale}}), 409)
}

// TestCreateResponse: the body of a batch create is undocumented; lpsim
// can answer with the created skills, nothing, or the skills without ids,
// and creates them all the same.
func TestCreateResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode string
		want func(t *testing.T, body []byte)
	}{
		{"", func(t *testing.T, body []byte) {
			var got []map[string]any
			if err := json.Unmarshal(body, &got); err != nil || len(got) != 2 || got[0]["id"] == nil || got[1]["id"] == nil {
				t.Errorf("body %s, want two skills with ids", body)
			}
		}},
		{CreateResponseFull, func(t *testing.T, body []byte) {
			var got []map[string]any
			if err := json.Unmarshal(body, &got); err != nil || len(got) != 2 || got[0]["id"] == nil {
				t.Errorf("body %s, want two skills with ids", body)
			}
		}},
		{CreateResponseEmpty, func(t *testing.T, body []byte) {
			if len(body) != 0 {
				t.Errorf("body %q, want none", body)
			}
		}},
		{CreateResponseNoIDs, func(t *testing.T, body []byte) {
			var got []map[string]any
			if err := json.Unmarshal(body, &got); err != nil || len(got) != 2 {
				t.Fatalf("body %s, want two skills", body)
			}
			for _, sk := range got {
				if _, ok := sk["id"]; ok || sk["name"] == nil || sk["maxWaitTime"] == nil {
					t.Errorf("skill %v: want every field but id", sk)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(o *Options) { o.CreateResponse = tt.mode })
			before := e.sim.Revision()
			r := e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}})
			e.mustStatus(r, 201)
			tt.want(t, r.body)
			if r.header.Get("ac-revision") != strconv.FormatInt(before+1, 10) {
				t.Errorf("ac-revision %q, want %d", r.header.Get("ac-revision"), before+1)
			}
			if got := e.sim.Skills(false); len(got) != 2 || got[0]["name"] != "a" || got[0]["id"] == nil {
				t.Errorf("stored %v", got)
			}
			// What a later list returns is not affected.
			if l := e.do(req{method: "GET", path: skillsPath + "?v=4.0"}).list(t); len(l) != 2 || l[0]["id"] == nil {
				t.Errorf("list %v", l)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("an unknown CreateResponse did not panic")
		}
	}()
	New(Options{CreateResponse: "ful"})
}

func TestVersionAndOverride(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(map[string]any{"name": "a"}, map[string]any{"name": "b"})
	one := skillsPath + "/" + idStr(ids[0])
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		header map[string]string
		want   int
	}{
		{"v missing", "GET", skillsPath, nil, nil, 400},
		{"v not a number", "GET", skillsPath + "?v=four", nil, nil, 400},
		{"PUT without override", "PUT", one + "?v=4.0", map[string]any{"name": "a"}, map[string]string{"X-HTTP-Method-Override": ""}, 400},
		{"PUT with DELETE override", "PUT", one + "?v=4.0", map[string]any{"name": "a"}, map[string]string{"X-HTTP-Method-Override": "DELETE"}, 400},
		{"DELETE with PUT override", "DELETE", one + "?v=4.0", nil, map[string]string{"X-HTTP-Method-Override": "PUT"}, 400},
		{"POST tunnelling PUT", "POST", one + "?v=4.0", map[string]any{"name": "a-renamed"}, map[string]string{"X-HTTP-Method-Override": "PUT"}, 200},
		{"POST tunnelling DELETE", "POST", skillsPath + "/" + idStr(ids[1]) + "?v=4.0", nil, map[string]string{"X-HTTP-Method-Override": "DELETE"}, 200},
		{"POST text/plain", "POST", skillsPath + "?v=4.0", []any{map[string]any{"name": "z"}}, map[string]string{"Content-Type": "text/plain"}, 415},
		{"DELETE many without Content-Type", "DELETE", skillsPath + "?v=4.0", []any{"1"}, map[string]string{"Content-Type": ""}, 415},
		{"GET without Content-Type", "GET", skillsPath + "?v=4.0", nil, map[string]string{"Content-Type": "", "If-Match": ""}, 200},
		{"unknown endpoint", "GET", "/api/account/" + testAccount + "/nothing?v=4.0", nil, nil, 404},
	}
	for _, tt := range tests {
		h := e.rev()
		for k, v := range tt.header {
			h[k] = v
		}
		r := e.do(req{method: tt.method, path: tt.path, body: tt.body, header: h})
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
		}
	}
	if got := e.sim.Skills(true); got[0]["name"] != "a-renamed" || got[1]["deleted"] != true {
		t.Errorf("tunnelled writes not applied: %v", got)
	}
}

func TestUpdateSkills(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(
		map[string]any{"name": "a", "description": "A", "skillOrder": 3, "pid": "keep?"},
		map[string]any{"name": "b"},
		map[string]any{"name": "c"},
		map[string]any{"name": "gone", "deleted": true},
	)
	// PUT one replaces the object: pid is gone, id and deleted stay.
	r := e.do(req{method: "PUT", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0", body: map[string]any{"name": "a", "description": "A2", "extra": true}, header: e.rev()})
	e.mustStatus(r, 200)
	got := r.obj(t)
	if got["description"] != "A2" || got["extra"] != true || num(got["id"]) != ids[0] || got["deleted"] != false {
		t.Errorf("PUT one: %v", got)
	}
	if _, ok := got["pid"]; ok {
		t.Errorf("PUT did not remove a field missing from the body: %v", got)
	}
	if _, ok := got["skillOrder"]; ok {
		t.Errorf("PUT kept skillOrder: %v", got)
	}

	tests := []struct {
		name    string
		body    any
		want    int
		wantMsg string
	}{
		{"swap names", []any{map[string]any{"id": ids[1], "name": "c"}, map[string]any{"id": idStr(ids[2]), "name": "b"}}, 200, ""},
		{"rename to taken", []any{map[string]any{"id": ids[1], "name": "x"}, map[string]any{"id": ids[2], "name": "A"}}, 400, "item 1"},
		{"rename to deleted name", []any{map[string]any{"id": ids[1], "name": "GONE"}}, 400, "already used"},
		{"missing id", []any{map[string]any{"name": "q"}}, 400, "id is required"},
		{"unknown id", []any{map[string]any{"id": ids[1], "name": "q"}, map[string]any{"id": 1, "name": "r"}}, 404, "item 1"},
		{"deleted skill", []any{map[string]any{"id": ids[3], "name": "gone"}}, 404, "item 0"},
		{"duplicate id", []any{map[string]any{"id": ids[1], "name": "q"}, map[string]any{"id": ids[1], "name": "r"}}, 400, "item 1"},
		{"missing name", []any{map[string]any{"id": ids[1], "name": "q"}, map[string]any{"id": ids[2]}}, 400, "name is required"},
	}
	for _, tt := range tests {
		before := e.sim.Skills(true)
		rev := e.sim.Revision()
		r := e.do(req{method: "PUT", path: skillsPath + "?v=4.0", body: tt.body, header: e.rev()})
		if r.status != tt.want || !strings.Contains(string(r.body), tt.wantMsg) {
			t.Errorf("%s: status %d body %s, want %d containing %q", tt.name, r.status, r.body, tt.want, tt.wantMsg)
		}
		if tt.want == 200 {
			if e.sim.Revision() != rev+1 {
				t.Errorf("%s: revision not bumped once", tt.name)
			}
			continue
		}
		if e.sim.Revision() != rev || len(e.sim.Skills(true)) != len(before) || e.sim.Skills(true)[1]["name"] != before[1]["name"] {
			t.Errorf("%s: refused batch changed state", tt.name)
		}
	}
	if s := e.sim.Skills(false); s[1]["name"] != "c" || s[2]["name"] != "b" {
		t.Errorf("swap not applied: %v", s)
	}
	// Body id must agree with the path id.
	e.mustStatus(e.do(req{method: "PUT", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0", body: map[string]any{"id": ids[1], "name": "a"}, header: e.rev()}), 400)
}

func TestDeleteSkills(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(map[string]any{"name": "a"}, map[string]any{"name": "b"}, map[string]any{"name": "c"})
	tests := []struct {
		name string
		body any
		want int
	}{
		{"numbers not strings", []any{ids[0]}, 400},
		{"not a number", []any{"abc"}, 400},
		{"unknown id", []any{idStr(ids[0]), "1"}, 404},
		{"empty", []any{}, 400},
		{"ok", []any{idStr(ids[0]), idStr(ids[1])}, 200},
		{"already deleted", []any{idStr(ids[0])}, 404},
	}
	for _, tt := range tests {
		rev := e.sim.Revision()
		r := e.do(req{method: "DELETE", path: skillsPath + "?v=4.0", body: tt.body, header: e.rev()})
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
		}
		if (tt.want == 200) != (e.sim.Revision() == rev+1) {
			t.Errorf("%s: revision %d after %d", tt.name, e.sim.Revision(), rev)
		}
	}
	// Soft delete: hidden from the default list, shown with include_deleted.
	if n := len(e.do(req{method: "GET", path: skillsPath + "?v=4.0"}).list(t)); n != 1 {
		t.Errorf("default list has %d skills, want 1", n)
	}
	all := e.do(req{method: "GET", path: skillsPath + "?v=4.0&include_deleted=true&select=$all"}).list(t)
	if len(all) != 3 || all[0]["deleted"] != true || all[0]["name"] != "a" {
		t.Errorf("include_deleted list: %v", all)
	}
	// Delete one by path.
	r := e.do(req{method: "DELETE", path: skillsPath + "/" + idStr(ids[2]) + "?v=4.0", header: e.rev()})
	e.mustStatus(r, 200)
	if r.obj(t)["deleted"] != true {
		t.Errorf("delete one response %s", r.body)
	}
	e.mustStatus(e.do(req{method: "GET", path: skillsPath + "/" + idStr(ids[2]) + "?v=4.0"}), 200)
}

func TestSkillDependencies(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(
		map[string]any{"name": "held-by-user"},
		map[string]any{"name": "held-by-transfer"},
		map[string]any{"name": "held-by-fallback"},
		map[string]any{"name": "holder", "skillTransferList": []any{"0"}, "fallbackSkill": 0},
		map[string]any{"name": "free"},
	)
	e.sim.EditSkill(ids[3], func(m map[string]any) {
		m["skillTransferList"] = []any{ids[1]}
		m["fallbackSkill"] = ids[2]
	})
	users := e.sim.SeedUsers(
		map[string]any{"loginName": "u1", "skillIds": []any{ids[0]}},
		map[string]any{"loginName": "u2", "skillIds": []any{ids[4]}, "deleted": true},
	)
	tests := []struct {
		name     string
		ids      []int64
		wantHeld []string // substrings in the body
	}{
		{"user", []int64{ids[0]}, []string{`"type":"skill-dependencies"`, `"type":"user"`, idStr(users[0])}},
		{"transfer list", []int64{ids[1]}, []string{`"field":"skillTransferList"`, idStr(ids[3])}},
		{"fallback", []int64{ids[2], ids[4]}, []string{`"field":"fallbackSkill"`}},
	}
	for _, tt := range tests {
		body := []any{}
		for _, id := range tt.ids {
			body = append(body, idStr(id))
		}
		rev := e.sim.Revision()
		r := e.do(req{method: "DELETE", path: skillsPath + "?v=4.0", body: body, header: e.rev()})
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400", tt.name, r.status)
		}
		for _, s := range tt.wantHeld {
			if !strings.Contains(string(r.body), s) {
				t.Errorf("%s: body %s lacks %s", tt.name, r.body, s)
			}
		}
		if e.sim.Revision() != rev || len(e.sim.Skills(false)) != 5 {
			t.Errorf("%s: refused delete changed state", tt.name)
		}
	}
	// A skill held only by a deleted user can go; so can a holder and what
	// it holds when both are in the batch.
	e.mustStatus(e.do(req{method: "DELETE", path: skillsPath + "?v=4.0", body: []any{idStr(ids[4])}, header: e.rev()}), 200)
	e.mustStatus(e.do(req{method: "DELETE", path: skillsPath + "?v=4.0", body: []any{idStr(ids[1]), idStr(ids[2]), idStr(ids[3])}, header: e.rev()}), 200)
	// Delete-one by path is refused the same way.
	r := e.do(req{method: "DELETE", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0", header: e.rev()})
	if r.status != 400 || !strings.Contains(string(r.body), "skill-dependencies") {
		t.Errorf("delete one held skill: %d %s", r.status, r.body)
	}
}

func TestSkillRoundTripUnknownFields(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(map[string]any{"name": "a", "big": 9007199254740993, "nested": map[string]any{"k": []any{true, nil, 1.5}}})
	r := e.do(req{method: "GET", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0"})
	obj := r.obj(t)
	if !strings.Contains(string(r.body), "9007199254740993") {
		t.Fatalf("large number not kept exactly: %s", r.body)
	}
	e.mustStatus(e.do(req{method: "PUT", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0", body: obj, header: e.rev()}), 200)
	r2 := e.do(req{method: "GET", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0"})
	if !strings.Contains(string(r2.body), `"nested":{"k":[true,null,1.5]}`) || !strings.Contains(string(r2.body), "9007199254740993") {
		t.Errorf("round trip lost fields: %s", r2.body)
	}
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name string
		auth string
		path string
		want int
	}{
		{"none", "", skillsPath, 401},
		{"unknown bearer", "Bearer nope", skillsPath, 401},
		{"basic", "Basic Ym90OnB3", usersPath, 401},
		{"bad oauth", `OAuth oauth_consumer_key="app-key"`, skillsPath, 401},
		{"other account", "Bearer " + e.token, "/api/account/1/configuration/le-users/skills", 403},
		{"ok", "Bearer " + e.token, skillsPath, 200},
	}
	for _, tt := range tests {
		r := e.do(req{method: "GET", path: tt.path + "?v=4.0", noAuth: true, header: map[string]string{"Authorization": tt.auth}})
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, r.status, tt.want)
		}
	}
	if got := e.sim.Count(http.MethodGet, skillsPath); got != 4 {
		t.Errorf("Count = %d, want 4", got)
	}
}

func TestInspectionTypes(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	ids := sim.SeedSkills(map[string]any{"name": "a", "maxWaitTime": 5})
	uids := sim.SeedUsers(map[string]any{"loginName": "u", "skillIds": []any{ids[0]}})
	s := sim.Skills(false)[0]
	if s["id"] != ids[0] || s["maxWaitTime"] != json.Number("5") {
		t.Errorf("Skills()[0] = %#v", s)
	}
	if u := sim.Users()[0]; u["id"] != uids[0] {
		t.Errorf("Users()[0] = %#v", u)
	}
	// Copies: editing one changes nothing stored.
	s["name"] = "changed"
	if sim.Skills(false)[0]["name"] != "a" {
		t.Errorf("Skills returned stored map")
	}
}
