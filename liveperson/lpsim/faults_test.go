package lpsim

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// raw sends a request and returns the response or transport error, for
// faults where the client gets no response.
func (e *env) raw(method, path, body string, hdr map[string]string) (*http.Response, error) {
	r, err := http.NewRequest(method, e.srv.URL()+path, bytes.NewReader([]byte(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+e.token)
	r.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	res, err := e.c.Do(r)
	if err == nil {
		res.Body.Close()
	}
	return res, err
}

func TestFaultStatus(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.InjectFault(Fault{Method: "GET", PathPrefix: skillsPath, Status: 503, RetryAfter: "7", Times: 2})
	e.sim.InjectFault(Fault{PathPrefix: usersPath, Status: 429})
	var got []int
	for range 3 {
		r := e.do(req{method: "GET", path: skillsPath + "?v=4.0"})
		got = append(got, r.status)
		if r.status == 503 && r.header.Get("Retry-After") != "7" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	if got[0] != 503 || got[1] != 503 || got[2] != 200 {
		t.Errorf("statuses %v, want 503 503 200", got)
	}
	// The POST did not match the GET fault.
	e.mustStatus(e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "a"}}}), 201)
	e.mustStatus(e.do(req{method: "GET", path: usersPath + "?v=4.0"}), 429)
	e.mustStatus(e.do(req{method: "GET", path: usersPath + "?v=4.0"}), 200)

	log := e.sim.Requests()
	var statuses []int
	for _, r := range log {
		statuses = append(statuses, r.Status)
	}
	want := []int{503, 503, 200, 201, 429, 200}
	if len(statuses) != len(want) {
		t.Fatalf("log statuses %v, want %v", statuses, want)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("log statuses %v, want %v", statuses, want)
		}
	}
	if log[0].Query != "v=4.0" || log[0].Path != skillsPath || log[0].Time.IsZero() {
		t.Errorf("log entry %+v", log[0])
	}
	if n := e.sim.Count("GET", "/api/account/"); n != 5 {
		t.Errorf("Count GET = %d, want 5", n)
	}
	if n := e.sim.Count("", skillsPath); n != 4 {
		t.Errorf("Count any skills = %d, want 4", n)
	}
	e.sim.ResetLog()
	if len(e.sim.Requests()) != 0 {
		t.Errorf("log not reset")
	}
}

func TestFaultDrop(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.InjectFault(Fault{Method: "POST", PathPrefix: skillsPath, Drop: true})
	rev := e.sim.Revision()
	_, err := e.raw("POST", skillsPath+"?v=4.0", `[{"name":"a"}]`, nil)
	if err == nil {
		t.Fatal("dropped request got a response")
	}
	if e.sim.Revision() != rev || len(e.sim.Skills(true)) != 0 {
		t.Errorf("dropped write was applied")
	}
	if log := e.sim.Requests(); len(log) != 1 || !log[0].Dropped || log[0].Status != 0 {
		t.Errorf("log %+v", log)
	}
	e.mustStatus(e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "a"}}}), 201)
}

func TestFaultLoseResponse(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.InjectFault(Fault{Method: "POST", PathPrefix: skillsPath, LoseResponse: true})
	rev := e.sim.Revision()
	_, err := e.raw("POST", skillsPath+"?v=4.0", `[{"name":"a"}]`, nil)
	if err == nil {
		t.Fatal("lost response arrived")
	}
	if e.sim.Revision() != rev+1 || len(e.sim.Skills(false)) != 1 {
		t.Errorf("write behind the lost response was not applied")
	}
	if log := e.sim.Requests(); len(log) != 1 || !log[0].Dropped || log[0].Status != 201 {
		t.Errorf("log %+v", log)
	}
	// Repeating the POST blindly now fails: the name exists.
	e.mustStatus(e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "a"}}}), 400)
}

