package lpsim

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func seedLarge(e *env, skills, users int) []int64 {
	ss := make([]map[string]any, skills)
	for i := range ss {
		ss[i] = map[string]any{"name": fmt.Sprintf("skill-%05d", i), "description": "HR queue " + fmt.Sprint(i),
			"maxWaitTime": 120, "canTransfer": true, "skillTransferList": nil, "lobIds": []any{1, 2}}
	}
	ids := e.sim.SeedSkills(ss...)
	us := make([]map[string]any, users)
	for i := range us {
		us[i] = map[string]any{"loginName": fmt.Sprintf("agent%05d", i), "email": fmt.Sprintf("agent%05d@example.com", i),
			"fullName": "Agent", "profileIds": []any{3}, "skillIds": []any{ids[i%len(ids)], ids[(i*7)%len(ids)]},
			"maxChats": 4, "memberOf": map[string]any{"agentGroupId": -1, "assignmentDate": "2020-01-01 00:00:00"}}
	}
	e.sim.SeedUsers(us...)
	return ids
}

func (e *env) fetch(b *testing.B, path string) int64 {
	r, _ := http.NewRequest("GET", e.srv.URL()+path, nil)
	r.Header.Set("Authorization", "Bearer "+e.token)
	res, err := e.c.Do(r)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	n, _ := io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 {
		b.Fatalf("status %d", res.StatusCode)
	}
	return n
}

// BenchmarkListUsers20k lists 20,000 users over TLS.
func BenchmarkListUsers20k(b *testing.B) {
	e := setup(b)
	seedLarge(e, 2000, 20000)
	b.ResetTimer()
	var n int64
	for b.Loop() {
		n = e.fetch(b, usersPath+"?v=4.0")
	}
	b.ReportMetric(float64(n), "bytes/list")
}

// BenchmarkListSkills2k lists 2,000 skills with select=$all and with the
// default selector (a projection per skill).
func BenchmarkListSkills2k(b *testing.B) {
	e := setup(b)
	seedLarge(e, 2000, 0)
	for _, q := range []struct{ name, query string }{{"all", "select=$all"}, {"default", ""}} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				e.fetch(b, skillsPath+"?v=4.0&include_deleted=true&"+q.query)
			}
		})
	}
}

// BenchmarkCreate1000 creates 1,000 skills in batches of 50 (20 POSTs)
// against 20,000 existing users, and deletes them again in batches (the
// dependency check scans all users once per batch).
func BenchmarkCreateDelete1000(b *testing.B) {
	e := setup(b)
	seedLarge(e, 2000, 20000)
	round := 0
	for b.Loop() {
		round++
		var created []string
		for batch := range 20 {
			var sb strings.Builder
			sb.WriteByte('[')
			for i := range 50 {
				if i > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, `{"name":"bench-%d-%d-%d","description":"x"}`, round, batch, i)
			}
			sb.WriteByte(']')
			r := e.do(req{method: "POST", path: skillsPath + "?v=4.0", body: sb.String(), header: e.rev()})
			if r.status != 201 {
				b.Fatalf("create: %d %s", r.status, r.body)
			}
			for _, s := range r.list(b) {
				created = append(created, idStr(num(s["id"])))
			}
		}
		for i := 0; i < len(created); i += 50 {
			r := e.do(req{method: "DELETE", path: skillsPath + "?v=4.0", body: created[i : i+50], header: e.rev()})
			if r.status != 200 {
				b.Fatalf("delete: %d %s", r.status, r.body)
			}
		}
	}
	if n := e.sim.Count("POST", skillsPath); n != 20*round {
		b.Fatalf("%d POSTs for %d rounds", n, round)
	}
}
