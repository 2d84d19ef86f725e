package sync

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/skillsync/skillsync/liveperson"
)

// fullUsersJSON is a Users API list of n users with every field the API
// returns (fullName and employeeId masked), user i matching the record
// whose Email column is i*5+1@example.com, and holding skill heldSkill(i).
func fullUsersJSON(n int, heldSkill func(i int) int64) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"deleted":false,"loginName":"agent%d","fullName":"","nickname":"Agent %d","passwordSh":"",`+
			`"isEnabled":true,"maxChats":4,"email":"%d@example.com","pictureUrl":"https://cdn.example.com/a/%d.png",`+
			`"disabledManually":false,"skillIds":[%d],"profiles":[{"id":3,"name":"Agent","roleTypeId":1}],"profileIds":[3],`+
			`"lobIds":[1,2],"changePwdNextLogin":false,"memberOf":{"agentGroupId":-1,"assignmentDate":"2024-03-01 09:00:00"},`+
			`"managerOf":[],"permissionGroups":[],"description":"Customer care agent","mobileNumber":"+1-555-%07d",`+
			`"employeeId":"","maxAsyncChats":10,"backgndImgUri":"","pnCertName":"","dateUpdated":"2025-11-02 10:11:12",`+
			`"lastPwdChangeDate":"2025-10-01 08:00:00","isApiUser":false,"userTypeId":1,"dateCreated":"2023-01-15 12:00:00","allowedAppKeys":""}`,
			i+1, i+1, i+1, i*5+1, i+1, heldSkill(i), i+1)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkAssignmentsFullUsers is BenchmarkAssignments20kUsers with users
// as the Users API returns them (every field, fullName and employeeId
// masked) and records that give both, as in the scale benchmark: every
// user changes skills and is filled from HR.
func BenchmarkAssignmentsFullUsers(b *testing.B) {
	rules, snap, current, registry := bigWorld(b)
	for i := range snap.Records {
		r := &snap.Records[i]
		r.Email = r.Values[4]
		r.Name, r.EmployeeID = "Person "+r.ID, "E"+r.ID
	}
	ds, err := rules.Desired(snap)
	if err != nil {
		b.Fatal(err)
	}
	p := BuildPlan(PlanInput{Desired: ds.Skills, Current: current, Registry: registry, Policy: PolicySync, DeleteAfterRuns: 2, RunID: 1})
	var users []liveperson.User
	if err := json.Unmarshal(fullUsersJSON(20_000, func(i int) int64 { return 10_000 }), &users); err != nil {
		b.Fatal(err)
	}
	in := AssignInput{Records: snap.Records, Users: users, Match: "email", MaxChangesPercent: 100}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		a := PlanAssignments(p, ds.Skills, registry, current, in)
		if a.Matched != 20_000 || len(a.Users) == 0 || a.Skipped != 0 {
			b.Fatalf("matched %d, %d changes, %d skipped", a.Matched, len(a.Users), a.Skipped)
		}
	}
}