func TestFaultConcurrentEditAndExpireToken(t *testing.T) {
	t.Parallel()
	e := setup(t, func(o *Options) { o.ConflictStatus = 412 })
	ids := e.sim.SeedSkills(map[string]any{"name": "a"})
	path := skillsPath + "/" + idStr(ids[0]) + "?v=4.0"
	e.sim.InjectFault(Fault{Method: "PUT", PathPrefix: skillsPath, ConcurrentEdit: true})
	rev := e.sim.Revision()
	e.mustStatus(e.do(req{method: "PUT", path: path, body: map[string]any{"name": "b"}, header: e.rev()}), 412)
	if e.sim.Revision() != rev+1 {
		t.Errorf("revision %d, want %d", e.sim.Revision(), rev+1)
	}
	e.mustStatus(e.do(req{method: "PUT", path: path, body: map[string]any{"name": "b"}, header: e.rev()}), 200)

	e.sim.InjectFault(Fault{Method: "GET", ExpireToken: true})
	e.mustStatus(e.do(req{method: "GET", path: path}), 401)
	e.mustStatus(e.do(req{method: "GET", path: path}), 401) // the token stays expired
	e.token = e.sentinelToken()
	e.mustStatus(e.do(req{method: "GET", path: path}), 200)
}

func TestLatency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL()+skillsPath+"?v=4.0", nil)
	r.Header.Set("Authorization", "Bearer "+e.token)
	_, err := e.c.Do(r)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	e.sim.SetLatency(0)
	e.mustStatus(e.do(req{method: "GET", path: skillsPath + "?v=4.0"}), 200)
}

func TestRequestLogIfMatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(map[string]any{"name": "a"})
	rev := strconv.FormatInt(e.sim.Revision(), 10)
	e.mustStatus(e.do(req{method: "DELETE", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0", header: map[string]string{"If-Match": rev}}), 200)
	if log := e.sim.Requests(); len(log) != 1 || log[0].IfMatch != rev || log[0].Method != "DELETE" {
		t.Errorf("log %+v", log)
	}
}

// TestConcurrentWriters checks the revision and If-Match under parallel
// writers: exactly one of the writers holding the same revision wins,
// except for creates, which ignore If-Match unless told to check it.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		enforce  bool
		wantWins int
	}{
		{"PUT", "PUT", false, 1},
		{"POST checked", "POST", true, 1},
		{"POST as documented", "POST", false, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(o *Options) { o.EnforceIfMatchOnCreate = tt.enforce })
			ids := e.sim.SeedSkills(map[string]any{"name": "a"})
			hdr := e.rev()
			path := skillsPath + "?v=4.0"
			if tt.method == "PUT" {
				path = skillsPath + "/" + idStr(ids[0]) + "?v=4.0"
				hdr["X-HTTP-Method-Override"] = "PUT"
			}
			const n = 8
			results := make(chan int, n)
			for i := range n {
				body := `[{"name":"s` + strconv.Itoa(i) + `"}]`
				if tt.method == "PUT" {
					body = `{"name":"a","description":"writer ` + strconv.Itoa(i) + `"}`
				}
				go func() {
					res, err := e.raw(tt.method, path, body, hdr)
					if err != nil {
						results <- 0
						return
					}
					results <- res.StatusCode
				}()
			}
			wins := 0
			for range n {
				switch s := <-results; s {
				case 200, 201:
					wins++
				case 409:
				default:
					t.Errorf("status %d", s)
				}
			}
			if wins != tt.wantWins {
				t.Errorf("%d writers won with the same revision, want %d", wins, tt.wantWins)
			}
		})
	}
}

func TestClearFaultsAndEditUser(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sim.InjectFault(Fault{Status: 500, Times: 5})
	e.sim.ClearFaults()
	e.mustStatus(e.do(req{method: "GET", path: usersPath + "?v=4.0"}), 200)

	// Seeds with explicit ids keep them, in any order; lists stay sorted.
	ids := e.sim.SeedUsers(map[string]any{"id": 50, "loginName": "b"}, map[string]any{"id": "7", "loginName": "a"}, map[string]any{"id": 50, "loginName": "c"})
	if ids[0] != 50 || ids[1] != 7 || ids[2] == 50 {
		t.Fatalf("ids %v", ids)
	}
	rev := e.sim.Revision()
	e.sim.EditUser(7, func(m map[string]any) { m["email"] = "a@x" })
	if e.sim.Revision() != rev+1 {
		t.Errorf("EditUser did not bump the revision")
	}
	list := e.do(req{method: "GET", path: usersPath + "?v=4.0"}).list(t)
	if num(list[0]["id"]) != 7 || list[0]["email"] != "a@x" || num(list[1]["id"]) != 50 {
		t.Errorf("users %v", list)
	}
}

// TestRequestLogIDs checks that each successful write logs the ids it
// stored, batch or single, and that refused writes and reads log none.
func TestRequestLogIDs(t *testing.T) {
	t.Parallel()
	e := setup(t)
	seeded := e.sim.SeedSkills(map[string]any{"name": "a"}, map[string]any{"name": "b"}, map[string]any{"name": "c"})
	users := e.sim.SeedUsers(map[string]any{"loginName": "ann", "email": "ann@x", "profileIds": []any{3}})
	user := map[string]any{"id": users[0], "loginName": "ann", "email": "ann@x", "profileIds": []any{3}, "skillIds": []any{seeded[0]}}
	tests := []struct {
		name   string
		req    req
		status int
		ids    []int64
	}{
		{"batch create", req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "d"}, map[string]any{"name": "e"}}},
			201, []int64{seeded[2] + 1, seeded[2] + 2}},
		{"batch update", req{method: "PUT", path: skillsPath + "?v=4.0",
			body: []any{map[string]any{"id": seeded[1], "name": "b2"}, map[string]any{"id": seeded[0], "name": "a2"}}}, 200, []int64{seeded[1], seeded[0]}},
		{"single update", req{method: "PUT", path: skillsPath + "/" + idStr(seeded[2]) + "?v=4.0", body: map[string]any{"name": "c2"}}, 200, []int64{seeded[2]}},
		{"batch delete", req{method: "DELETE", path: skillsPath + "?v=4.0", body: []string{idStr(seeded[2]), idStr(seeded[1])}}, 200, []int64{seeded[2], seeded[1]}},
		{"users update", req{method: "PUT", path: usersPath + "?v=4.0", body: []any{user}}, 200, users},
		{"refused update", req{method: "PUT", path: skillsPath + "?v=4.0", body: []any{map[string]any{"id": 999, "name": "x"}}}, 404, nil},
		{"read", req{method: "GET", path: skillsPath + "?v=4.0"}, 200, nil},
	}
	for _, tt := range tests {
		e.sim.ResetLog()
		if tt.req.method != "GET" {
			tt.req.header = e.rev()
		}
		e.mustStatus(e.do(tt.req), tt.status)
		log := e.sim.Requests()
		if len(log) != 1 || !slices.Equal(log[0].IDs, tt.ids) {
			t.Errorf("%s: log %+v, want ids %v", tt.name, log, tt.ids)
		}
	}
}

// TestFaultPartialApply: a batch applied in part, then an error. Each write
// kind applies exactly its first k items, bumps the revision once, and
// answers the fault's status; the log names what was written.
func TestFaultPartialApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		status int // fault status; 0: the default
		want   int
		// body builds the request from the seeded skill ids.
		body func(ids []int64) string
		// check inspects the simulator; written are the ids the log names.
		check func(t *testing.T, s *Sim, ids, written []int64)
	}{
		{"create, default 500", "POST", 0, 500,
			func([]int64) string { return `[{"name":"n1"},{"name":"n2"},{"name":"n3"}]` },
			func(t *testing.T, s *Sim, ids, written []int64) {
				var names []string
				for _, sk := range s.Skills(true) {
					names = append(names, sk["name"].(string))
				}
				if !slices.Equal(names, []string{"a", "b", "c", "n1", "n2"}) || len(written) != 2 {
					t.Errorf("skills %v, written %v: want n1 and n2 created, n3 not", names, written)
				}
			}},
		{"create, 400", "POST", 400, 400,
			func([]int64) string { return `[{"name":"n1"},{"name":"n2"},{"name":"n3"}]` },
			func(t *testing.T, s *Sim, ids, written []int64) {
				if n := len(s.Skills(true)); n != 5 {
					t.Errorf("%d skills, want 5", n)
				}
			}},
		{"update", "PUT", 503, 503,
			func(ids []int64) string {
				return `[{"id":` + idStr(ids[0]) + `,"name":"a2"},{"id":` + idStr(ids[1]) + `,"name":"b2"},{"id":` + idStr(ids[2]) + `,"name":"c2"}]`
			},
			func(t *testing.T, s *Sim, ids, written []int64) {
				sk := s.Skills(true)
				if sk[0]["name"] != "a2" || sk[1]["name"] != "b2" || sk[2]["name"] != "c" || !slices.Equal(written, ids[:2]) {
					t.Errorf("skills %v, written %v", sk, written)
				}
			}},
		{"delete", "DELETE", 0, 500,
			func(ids []int64) string {
				return `["` + idStr(ids[0]) + `","` + idStr(ids[1]) + `","` + idStr(ids[2]) + `"]`
			},
			func(t *testing.T, s *Sim, ids, written []int64) {
				if n := len(s.Skills(false)); n != 1 || !slices.Equal(written, ids[:2]) {
					t.Errorf("%d live skills, written %v; want 1 and the first two", n, written)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			ids := e.sim.SeedSkills(map[string]any{"name": "a"}, map[string]any{"name": "b"}, map[string]any{"name": "c"})
			e.sim.InjectFault(Fault{Method: tt.method, PathPrefix: skillsPath, PartialApply: 2, Status: tt.status})
			before := e.sim.Revision()
			hdr := e.rev()
			if tt.method != "POST" {
				hdr["X-HTTP-Method-Override"] = tt.method
			}
			res, err := e.raw(tt.method, skillsPath+"?v=4.0", tt.body(ids), hdr)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.want || res.Header.Get("ac-revision") != "" {
				t.Errorf("status %d ac-revision %q, want %d and none", res.StatusCode, res.Header.Get("ac-revision"), tt.want)
			}
			if e.sim.Revision() != before+1 {
				t.Errorf("revision %d, want %d: the part applied is a change", e.sim.Revision(), before+1)
			}
			log := e.sim.Requests()
			if len(log) != 1 || log[0].Status != tt.want || log[0].Dropped {
				t.Fatalf("log %+v", log)
			}
			tt.check(t, e.sim, ids, log[0].IDs)
		})
	}
	t.Run("refused part applies nothing", func(t *testing.T) {
		t.Parallel()
		e := setup(t, func(o *Options) { o.EnforceIfMatchOnCreate = true })
		e.sim.SeedSkills(map[string]any{"name": "a"})
		e.sim.InjectFault(Fault{Method: "POST", PathPrefix: skillsPath, PartialApply: 1})
		before := e.sim.Revision()
		res, err := e.raw("POST", skillsPath+"?v=4.0", `[{"name":"n1"},{"name":"n2"}]`, map[string]string{"If-Match": "1"})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 500 || e.sim.Revision() != before || len(e.sim.Skills(true)) != 1 {
			t.Errorf("status %d, revision %d (was %d), %d skills", res.StatusCode, e.sim.Revision(), before, len(e.sim.Skills(true)))
		}
	})
}

// TestFaultLag: a lagging list read answers as the account stood before
// the latest changes, with that moment's revision; single reads and later
// list reads see the current account.
func TestFaultLag(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.sim.SeedSkills(map[string]any{"name": "a", "description": "one"})
	users := e.sim.SeedUsers(map[string]any{"loginName": "u", "email": "u@x", "profileIds": []any{1}, "nickname": "before"})
	before := e.sim.Revision()
	e.mustStatus(e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: []any{map[string]any{"name": "b"}}}), 201)
	e.mustStatus(e.do(req{method: "PUT", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0", body: map[string]any{"name": "a", "description": "two"}, header: e.rev()}), 200)
	e.sim.EditUser(users[0], func(m map[string]any) { m["nickname"] = "after" })
	now := e.sim.Revision()

	names := func(r resp) map[string]any {
		out := map[string]any{}
		for _, s := range r.list(t) {
			out[s["name"].(string)] = s["description"]
		}
		return out
	}
	// Two changes ago: the create happened, the update did not.
	e.sim.InjectFault(Fault{Method: "GET", PathPrefix: skillsPath, Lag: 2})
	e.sim.InjectFault(Fault{Method: "GET", PathPrefix: usersPath, Lag: 1})
	// The lag faults skip requests that are not list reads.
	e.mustStatus(e.do(req{method: "GET", path: skillsPath + "/" + idStr(ids[0]) + "?v=4.0"}), 200)
	r := e.do(req{method: "GET", path: skillsPath + "?v=4.0&select=$all"})
	e.mustStatus(r, 200)
	if got := names(r); len(got) != 2 || got["a"] != "one" || got["b"] != nil {
		t.Errorf("lagging read 2 changes back: %v, want a (one) and b", got)
	}
	if got := r.header.Get("ac-revision"); got != idStr(before+1) {
		t.Errorf("lagging read: revision %s, want %d (now %d)", got, before+1, now)
	}
	u := e.do(req{method: "GET", path: usersPath + "?v=4.0"})
	if l := u.list(t); len(l) != 1 || l[0]["nickname"] != "before" || u.header.Get("ac-revision") != idStr(now-1) {
		t.Errorf("lagging users read: %v at %s", l, u.header.Get("ac-revision"))
	}
	r = e.do(req{method: "GET", path: skillsPath + "?v=4.0&select=$all"})
	if got := names(r); got["a"] != "two" || r.header.Get("ac-revision") != idStr(now) {
		t.Errorf("read after the fault: %v at %s", got, r.header.Get("ac-revision"))
	}

	// Lagging past the first change: skills created since are absent.
	e.sim.InjectFault(Fault{Method: "GET", PathPrefix: skillsPath, Lag: 100})
	if got := names(e.do(req{method: "GET", path: skillsPath + "?v=4.0"})); len(got) != 0 {
		t.Errorf("lagging read past every change: %v, want none", got)
	}
	// A conditional read answers 304 against the lagging revision.
	e.sim.InjectFault(Fault{Method: "GET", PathPrefix: skillsPath, Lag: 1})
	e.mustStatus(e.do(req{method: "GET", path: skillsPath + "?v=4.0", header: map[string]string{"If-Match": idStr(now - 1)}}), 304)

	var labels []string
	for _, l := range e.sim.Requests() {
		labels = append(labels, l.Fault)
	}
	want := []string{"", "", "", "lag 2", "lag 1", "", "lag 100", "lag 1"}
	if !slices.Equal(labels, want) {
		t.Errorf("fault labels %q, want %q", labels, want)
	}
}

func TestFaultLabel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    Fault
		want string
	}{
		{Fault{Status: 503}, "status 503"},
		{Fault{Status: 429, RetryAfter: "1"}, "status 429"},
		{Fault{Drop: true}, "drop"},
		{Fault{LoseResponse: true}, "lose-response"},
		{Fault{ConcurrentEdit: true}, "concurrent-edit"},
		{Fault{ExpireToken: true, Status: 500}, "expire-token+status 500"},
		{Fault{PartialApply: 2, Status: 502}, "partial-apply 2"},
		{Fault{Lag: 2}, "lag 2"},
	} {
		if got := c.f.Label(); got != c.want {
			t.Errorf("%+v: label %q, want %q", c.f, got, c.want)
		}
	}
}
